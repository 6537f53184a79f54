import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DiffReport, diffAgents, renderDiff } from "../../src/daemon/commands/check-diff.js";
import { createTestPki, type TestPki } from "../../src/testing/index.js";
import { CLI, type DaemonProcess, requireBuiltCli, startDaemon } from "../support/daemon.js";
import { closedPort } from "../support/ports.js";
import { type AgentLine, createWorkspace, type Workspace } from "../support/workspace.js";

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...process.env, AGENTPOOL_LISTEN: "", ...env } },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? -1) : 0;
        resolve({ code: typeof code === "number" ? code : -1, stdout, stderr });
      },
    );
  });
}

// Nothing has to answer on these: the diff compares config, it never dials an agent.
const RUNNING: AgentLine[] = [
  { addr: "127.0.0.1:1", name: "edge-a" },
  { addr: "127.0.0.1:2", name: "edge-b" },
  { addr: "127.0.0.1:3", name: "edge-c" },
];

describe("agentpool check --diff against a running daemon", () => {
  let ws: Workspace;
  let rotated: TestPki;
  let daemon: DaemonProcess;
  let address: string;
  const candidate = () => join(ws.dir, "candidate.yml");

  async function diff(agents: AgentLine[], extra: string[] = []): Promise<CliResult> {
    await writeFile(candidate(), ws.yaml(agents));
    return cli(["check", "--diff", "-c", candidate(), "--against", address, ...extra]);
  }

  beforeAll(async () => {
    requireBuiltCli();
    ws = await createWorkspace("agentpool-diff-");
    rotated = await createTestPki();
    await ws.writeTls("rotated", rotated);
    await writeFile(ws.configPath, ws.yaml(RUNNING));
    daemon = startDaemon(["run", "-c", ws.configPath, "--listen", "127.0.0.1:0"]);
    const listening = await daemon.waitForLog((l) => l.msg === "status endpoint listening");
    address = String(listening.address);
    await daemon.waitForLog((l) => l.msg === "ready");
  });

  afterAll(async () => {
    await daemon?.stop();
    await ws?.cleanup();
  });

  it("unchanged: says there is nothing to do, exit 0", async () => {
    const result = await diff(RUNNING);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      `${candidate()} against the daemon at ${address}:\n\n  No changes: the daemon already runs these 3 agents.\n`,
    );
  });

  it("added, removed, renamed and TLS-rotated agents, like a plan", async () => {
    const result = await diff([
      { addr: "127.0.0.1:1", name: "edge-a-renamed" },
      { addr: "127.0.0.1:2", name: "edge-b", tls: "rotated" },
      { addr: "127.0.0.1:4", name: "edge-d" },
    ]);
    expect(result.code).toBe(0);
    const short = (pem: string) => `${new X509Certificate(pem).fingerprint256.slice(0, 23)}…`;
    expect(result.stdout.split("\n")).toEqual([
      `${candidate()} against the daemon at ${address}:`,
      "",
      "  + edge-d          127.0.0.1:4",
      "  - edge-c          127.0.0.1:3",
      "  ~ edge-a-renamed  127.0.0.1:1",
      '      name: "edge-a" -> "edge-a-renamed"',
      "  ~ edge-b          127.0.0.1:2",
      `      client certificate: ${short(ws.pki.client.cert)} -> ${short(rotated.client.cert)}`,
      `      CA: ${short(ws.pki.ca.cert)} -> ${short(rotated.ca.cert)}`,
      "",
      "Saving this file would add 1, remove 1 and change 2 agents; 0 unchanged.",
      "",
    ]);
    // Fingerprints only: no key material anywhere in the output.
    expect(result.stdout).not.toMatch(/PRIVATE KEY|BEGIN/);
  });

  it("--json gives the same diff for scripts", async () => {
    const result = await diff(
      [
        { addr: "127.0.0.1:1", name: "edge-a" },
        { addr: "127.0.0.1:2", name: "edge-b", tls: "rotated" },
        { addr: "127.0.0.1:3", name: "edge-c" },
        { addr: "127.0.0.1:5", name: "edge-e" },
      ],
      ["--json"],
    );
    expect(result.code).toBe(0);
    const body = JSON.parse(result.stdout) as DiffReport;
    expect(body).toMatchObject({ ok: true, against: address, reachable: true });
    expect(body.diff?.added.map((a) => a.name)).toEqual(["edge-e"]);
    expect(body.diff?.removed).toEqual([]);
    expect(body.diff?.changed).toEqual([
      {
        addr: "127.0.0.1:2",
        name: "edge-b",
        changes: {
          cert: {
            from: new X509Certificate(ws.pki.client.cert).fingerprint256,
            to: new X509Certificate(rotated.client.cert).fingerprint256,
          },
          ca: {
            from: [new X509Certificate(ws.pki.ca.cert).fingerprint256],
            to: [new X509Certificate(rotated.ca.cert).fingerprint256],
          },
        },
      },
    ]);
    expect(body.diff?.unchanged).toBe(2);
    expect(result.stdout).not.toMatch(/PRIVATE KEY/);
  });

  it("finds the daemon through AGENTPOOL_LISTEN when --against is not given", async () => {
    await writeFile(candidate(), ws.yaml(RUNNING.slice(0, 2)));
    const result = await cli(["check", "--diff", "-c", candidate()], { AGENTPOOL_LISTEN: address });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("  - edge-c  127.0.0.1:3");
  });

  it("an invalid file exits 1 with its located errors, without asking the daemon", async () => {
    await writeFile(candidate(), 'providers:\n  agents:\n    - addr: "nope"\n');
    const port = await closedPort();
    const result = await cli([
      "check",
      "--diff",
      "-c",
      candidate(),
      "--against",
      `127.0.0.1:${port}`,
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${candidate()}:3:7: providers.agents[0]`);
    expect(result.stderr).not.toMatch(/cannot be reached/);
  });

  it("unreachable daemon: exit 3, and it says so", async () => {
    const port = await closedPort();
    const result = await diff(RUNNING, ["--against", `127.0.0.1:${port}`]);
    expect(result.code).toBe(3);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(
      `${candidate()} is valid, but the daemon at 127.0.0.1:${port} cannot be reached: connect ECONNREFUSED`,
    );

    const socket = join(ws.dir, "no-daemon.sock");
    const viaSocket = await diff(RUNNING, ["--against", socket, "--json"]);
    expect(viaSocket.code).toBe(3);
    expect(JSON.parse(viaSocket.stdout)).toMatchObject({
      ok: true,
      reachable: false,
      against: socket,
      error: expect.stringMatching(/ENOENT/),
    });
  });

  it("asks a daemon on a unix socket", async () => {
    const socket = join(ws.dir, "status.sock");
    const other = startDaemon(["run", "-c", ws.configPath, "--listen", socket]);
    try {
      await other.waitForLog((l) => l.msg === "ready");
      await writeFile(candidate(), ws.yaml([...RUNNING, { addr: "127.0.0.1:6", name: "edge-f" }]));
      const result = await cli(["check", "--diff", "-c", candidate(), "--against", socket]);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain("  + edge-f  127.0.0.1:6");
      expect(result.stdout).toContain("add 1, remove 0 and change 0 agents; 3 unchanged.");
    } finally {
      await other.stop();
    }
  });

  it("with --probe too: the probe table, then the plan; a failed probe exits 4", async () => {
    const result = await diff(RUNNING.slice(0, 1), ["--probe", "--probe-timeout", "2000"]);
    expect(result.code).toBe(4);
    expect(result.stdout).toMatch(/FAILED\s+edge-a\s+127\.0\.0\.1:1 /);
    expect(result.stdout).toContain("  - edge-b  127.0.0.1:2");
    expect(result.stdout.indexOf("FAILED")).toBeLessThan(result.stdout.indexOf("  - edge-b"));
  });

  it("--against off is a usage error", async () => {
    const result = await diff(RUNNING, ["--against", "off"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--against needs the daemon's status address");
  });
});

describe("diffAgents", () => {
  it("compares names only when the daemon reports no fingerprints, and says so", () => {
    const tls = { certSha256: "AA", caSha256: ["BB"] };
    const diff = diffAgents(
      [
        { addr: "h:1", name: "a", tls },
        { addr: "h:2", name: "b2", tls },
      ],
      [
        { addr: "h:1", name: "a" },
        { addr: "h:2", name: "b" },
      ],
    );
    expect(diff).toEqual({
      added: [],
      removed: [],
      changed: [{ addr: "h:2", name: "b2", changes: { name: { from: "b", to: "b2" } } }],
      unchanged: 1,
      tlsCompared: false,
    });
    expect(renderDiff("c.yml", "x:1", diff)).toContain("TLS material not compared");
  });
});
