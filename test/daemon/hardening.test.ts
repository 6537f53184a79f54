// Regression tests of an adversarial pass over the built CLI and daemon,
// each named after what it found; all through the real CLI and daemon.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { StatusBody } from "../../src/daemon/status/views.js";
import { startTestAgent } from "../../src/testing/index.js";
import { getJson, httpGet } from "../status/helpers.js";
import { CLI, type DaemonProcess, startDaemon } from "../support/daemon.js";
import { sleep, waitFor } from "../support/wait.js";
import { createWorkspace, type Workspace } from "../support/workspace.js";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI with stdout a real pipe (pipe(2), as a shell's `|` makes it;
 * Node's own child stdio is a socket pair, which behaves differently), read
 * only after `holdMs`, so a process that exits before its output drained
 * loses what the pipe could not take. bash gives the CLI's exit status.
 */
function runPiped(args: string[], holdMs = 300): Promise<Run> {
  return new Promise((resolve) => {
    const script = `"$@" | (sleep ${holdMs / 1000}; cat); exit \${PIPESTATUS[0]}`;
    const child = spawn("bash", ["-c", script, "bash", process.execPath, CLI, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (c: string) => {
      stderr += c;
    });
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.on("close", (code) => resolve({ code, stdout: Buffer.concat(out).toString(), stderr }));
  });
}

const require = createRequire(import.meta.url);
type Dgram = {
  createSocket(
    type: "unix_dgram",
    listener: (msg: Buffer) => void,
  ): { bind(path: string): void; close(): void };
};
let unixDgram: Dgram | undefined;
try {
  unixDgram = require("unix-dgram") as Dgram;
} catch {
  unixDgram = undefined;
}
if (!unixDgram)
  console.log("SKIP: unix-dgram is not built; the systemd notification checks are skipped");

/** A NOTIFY_SOCKET like systemd's, collecting what the daemon sends. */
function notifySocket(path: string): { messages: string[]; close(): void } {
  const messages: string[] = [];
  const socket = (unixDgram as Dgram).createSocket("unix_dgram", (m) =>
    messages.push(m.toString()),
  );
  socket.bind(path);
  return { messages, close: () => socket.close() };
}

/** Whether the process has a handler for `signo` (SigCgt in /proc/<pid>/status). */
function catches(pid: number, signo: number): boolean {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const mask = BigInt(`0x${/^SigCgt:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? "0"}`);
    return ((mask >> BigInt(signo - 1)) & 1n) === 1n;
  } catch {
    return false;
  }
}

const SIGHUP = 1;
const SIGTERM = 15;

let ws: Workspace;
const running: DaemonProcess[] = [];
const servers: Server[] = [];

beforeAll(async () => {
  ws = await createWorkspace("agentpool-hardening-");
});
afterEach(async () => {
  for (const daemon of running.splice(0)) await daemon.stop();
  for (const server of servers.splice(0)) await new Promise((r) => server.close(r));
});
afterAll(async () => {
  await ws.cleanup();
});

/** Agents on ports of 127.0.0.1 where nothing listens: loading needs no network. */
function manyAgents(count: number): string {
  return ws.yaml(
    Array.from({ length: count }, (_, i) => ({
      addr: `127.0.0.1:${20_000 + i}`,
      name: `agent-${i}-with-a-name-long-enough-to-fill-rows`,
    })),
  );
}

describe("check and status output is cut at 64 KiB when stdout is a pipe", () => {
  it("check --json and check print everything through a pipe", async () => {
    const path = join(ws.dir, "many.yml");
    await writeFile(path, manyAgents(1500));
    const json = await runPiped(["check", "-c", path, "--json"]);
    expect(json.stdout.length).toBeGreaterThan(64 * 1024);
    expect(json.code).toBe(0);
    expect((JSON.parse(json.stdout) as { agents: unknown[] }).agents).toHaveLength(1500);

    const text = await runPiped(["check", "-c", path]);
    expect(text.code).toBe(0);
    expect(text.stdout.length).toBeGreaterThan(64 * 1024);
    expect(text.stdout).toContain("agent-1499-with");
  }, 60_000);

  it("status --json prints everything through a pipe", async () => {
    const path = join(ws.dir, "status-many.yml");
    await writeFile(path, manyAgents(700));
    const daemon = startDaemon(["run", "-c", path, "--listen", "127.0.0.1:0"]);
    running.push(daemon);
    const address = String(
      (await daemon.waitForLog((l) => l.msg === "status endpoint listening", 15_000)).address,
    );
    await daemon.waitForLog((l) => l.msg === "ready", 15_000);
    const status = await runPiped(["status", "--listen", address, "--json"]);
    expect(status.stdout.length).toBeGreaterThan(64 * 1024);
    expect(status.code).toBe(0);
    expect((JSON.parse(status.stdout) as { agents: unknown[] }).agents).toHaveLength(700);
  }, 60_000);
});

describe("signals in the first ~0.5 s kill the daemon", () => {
  /**
   * Moments of start-up, each as the daemon reaches it: a module named by
   * Node's own ESM loader trace (NODE_DEBUG=esm) starting to load — the
   * chunks of the bundled CLI (scripts/bundle-cli.mjs) that `run` imports,
   * with rxjs and the file watcher inside, and pino, which stays a package
   * of its own (undici is no longer loaded at start-up) — or a delay after
   * the CLI's first line installed its handlers (seen in /proc/<pid>/status).
   */
  const MOMENTS: Array<{ label: string; loading?: string; delayMs?: number }> = [
    { label: "as the run chunk starts to load", loading: "/dist/daemon/chunks/run-" },
    { label: "while the loader's chunk loads", loading: "/dist/daemon/chunks/load-" },
    { label: "while the agent chunk loads", loading: "/dist/daemon/chunks/agent-" },
    { label: "while pino loads", loading: "/node_modules/pino/" },
    { label: "right after the first line", delayMs: 0 },
    { label: "50 ms after the first line", delayMs: 50 },
    { label: "200 ms after the first line", delayMs: 200 },
  ];

  async function startAndReach(moment: (typeof MOMENTS)[number]): Promise<DaemonProcess> {
    await writeFile(ws.configPath, ws.yaml([{ addr: "127.0.0.1:1", name: "early" }]));
    const daemon = startDaemon(
      ["run", "-c", ws.configPath, "--listen", "127.0.0.1:0"],
      moment.loading ? { NODE_DEBUG: "esm" } : {},
    );
    running.push(daemon);
    const pid = daemon.child.pid as number;
    if (moment.loading) {
      const loading = moment.loading;
      await waitFor(
        `${loading} to load`,
        () => daemon.stderr().includes(loading) || daemon.child.exitCode !== null,
        10_000,
      );
    } else {
      await waitFor("handlers", () => catches(pid, SIGTERM) && catches(pid, SIGHUP), 10_000);
      await sleep(moment.delayMs ?? 0);
    }
    return daemon;
  }

  for (const moment of MOMENTS) {
    it(`SIGTERM ${moment.label}: a clean stop, exit 0`, async () => {
      const daemon = await startAndReach(moment);
      daemon.child.kill("SIGTERM");
      expect(await daemon.exited).toBe(0);
    }, 30_000);
  }

  for (const moment of MOMENTS) {
    it(`SIGHUP ${moment.label}: remembered, applied after the first load`, async () => {
      const daemon = await startAndReach(moment);
      daemon.child.kill("SIGHUP");
      await daemon.waitForLog((l) => l.msg === "ready", 15_000);
      const ready = daemon.logs.findIndex((l) => l.msg === "ready");
      await daemon.waitForLog((l) => l.msg === "config loaded" && l.cause === "signal", 15_000);
      const reload = daemon.logs.findIndex(
        (l) => l.msg === "config loaded" && l.cause === "signal",
      );
      expect(reload).toBeGreaterThan(ready);
      expect(daemon.child.exitCode).toBe(null);
      daemon.child.kill("SIGTERM");
      expect(await daemon.exited).toBe(0);
    }, 30_000);
  }
});

describe("early signal handling stays the CLI's", () => {
  it("importing the daemon's code installs no signal handler", async () => {
    const run = new URL("../../dist/daemon/run.js", import.meta.url).href;
    const script = `await import(${JSON.stringify(run)}); console.log(["SIGHUP", "SIGTERM", "SIGINT"].map((s) => process.listenerCount(s)).join(","));`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => {
      out += c;
    });
    await new Promise((r) => child.on("close", r));
    expect(out.trim()).toBe("0,0,0");
  });
});

describe("a --module whose import never settles", () => {
  it("is reported and left behind; READY=1 is sent; SIGTERM stops the daemon", async () => {
    const module = join(ws.dir, "stuck.mjs");
    await writeFile(module, "await new Promise(() => {});\nexport default () => {};\n");
    await writeFile(ws.configPath, ws.yaml([{ addr: "127.0.0.1:1", name: "stuck" }]));
    const notify = unixDgram ? notifySocket(join(ws.dir, "notify-stuck.sock")) : undefined;
    try {
      const daemon = startDaemon(
        [
          ...["run", "-c", ws.configPath, "--listen", "127.0.0.1:0"],
          ...["--module", module, "--module-timeout", "500"],
        ],
        notify ? { NOTIFY_SOCKET: join(ws.dir, "notify-stuck.sock") } : {},
      );
      running.push(daemon);
      const address = String(
        (await daemon.waitForLog((l) => l.msg === "status endpoint listening", 15_000)).address,
      );
      const stuck = await daemon.waitForLog((l) => l.module === module && l.level === 50, 15_000);
      expect(String(stuck.msg)).toContain("did not finish starting within 500 ms");
      await daemon.waitForLog((l) => l.msg === "ready", 15_000);
      if (notify) {
        await waitFor("READY=1", () => notify.messages.some((m) => m.includes("READY=1")), 10_000);
      }
      expect((await httpGet(address, "/readyz")).status).toBe(200);
      daemon.child.kill("SIGTERM");
      expect(await daemon.exited).toBe(0);
    } finally {
      notify?.close();
    }
  }, 30_000);

  it("SIGTERM wins while the module is still within its timeout", async () => {
    const module = join(ws.dir, "stuck-long.mjs");
    await writeFile(module, "await new Promise(() => {});\nexport default () => {};\n");
    await writeFile(ws.configPath, ws.yaml([{ addr: "127.0.0.1:1", name: "stuck" }]));
    const daemon = startDaemon(["run", "-c", ws.configPath, "--listen", "off", "--module", module]);
    running.push(daemon);
    await daemon.waitForLog((l) => l.msg === "config loaded", 15_000);
    daemon.child.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
    expect(daemon.logs.some((l) => l.msg === "stopped")).toBe(true);
  }, 30_000);
});

describe("a --module calling process.exit", () => {
  it("is logged, with STOPPING=1 first, and exits as a crash (70), not as an invalid config", async () => {
    const module = join(ws.dir, "exits.mjs");
    await writeFile(module, "export default () => { setTimeout(() => process.exit(1), 300); };\n");
    await writeFile(ws.configPath, ws.yaml([{ addr: "127.0.0.1:1", name: "exits" }]));
    const socketPath = join(ws.dir, "notify-exit.sock");
    const notify = unixDgram ? notifySocket(socketPath) : undefined;
    try {
      const daemon = startDaemon(
        ["run", "-c", ws.configPath, "--listen", "off", "--module", module],
        notify ? { NOTIFY_SOCKET: socketPath } : {},
      );
      running.push(daemon);
      expect(await daemon.exited).toBe(70);
      await sleep(50);
      expect(daemon.logs.some((l) => String(l.msg).includes("process.exit() was called"))).toBe(
        true,
      );
      if (notify) expect(notify.messages.some((m) => m.includes("STOPPING=1"))).toBe(true);
    } finally {
      notify?.close();
    }
  }, 30_000);
});

function check(path: string, json = false): Promise<Run> {
  return runPiped(["check", "-c", path, ...(json ? ["--json"] : [])], 0);
}

describe("oversized values in messages", () => {
  it("a 1 MB addr is quoted cut, with the cut marked, in check and /status", async () => {
    const huge = `${"a".repeat(1024 * 1024)}:80`;
    const path = join(ws.dir, "huge.yml");
    const text = ws.yaml([{ addr: huge }]);
    await writeFile(path, text);
    const result = await check(path);
    expect(result.code).toBe(1);
    expect(result.stdout.length + result.stderr.length).toBeLessThan(2_000);
    expect(`${result.stdout}${result.stderr}`).toMatch(/"a{60}"… \(1048579 characters\)/);

    await writeFile(ws.configPath, ws.yaml([{ addr: "127.0.0.1:1" }]));
    const daemon = startDaemon(["run", "-c", ws.configPath, "--listen", "127.0.0.1:0"]);
    running.push(daemon);
    const address = String(
      (await daemon.waitForLog((l) => l.msg === "status endpoint listening", 15_000)).address,
    );
    await daemon.waitForLog((l) => l.msg === "ready", 15_000);
    await writeFile(ws.configPath, text);
    const rejected = await daemon.waitForLog((l) => l.result === "failure", 15_000);
    expect(JSON.stringify(rejected).length).toBeLessThan(2_000);
    const status = await getJson<StatusBody>(address, "/status");
    expect(status.lastReload?.error?.length ?? 0).toBeLessThan(1_000);
    expect(status.lastReload?.error).toContain("(1048579 characters)");
  }, 60_000);
});

describe("wrong locations", () => {
  it("<<: *s where s is a scalar is reported at the merge line", async () => {
    const path = join(ws.dir, "merge.yml");
    await writeFile(path, "s: &s hello\nproviders:\n  agents: []\nm:\n  <<: *s\n  a: 1\n");
    const result = await check(path);
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).toContain(
      `${path}:5:3: a merge (<<) takes a mapping or a list of mappings`,
    );
  });

  it("- *a reusing a whole agent reports the duplicate at the alias", async () => {
    const path = join(ws.dir, "alias.yml");
    await writeFile(
      path,
      [
        "providers:",
        "  agents:",
        "    - &a",
        '      addr: "127.0.0.1:1"',
        "      tls: { ca_file: tls/main/ca.pem, cert_file: tls/main/cert.pem, key_file: tls/main/key.pem }",
        "    - *a",
        "",
      ].join("\n"),
    );
    const result = await check(path);
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).toContain(
      `${path}:6:7: providers.agents[1].addr: duplicate addr "127.0.0.1:1" (first at line 4)`,
    );
  });
});

describe("names", () => {
  const cases: Array<[string, string, RegExp]> = [
    ["a name holding U+202E", "evil\u202Etxt.exe", /character 5 is U\+202E/],
    ["a name holding a control character", "a\u0007b", /character 2 is U\+0007/],
    ["a name holding U+2066 (an isolate)", "x\u2066y", /character 2 is U\+2066/],
    ["a name of spaces only", "   ", /must not be blank/],
  ];
  for (const [what, name, message] of cases) {
    it(`${what} is refused`, async () => {
      const path = join(ws.dir, `name-${name.codePointAt(1)}.yml`);
      await writeFile(
        path,
        `providers:\n  agents:\n    - addr: "127.0.0.1:1"\n      name: ${JSON.stringify(name)}\n      tls: { ca_file: tls/main/ca.pem, cert_file: tls/main/cert.pem, key_file: tls/main/key.pem }\n`,
      );
      const result = await check(path);
      expect(result.code).toBe(1);
      expect(result.stdout + result.stderr).toMatch(message);
      expect(result.stdout + result.stderr).not.toContain(name);
    });
  }

  it("my_host:80 and host.example.:80 are accepted, as GoDoxy (Go) accepts them", async () => {
    const path = join(ws.dir, "hosts.yml");
    await writeFile(path, ws.yaml([{ addr: "my_host:80" }, { addr: "host.example.:80" }]));
    const result = await check(path, true);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { agents: Array<{ addr: string }> };
    expect(report.agents.map((a) => a.addr)).toEqual(["my_host:80", "host.example.:80"]);
  });

  it("hostnames Go refuses stay refused", async () => {
    for (const addr of ["-host:80", "host-.example:80", "a..b:80", "123:80"]) {
      const path = join(ws.dir, "bad-host.yml");
      await writeFile(path, ws.yaml([{ addr }]));
      expect((await check(path)).code, addr).toBe(1);
    }
  });
});

describe("a config replaced by a socket gives ENXIO", () => {
  it("is named as a socket, in a plain sentence", async () => {
    const path = join(ws.dir, "socket.yml");
    const server = createServer();
    servers.push(server);
    await new Promise<void>((r) => server.listen(path, r));
    const result = await check(path);
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).toContain(
      `${path}: cannot read the file: is a socket, not a regular file`,
    );
    expect(result.stdout + result.stderr).not.toContain("ENXIO");
  });
});

describe("metric label values come only from validated names and addrs", () => {
  it("a version an agent reports is cut and made printable before it becomes a label", async () => {
    const agent = await startTestAgent({ pki: ws.pki, version: `v1\u0007${"x".repeat(5000)}` });
    try {
      await writeFile(ws.configPath, ws.yaml([{ addr: agent.addr, name: "labelled" }]));
      const daemon = startDaemon(["run", "-c", ws.configPath, "--listen", "127.0.0.1:0"]);
      running.push(daemon);
      const address = String(
        (await daemon.waitForLog((l) => l.msg === "status endpoint listening", 15_000)).address,
      );
      const line = await poll(async () => {
        const body = (await httpGet(address, "/metrics")).body;
        return body.split("\n").find((l) => l.startsWith("agentpool_agent_info{"));
      });
      const version = /version="([^"]*)"/.exec(line)?.[1] ?? "";
      expect(version.startsWith("v1\uFFFDxxx")).toBe(true);
      expect(version.length).toBeLessThanOrEqual(65);
      expect(line).toContain('name="labelled"');
    } finally {
      await agent.close();
    }
  }, 30_000);
});

async function poll<T>(check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out");
    await sleep(50);
  }
}
