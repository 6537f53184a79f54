/**
 * 7. Idle cost, part one: time from spawning the daemon to READY=1 on a
 * NOTIFY_SOCKET the bench binds, as systemd's Type=notify sees it.
 */
import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestPki } from "../../src/testing/index.js";
import {
  assertBuilt,
  bindNotifySocket,
  CLI,
  orExit,
  REPO,
  spawnDaemon,
  stopProcess,
} from "./lib/daemon.js";
import type { BenchOptions, Figure, MeasureResult } from "./lib/figure.js";
import { configAgents, configYaml, createConfigDir } from "./lib/fixture.js";
import { formatMs, summarize } from "./lib/stats.js";

/** A bare Node process that loads unix-dgram and says READY=1 at once: Node's own start-up. */
const FLOOR_SCRIPT = `
const s = require("unix-dgram").createSocket("unix_dgram");
const m = Buffer.from("READY=1");
s.send(m, 0, m.length, process.env.NOTIFY_SOCKET, () => s.close());
`;

/** Issue 13's targets: start → READY=1 and `agentpool check` of 10 agents, medians. */
const READY_TARGET_MS = 300;
const CHECK_TARGET_MS = 250;
const CHECK_AGENTS = 10;

/** Wall time of one `agentpool check -c <config>`, spawn to exit; rejects unless it exits 0. */
function timeCheck(configPath: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, "check", "-c", configPath], { cwd: REPO }, (err, stdout) => {
      if (err) reject(new Error(`agentpool check failed: ${err.message}`));
      else if (!stdout.includes(`OK, ${CHECK_AGENTS} agents`))
        reject(new Error(`agentpool check said: ${stdout}`));
      else resolve(performance.now() - started);
    });
  });
}

export async function run(options: BenchOptions): Promise<MeasureResult> {
  assertBuilt();
  const starts = options.quick ? 1 : 7;
  const agentCount = 3;
  const pki = await createTestPki();
  const dir = await createConfigDir(pki);
  const sockets = await mkdtemp(join(tmpdir(), "agentpool-bench-notify-"));
  await writeFile(dir.configPath, configYaml(configAgents(agentCount)));

  const daemonTimes: number[] = [];
  const floorTimes: number[] = [];
  const checkTimes: number[] = [];
  const checkConfig = join(dir.dir, "check.yml");
  await writeFile(checkConfig, configYaml(configAgents(CHECK_AGENTS)));
  try {
    // One unmeasured start of each warms the page cache for node and dist/.
    for (let i = -1; i < starts; i++) {
      {
        const notify = bindNotifySocket(join(sockets, `daemon-${i + 1}.sock`));
        const started = performance.now();
        const child = spawnDaemon(dir.configPath, notify.path);
        try {
          const readyAt = await orExit(child, notify.ready());
          if (i >= 0) daemonTimes.push(readyAt - started);
        } finally {
          await stopProcess(child);
          notify.close();
        }
      }
      {
        const notify = bindNotifySocket(join(sockets, `floor-${i + 1}.sock`));
        const started = performance.now();
        const child = spawn(process.execPath, ["-e", FLOOR_SCRIPT], {
          cwd: REPO,
          env: { ...process.env, NOTIFY_SOCKET: notify.path },
          stdio: ["ignore", "ignore", "pipe"],
        });
        try {
          const readyAt = await orExit(child, notify.ready());
          if (i >= 0) floorTimes.push(readyAt - started);
        } finally {
          await stopProcess(child);
          notify.close();
        }
      }
      const checkMs = await timeCheck(checkConfig);
      if (i >= 0) checkTimes.push(checkMs);
    }
  } finally {
    await dir.cleanup();
    await rm(sockets, { recursive: true, force: true });
  }

  const daemon = summarize(daemonTimes);
  const floor = summarize(floorTimes);
  const check = summarize(checkTimes);
  const figures: Figure[] = [
    {
      id: "startup.ready",
      label: `daemon start → READY=1 (${agentCount} agents, --listen off)`,
      value: daemon.median,
      unit: "ms",
      display: `median ${formatMs(daemon.median)}`,
      detail: `${daemon.n} starts; max ${formatMs(daemon.max)}; all samples ${daemonTimes.map((t) => t.toFixed(0)).join(", ")} ms`,
      target: `median ≤ ${READY_TARGET_MS} ms`,
      pass: daemon.median <= READY_TARGET_MS,
      data: { ...daemon, samples: daemonTimes },
    },
    {
      id: "startup.floor",
      label: "floor: bare node that sends READY=1 at once",
      value: floor.median,
      unit: "ms",
      display: `median ${formatMs(floor.median)}`,
      detail: `${floor.n} starts; max ${formatMs(floor.max)}`,
      target: null,
      pass: null,
      data: { ...floor, samples: floorTimes },
    },
    {
      id: "startup.check",
      label: `\`agentpool check\` on a ${CHECK_AGENTS}-agent file, spawn → exit`,
      value: check.median,
      unit: "ms",
      display: `median ${formatMs(check.median)}`,
      detail: `${check.n} runs; max ${formatMs(check.max)}; all samples ${checkTimes.map((t) => t.toFixed(0)).join(", ")} ms`,
      target: `median ≤ ${CHECK_TARGET_MS} ms`,
      pass: check.median <= CHECK_TARGET_MS,
      data: { ...check, samples: checkTimes },
    },
  ];
  return {
    key: "startup",
    title: "7. Idle cost: start-up",
    how:
      "The bench binds an AF_UNIX datagram socket (unix-dgram, as systemd's NOTIFY_SOCKET), " +
      "takes performance.now(), spawns `node dist/daemon/cli.js run -c <config> --listen off` with " +
      `NOTIFY_SOCKET pointing at it (a config of ${agentCount} agents in a temporary folder) and stops the ` +
      "clock when a datagram holding READY=1 arrives; then SIGTERM. The daemon sends READY=1 after " +
      "the first load is applied. Median of the starts after one unmeasured warm-up start. The floor " +
      "row is the same measurement for `node -e` that only loads unix-dgram and sends READY=1: " +
      "what Node's own start-up costs on this machine. The check row times, spawn to exit, " +
      `\`node dist/daemon/cli.js check -c <config>\` on a config of ${CHECK_AGENTS} agents (exit 0 and ` +
      "its OK line required), once per round after the two starts. dist/daemon/cli.js is the " +
      "bundle `npm run build` writes (scripts/bundle-cli.mjs), one chunk per command.",
    figures,
    notes: [],
  };
}
