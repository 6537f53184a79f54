/**
 * 7. Idle cost, part two: CPU time the daemon uses while nothing happens,
 * read from /proc, and how often its threads wake up (polling shows there).
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestPki } from "../../src/testing/index.js";
import { assertBuilt, bindNotifySocket, orExit, spawnDaemon, stopProcess } from "./lib/daemon.js";
import { configAgents, configYaml, createConfigDir } from "./lib/fixture.js";
import { sleep } from "./lib/stats.js";
/** "Indistinguishable from zero": at most 2 scheduler ticks' worth of CPU in the window. */
const CPU_TARGET_S = 0.02;
/** No polling: fewer wake-ups than one per second. */
const WAKEUP_TARGET_PER_S = 1;
function clockTicks() {
    try {
        return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    }
    catch {
        return 100;
    }
}
async function usage(pid, ticksPerSecond) {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name "(…)": utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    let runNs = 0;
    let switches = 0;
    const tids = await readdir(`/proc/${pid}/task`);
    for (const tid of tids) {
        const schedstat = await readFile(`/proc/${pid}/task/${tid}/schedstat`, "utf8").catch(() => "0");
        runNs += Number(schedstat.split(" ")[0]);
        const status = await readFile(`/proc/${pid}/task/${tid}/status`, "utf8").catch(() => "");
        for (const m of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)$/gm))
            switches += Number(m[1]);
    }
    return {
        ticksSeconds: ticks / ticksPerSecond,
        runSeconds: runNs / 1e9,
        switches,
        threads: tids.length,
    };
}
export async function run(options) {
    assertBuilt();
    const windowS = options.quick ? 2 : 30;
    const settleMs = options.quick ? 500 : 5_000;
    const ticksPerSecond = clockTicks();
    const pki = await createTestPki();
    const dir = await createConfigDir(pki);
    const sockets = await mkdtemp(join(tmpdir(), "agentpool-bench-notify-"));
    await writeFile(dir.configPath, configYaml(configAgents(3)));
    const notify = bindNotifySocket(join(sockets, "idle.sock"));
    const child = spawnDaemon(dir.configPath, notify.path);
    let before;
    let after;
    try {
        await orExit(child, notify.ready());
        // Start-up work (JIT, lazy compilation, the first GC) settles first.
        await sleep(settleMs);
        const pid = child.pid;
        before = await usage(pid, ticksPerSecond);
        await sleep(windowS * 1000);
        after = await usage(pid, ticksPerSecond);
        if (child.exitCode !== null)
            throw new Error("the daemon exited during the idle window");
    }
    finally {
        await stopProcess(child);
        notify.close();
        await dir.cleanup();
        await rm(sockets, { recursive: true, force: true });
    }
    const cpu = after.runSeconds - before.runSeconds;
    const ticks = after.ticksSeconds - before.ticksSeconds;
    const wakeups = after.switches - before.switches;
    const figures = [
        {
            id: "idle.cpu",
            label: `daemon CPU time over ${windowS} s idle`,
            value: cpu,
            unit: "CPU s",
            display: `${cpu.toFixed(4)} CPU s (${((cpu / windowS) * 100).toFixed(3)} % of one core)`,
            detail: `utime+stime from /proc/<pid>/stat: ${ticks.toFixed(2)} s (1/${ticksPerSecond} s ticks); ${after.threads} threads`,
            target: `≤ ${CPU_TARGET_S} CPU s (indistinguishable from zero)`,
            pass: cpu <= CPU_TARGET_S,
            data: { before, after, windowS },
        },
        {
            id: "idle.wakeups",
            label: `daemon thread wake-ups over ${windowS} s idle`,
            value: wakeups,
            unit: "context switches",
            display: `${wakeups} (${(wakeups / windowS).toFixed(2)}/s)`,
            detail: "voluntary + involuntary context switches summed over all threads",
            target: `< ${WAKEUP_TARGET_PER_S * windowS} (no polling: < 1/s)`,
            pass: wakeups < WAKEUP_TARGET_PER_S * windowS,
            data: { before: before.switches, after: after.switches },
        },
    ];
    return {
        key: "idle",
        title: "7. Idle cost: at rest",
        how: "The daemon is spawned as for start-up (`run -c <config> --listen off`, 3 agents, NOTIFY_SOCKET " +
            `bound by the bench); after READY=1 and ${settleMs / 1000} s to settle, the bench reads its ` +
            `counters from /proc, waits ${windowS} s with no edit and no request, and reads them again. CPU ` +
            "time is the sum over all threads of /proc/<pid>/task/*/schedstat (nanoseconds), with " +
            "utime+stime from /proc/<pid>/stat (scheduler ticks) beside it; wake-ups are the threads' " +
            "context switches, where any polling timer would show up even when its CPU time rounds to " +
            "zero. This window runs while the memory measure (6) runs in another process: neither is a " +
            "timing, and the daemon's own counters are not affected by other processes' load.",
        figures,
        notes: [],
    };
}
