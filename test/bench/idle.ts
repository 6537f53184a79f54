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
import type { BenchOptions, Figure, MeasureResult } from "./lib/figure.js";
import { configAgents, configYaml, createConfigDir } from "./lib/fixture.js";
import { sleep } from "./lib/stats.js";

/** "Indistinguishable from zero": at most 2 scheduler ticks' worth of CPU in the window. */
const CPU_TARGET_S = 0.02;
/** No polling: fewer wake-ups than one per second. */
const WAKEUP_TARGET_PER_S = 1;

interface Usage {
  /** utime + stime from /proc/<pid>/stat, seconds (tick resolution). */
  ticksSeconds: number;
  /** Sum over threads of /proc/<pid>/task/<tid>/schedstat run time, seconds (ns resolution). */
  runSeconds: number;
  /** Sum over threads of voluntary + involuntary context switches. */
  switches: number;
  threads: number;
}

function clockTicks(): number {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
}

async function usage(pid: number, ticksPerSecond: number): Promise<Usage> {
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

export async function run(options: BenchOptions): Promise<MeasureResult> {
  assertBuilt();
  const windowS = options.quick ? 2 : 30;
  // V8's memory reducer runs one or two full GCs some 8–25 s after start-up
  // (seen with --trace-gc as "Mark-Compact (reduce)"), then nothing more; the
  // window starts after it, and the detail shows what the settle time cost.
  const settleS = options.quick ? 1 : 40;
  const ticksPerSecond = clockTicks();
  const pki = await createTestPki();
  const dir = await createConfigDir(pki);
  const sockets = await mkdtemp(join(tmpdir(), "agentpool-bench-notify-"));
  await writeFile(dir.configPath, configYaml(configAgents(3)));
  const notify = bindNotifySocket(join(sockets, "idle.sock"));
  const child = spawnDaemon(dir.configPath, notify.path);
  /** Per second since READY=1: [context switches, CPU ms]. */
  const timeline: Array<[number, number]> = [];
  let ready: Usage;
  let before: Usage | undefined;
  let after: Usage;
  try {
    await orExit(child, notify.ready());
    const pid = child.pid as number;
    ready = await usage(pid, ticksPerSecond);
    let previous = ready;
    for (let second = 1; second <= settleS + windowS; second++) {
      await sleep(1_000);
      if (child.exitCode !== null) throw new Error("the daemon exited while idle");
      const now = await usage(pid, ticksPerSecond);
      timeline.push([
        now.switches - previous.switches,
        Math.round((now.runSeconds - previous.runSeconds) * 1e5) / 100,
      ]);
      previous = now;
      if (second === settleS) before = now;
    }
    after = previous;
  } finally {
    await stopProcess(child);
    notify.close();
    await dir.cleanup();
    await rm(sockets, { recursive: true, force: true });
  }
  const start = before as Usage;
  const cpu = after.runSeconds - start.runSeconds;
  const ticks = after.ticksSeconds - start.ticksSeconds;
  const wakeups = after.switches - start.switches;
  const settleCpu = start.runSeconds - ready.runSeconds;
  const busySeconds = timeline.slice(settleS).filter(([switches]) => switches > 0).length;
  const figures: Figure[] = [
    {
      id: "idle.cpu",
      label: `daemon CPU time over ${windowS} s idle`,
      value: cpu,
      unit: "CPU s",
      display: `${cpu.toFixed(4)} CPU s (${((cpu / windowS) * 100).toFixed(3)} % of one core)`,
      detail:
        `utime+stime from /proc/<pid>/stat: ${ticks.toFixed(2)} s (1/${ticksPerSecond} s ticks); ${after.threads} threads; ` +
        `in the ${settleS} s before the window (after READY=1): ${settleCpu.toFixed(3)} CPU s`,
      target: `≤ ${CPU_TARGET_S} CPU s (indistinguishable from zero)`,
      pass: cpu <= CPU_TARGET_S,
      data: { ready, before: start, after, windowS, settleS, timeline },
    },
    {
      id: "idle.wakeups",
      label: `daemon thread wake-ups over ${windowS} s idle`,
      value: wakeups,
      unit: "context switches",
      display: `${wakeups} (${(wakeups / windowS).toFixed(2)}/s)`,
      detail: `voluntary + involuntary context switches summed over all threads; seconds of the window with any: ${busySeconds} of ${windowS}`,
      target: `< ${WAKEUP_TARGET_PER_S * windowS} (no polling: < 1/s)`,
      pass: wakeups < WAKEUP_TARGET_PER_S * windowS,
    },
  ];
  return {
    key: "idle",
    title: "7. Idle cost: at rest",
    how:
      "The daemon is spawned as for start-up (`run -c <config> --listen off`, 3 agents, NOTIFY_SOCKET " +
      "bound by the bench). From READY=1 on, the bench reads the daemon's counters from /proc once a " +
      `second, with no edit and no request; the figure is the ${windowS} s window that starts ${settleS} s ` +
      "after READY=1. Before that, V8's memory reducer runs one or two one-off full GCs, some " +
      "8–25 s after start-up (--trace-gc shows them as `Mark-Compact (reduce)`); their CPU time is " +
      "in the detail, and the per-second timeline of the whole run is in latest.json. CPU time is " +
      "the sum over all threads of /proc/<pid>/task/*/schedstat (nanoseconds), with utime+stime " +
      "from /proc/<pid>/stat (scheduler ticks) beside it; wake-ups are the threads' context " +
      "switches, where any polling timer shows up even when its CPU time rounds to zero. This runs " +
      "while the memory measure (6) runs in another process: neither is a timing, and the daemon " +
      "watches only its own temporary folder, so the other process's files do not wake it.",
    figures,
    notes: [],
  };
}
