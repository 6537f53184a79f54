import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { type AddressInfo, createServer } from "node:net";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EXIT } from "../../src/daemon/exit-codes.js";
import { CLI, type DaemonProcess, startDaemon } from "../support/daemon.js";
import { sleep, waitFor } from "../support/wait.js";
import { createWorkspace, type Workspace } from "../support/workspace.js";

const A = [{ addr: "10.0.0.1:8890", name: "alpha" }];
const AB = [...A, { addr: "10.0.0.2:8890", name: "beta" }];

let ws: Workspace;
let daemon: DaemonProcess | undefined;

beforeEach(async () => {
  ws = await createWorkspace();
});

afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  await ws.cleanup();
});

const loaded = (line: Record<string, unknown>) => line.result === "success";

describe("agentpool run", () => {
  it("exits 1 with the located error on a bad config at start-up, without a stack trace", async () => {
    await writeFile(ws.configPath, "providers:\n  agents:\n    - addr: 10.0.0.1:99999\n");
    daemon = startDaemon(["run", "-c", ws.configPath, "--listen", "off"]);
    expect(await daemon.exited).toBe(1);
    expect(daemon.stderr()).toMatch(/config\.yml:3:\d+: providers\.agents\[0\]\.addr: .*65535/);
    expect(daemon.stderr()).not.toMatch(/\n\s+at /);
  });

  it("exits 1 when the config file does not exist", async () => {
    daemon = startDaemon(["run", "-c", join(ws.dir, "missing.yml"), "--listen", "off"]);
    expect(await daemon.exited).toBe(1);
    expect(daemon.stderr()).toMatch(/missing\.yml/);
  });

  // Issue 12: exit 1 tells systemd "invalid config, do not restart"; this is not one.
  it("exits 70, not 1, when it cannot start for a reason other than its config (status port taken)", async () => {
    await writeFile(ws.configPath, ws.yaml(A));
    const taken = createServer();
    await new Promise<void>((done) => taken.listen(0, "127.0.0.1", done));
    const { port } = taken.address() as AddressInfo;
    try {
      daemon = startDaemon(["run", "-c", ws.configPath, "--listen", `127.0.0.1:${port}`]);
      expect(await daemon.exited).toBe(EXIT.crash);
      expect(EXIT.crash).not.toBe(EXIT.invalidConfig);
      expect(daemon.stderr()).toMatch(/cannot start: .*EADDRINUSE/);
      // The operator's answer is a sentence: the fatal log line carries no stack.
      const fatal = daemon.logs.find((line) => line.msg === "start-up failed");
      expect(fatal?.code).toBe("EADDRINUSE");
      expect(JSON.stringify(fatal)).not.toContain("stack");
    } finally {
      taken.close();
    }
  });

  it("exits 2 on a usage error", async () => {
    daemon = startDaemon(["run", "--no-such-flag"]);
    expect(await daemon.exited).toBe(2);
    expect(daemon.stderr()).toMatch(/Usage: agentpool/);
  });

  // Regression: a period past Node's timer limit fired every 1 ms (the resync spun).
  it.each([
    ["--resync", "3000000000"],
    ["--module-timeout", "3000000000"],
    ["--debounce", "1e12"],
    ["--resync", "soon"],
    ["--debounce", ""],
  ])("exits 2 for %s %j, naming the bound", async (flag, value) => {
    daemon = startDaemon(["run", "-c", ws.configPath, "--listen", "off", flag, value]);
    expect(await daemon.exited).toBe(2);
    expect(daemon.stderr()).toContain(`${flag} takes a number of milliseconds from 0`);
    expect(daemon.stderr()).toContain("2147483647");
    expect(daemon.stderr()).not.toContain("TimeoutOverflowWarning");
  });

  it("loads, reloads on edits and on SIGHUP, logs one line per reload, and stops on SIGTERM with 0", async () => {
    await writeFile(ws.configPath, ws.yaml(A));
    daemon = startDaemon(["run", "-c", ws.configPath, "--listen", "off"]);
    const first = await daemon.waitForLog(loaded);
    expect(first).toMatchObject({ result: "success", cause: "initial", agents: 1, added: 1 });
    await daemon.waitForLog((l) => l.msg === "ready");

    await writeFile(ws.configPath, ws.yaml(AB, "edited"));
    const edit = await daemon.waitForLog((l) => loaded(l) && l.cause === "file");
    expect(edit).toMatchObject({ agents: 2, added: 1, removed: 0, changed: 0 });
    expect(typeof edit.durationMs).toBe("number");

    // No byte changed: an attempt that is logged but publishes no new snapshot.
    daemon.child.kill("SIGHUP");
    await daemon.waitForLog(
      (l) => loaded(l) && l.cause === "signal" && l.added === 0 && l.version === 2,
    );

    const started = Date.now();
    daemon.child.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(daemon.logs.some((l) => l.msg === "stopped")).toBe(true);
  });

  it("logs a rejected edit once, with its location, and keeps going", async () => {
    await writeFile(ws.configPath, ws.yaml(A));
    daemon = startDaemon(["run", "-c", ws.configPath, "--listen", "off"]);
    await daemon.waitForLog((l) => l.msg === "ready");
    await writeFile(ws.configPath, "providers:\n  agents:\n    - addr: nope\n");
    const rejected = await daemon.waitForLog((l) => l.result === "failure");
    expect(rejected.error).toMatch(/config\.yml:3:\d+: providers\.agents\[0\]\.addr/);
    await sleep(300);
    expect(daemon.logs.filter((l) => l.result === "failure")).toHaveLength(1);
    await writeFile(ws.configPath, ws.yaml(AB));
    await daemon.waitForLog((l) => loaded(l) && l.agents === 2);
  });

  it("keeps reloading when a --module throws", async () => {
    const modulePath = join(ws.dir, "crashy.mjs");
    await writeFile(
      modulePath,
      `export default function ({ pool, logger }) {
        pool.snapshots$.subscribe((s) => { if (s.version >= 1) throw new Error("subscriber exploded"); });
        setTimeout(() => { throw new Error("timer exploded"); }, 10);
        logger.info("crashy module installed");
      }\n`,
    );
    const brokenPath = join(ws.dir, "broken.mjs");
    await writeFile(brokenPath, "export default 42;\n");
    await writeFile(ws.configPath, ws.yaml(A));
    daemon = startDaemon([
      "run",
      "-c",
      ws.configPath,
      "--listen",
      "off",
      "--module",
      modulePath,
      "--module",
      brokenPath,
    ]);
    await daemon.waitForLog((l) => l.msg === "ready");
    await daemon.waitForLog((l) => typeof l.msg === "string" && l.msg.includes("uncaught error"));
    await writeFile(ws.configPath, ws.yaml(AB));
    await daemon.waitForLog((l) => loaded(l) && l.agents === 2);
    expect(daemon.logs.some((l) => l.msg === "a snapshot subscriber threw")).toBe(true);
    expect(
      daemon.logs.some((l) => typeof l.msg === "string" && l.msg.includes("no default export")),
    ).toBe(true);
    expect(daemon.child.exitCode).toBeNull();
  });
});

describe("agentpool run, start-up edge cases", () => {
  it("exits 0 on SIGTERM while still starting up", async () => {
    const slow = join(ws.dir, "slow.mjs");
    await writeFile(
      slow,
      "await new Promise((r) => setTimeout(r, 3000));\nexport default function () {}\n",
    );
    await writeFile(ws.configPath, ws.yaml(A));
    daemon = startDaemon(["run", "-c", ws.configPath, "--listen", "off", "--module", slow]);
    await daemon.waitForLog((l) => l.msg === "starting");
    await sleep(100);
    daemon.child.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
    expect(daemon.logs.some((l) => l.msg === "ready")).toBe(false);
  });

  it("treats an empty AGENTPOOL_CONFIG as unset", async () => {
    daemon = startDaemon(["run", "--listen", "off"], { AGENTPOOL_CONFIG: "" }, ws.dir);
    // The default, config/config.yml, is relative to the working directory; here it does not exist.
    expect(await daemon.exited).toBe(1);
    expect(daemon.stderr()).toMatch(/config\/config\.yml/);
  });
});

// The readiness protocol, received on a real AF_UNIX datagram socket.
const require = createRequire(import.meta.url);
let unixDgram:
  | {
      createSocket(
        type: "unix_dgram",
        listener: (msg: Buffer) => void,
      ): { bind(path: string): void; close(): void };
    }
  | undefined;
try {
  unixDgram = require("unix-dgram");
} catch {
  unixDgram = undefined;
}

describe.skipIf(!unixDgram)("systemd notifications", () => {
  it("sends READY=1, RELOADING=1 with MONOTONIC_USEC then READY=1, WATCHDOG=1 and STOPPING=1", async () => {
    const messages: string[] = [];
    const socketPath = join(ws.dir, "notify.sock");
    if (!unixDgram) throw new Error("unix-dgram is not installed");
    const socket = unixDgram.createSocket("unix_dgram", (msg) => messages.push(msg.toString()));
    socket.bind(socketPath);
    try {
      await writeFile(ws.configPath, ws.yaml(A));
      daemon = startDaemon(["run", "-c", ws.configPath, "--listen", "off"], {
        NOTIFY_SOCKET: socketPath,
        WATCHDOG_USEC: "200000",
      });
      await waitFor("READY=1", () => messages.some((m) => m.includes("READY=1")), 10_000);
      expect(messages.find((m) => m.includes("READY=1"))).toMatch(/STATUS=1 agent/);

      // Issue 12: no RELOADING=1/READY=1 pairs for attempts that change nothing,
      // right after start or for a save of the same bytes (the unit would flicker).
      await sleep(300);
      await writeFile(ws.configPath, ws.yaml(A));
      await sleep(300);
      expect(messages.filter((m) => m.includes("RELOADING=1"))).toEqual([]);

      await writeFile(ws.configPath, ws.yaml(AB));
      // writeFile truncates, then writes: a daemon that looks in between makes
      // one more attempt (RELOADING=1, then READY=1 with the old status) first.
      const readyWithTwo = (m: string) => m.includes("READY=1") && m.includes("STATUS=2 agents");
      await waitFor("READY=1 with 2 agents", () => messages.some(readyWithTwo), 10_000);
      const readyAfter = messages.findIndex(readyWithTwo);
      const before = messages.slice(0, readyAfter);
      const reloading =
        before.length - 1 - [...before].reverse().findIndex((m) => m.includes("RELOADING=1"));
      expect(reloading).toBeGreaterThan(0);
      expect(reloading).toBeLessThan(readyAfter);
      expect(messages[reloading]).toMatch(/MONOTONIC_USEC=\d+/);
      expect(messages.slice(reloading + 1, readyAfter).some((m) => m.includes("READY=1"))).toBe(
        false,
      );

      await waitFor("WATCHDOG=1", () => messages.some((m) => m.includes("WATCHDOG=1")), 5_000);
      await daemon.stop();
      expect(messages.some((m) => m.includes("STOPPING=1"))).toBe(true);
    } finally {
      socket.close();
    }
  });
});

describe("systemd unit", () => {
  const unit = new URL("../../systemd/agentpool.service", import.meta.url).pathname;
  const analyze = spawnSync("systemd-analyze", ["--version"]).status === 0;

  it.skipIf(!analyze)("passes systemd-analyze verify", () => {
    const out = spawnSync("systemd-analyze", ["verify", unit], { encoding: "utf8" });
    expect(out.stderr.trim()).toBe("");
    expect(out.status).toBe(0);
  });

  it.skipIf(!analyze)("is sandboxed: systemd-analyze security exposure at most 2.0", () => {
    const out = execFileSync("systemd-analyze", ["security", "--offline=yes", unit], {
      encoding: "utf8",
    });
    const level = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(out)?.[1]);
    expect(level).toBeLessThanOrEqual(2);
  });

  it("starts with the built CLI, reloads with SIGHUP, and does not restart on an invalid config", () => {
    const text = readFileSync(unit, "utf8");
    const line = (key: string) => new RegExp(`^${key}=(.*)$`, "m").exec(text)?.[1] ?? "";
    expect(line("ExecStart")).toMatch(/\/dist\/daemon\/cli\.js run$/);
    // systemd restarts after a failed ExecStartPre= whatever its exit status (issue 12).
    expect(line("ExecStartPre")).toBe("");
    expect(line("ExecReload")).toBe("/bin/sh -c 'kill -HUP $MAINPID'");
    expect(line("RestartPreventExitStatus").split(" ")).toEqual([
      String(EXIT.invalidConfig),
      String(EXIT.usage),
    ]);
    expect(line("User")).toBe("agentpool");
    expect(line("Type")).toBe("notify");
    // The path the unit names is what `npm run build` produces.
    expect(existsSync(CLI)).toBe(true);
  });
});
