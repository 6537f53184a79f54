/**
 * 7. Idle cost, part one: time from spawning the daemon to READY=1 on a
 * NOTIFY_SOCKET the bench binds, as systemd's Type=notify sees it.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestPki } from "../../src/testing/index.js";
import {
  assertBuilt,
  bindNotifySocket,
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
    }
  } finally {
    await dir.cleanup();
    await rm(sockets, { recursive: true, force: true });
  }

  const daemon = summarize(daemonTimes);
  const floor = summarize(floorTimes);
  const figures: Figure[] = [
    {
      id: "startup.ready",
      label: `daemon start → READY=1 (${agentCount} agents, --listen off)`,
      value: daemon.median,
      unit: "ms",
      display: `median ${formatMs(daemon.median)}`,
      detail: `${daemon.n} starts; max ${formatMs(daemon.max)}; all samples ${daemonTimes.map((t) => t.toFixed(0)).join(", ")} ms`,
      target: null,
      pass: null,
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
      "what Node's own start-up costs on this machine. Issue 6 sets no target for this figure.",
    figures,
    notes: [],
  };
}
