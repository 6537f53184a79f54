// `agentpool check --probe`, run as a real child process of the built CLI against real agents.
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { TlsMaterial } from "../../src/agent/tls.js";
import { CLI } from "../support/daemon.js";
import {
  buildGoAgent,
  clientTls,
  createTlsWorld,
  type Peer,
  startGoPeer,
  startNodePeer,
  startTcpPeer,
  type TlsWorld,
} from "../support/tls-peers.js";
import { createWorkspace, type Workspace } from "../support/workspace.js";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function agentpool(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...process.env, AGENTPOOL_CONFIG: "" } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const go = buildGoAgent();
if ("skip" in go) console.warn(`SKIP check --probe against a Go crypto/tls agent: ${go.skip}`);

let world: TlsWorld;
let ws: Workspace;
const peers: Peer[] = [];

beforeAll(async () => {
  world = await createTlsWorld();
  ws = await createWorkspace("agentpool-probe-");
});

afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.close()));
});

afterAll(async () => {
  await ws.cleanup();
});

async function writeTlsSet(set: string, tls: TlsMaterial): Promise<void> {
  const folder = join(ws.dir, "tls", set);
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, "ca.pem"), tls.ca);
  await writeFile(join(folder, "cert.pem"), tls.cert);
  await writeFile(join(folder, "key.pem"), tls.key, { mode: 0o600 });
}

async function started(peer: Promise<Peer>): Promise<Peer> {
  const p = await peer;
  peers.push(p);
  return p;
}

const agentSetup = () => ({ server: world.pki.server, clientCa: world.pki.ca.cert });

describe("agentpool check --probe", () => {
  it("prints each agent's /info or its classified error, and exits 4 when one failed", async () => {
    await writeTlsSet("good", clientTls(world, "good"));
    await writeTlsSet("stranger", clientTls(world, "stranger"));
    const good = await started(startNodePeer({ ...agentSetup(), maxTls: "1.3" }));
    const refusing = await started(
      "binary" in go
        ? startGoPeer(go.binary, { ...agentSetup(), maxTls: "1.3" })
        : startNodePeer({ ...agentSetup(), maxTls: "1.2" }),
    );
    const ssh = await started(startTcpPeer("SSH-2.0-OpenSSH_9.2p1\r\n"));
    await writeFile(
      ws.configPath,
      ws.yaml([
        { addr: good.addr, name: "good", tls: "good" },
        { addr: refusing.addr, name: "refusing", tls: "stranger" },
        { addr: ssh.addr, name: "ssh", tls: "good" },
      ]),
    );

    const text = await agentpool(["check", "-c", ws.configPath, "--probe"]);
    expect(text.stderr).toBe("");
    expect(text.code).toBe(4);
    const lines = text.stdout.split("\n");
    const row = (name: string) => lines.find((l) => new RegExp(`^\\S+\\s+${name}\\s`).test(l));
    expect(row("good")).toMatch(/^ok\s+good\s+\S+\s+node-agent v0\.0\.0-node \(docker\), \d+ ms$/);
    const refusal =
      "binary" in go
        ? `the agent refused our client certificate (TLS alert 42 "bad certificate")`
        : "the agent closed the connection during the TLS handshake without an alert";
    expect(row("refusing")).toContain(
      `FAILED  refusing  ${refusing.addr}  ERR_AGENT_TLS: agent ${refusing.addr}: ${refusal}`,
    );
    expect(row("refusing")).toContain(`tls.cert_file is signed by "CN=stranger CA"`);
    expect(row("ssh")).toContain(
      `ERR_AGENT_TLS: agent ${ssh.addr}: the server on this port does not speak TLS (it sent "SSH-2.0-OpenSSH_9.2p1")`,
    );
    expect(text.stdout).toContain("probe: 2 of 3 agents failed");

    const json = await agentpool(["check", "-c", ws.configPath, "--probe", "--json"]);
    expect(json.code).toBe(4);
    const report = JSON.parse(json.stdout) as {
      ok: boolean;
      probe: Array<{ name: string; ok: boolean; code?: string; error?: string; info?: unknown }>;
    };
    expect(report.ok).toBe(true);
    expect(report.probe.map((p) => [p.name, p.ok, p.code])).toEqual([
      ["good", true, undefined],
      ["refusing", false, "ERR_AGENT_TLS"],
      ["ssh", false, "ERR_AGENT_TLS"],
    ]);
    expect(report.probe[0]?.info).toEqual({
      version: "v0.0.0-node",
      name: "node-agent",
      runtime: "docker",
    });
    expect(report.probe[1]?.error).toContain(refusal);
    expect(json.stdout).not.toContain(world.strangerClient.key.split("\n")[1]);
  });

  it("exits 0 when every agent answers", async () => {
    await writeTlsSet("good", clientTls(world, "good"));
    const good = await started(
      "binary" in go
        ? startGoPeer(go.binary, { ...agentSetup(), maxTls: "1.2" })
        : startNodePeer({ ...agentSetup(), maxTls: "1.2" }),
    );
    await writeFile(ws.configPath, ws.yaml([{ addr: good.addr, name: "edge", tls: "good" }]));
    const run = await agentpool(["check", "-c", ws.configPath, "--probe"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^ok\s+edge\s/m);
    expect(run.stdout).toContain("probe: all 1 agent answered");
  });

  it("gives up on an agent within --probe-timeout", async () => {
    await writeTlsSet("good", clientTls(world, "good"));
    const silent = await started(startNodePeer({ ...agentSetup(), maxTls: "1.3" }, {}, () => true));
    await writeFile(ws.configPath, ws.yaml([{ addr: silent.addr, name: "silent", tls: "good" }]));
    const run = await agentpool([
      "check",
      "-c",
      ws.configPath,
      "--probe",
      "--probe-timeout",
      "300",
    ]);
    expect(run.code).toBe(4);
    expect(run.stdout).toContain(
      `ERR_AGENT_TIMEOUT: agent ${silent.addr}: GET /godoxy/agent/info: timed out after 300 ms`,
    );
  });

  it("refuses a --probe-timeout that is not a positive number, as a usage error", async () => {
    await writeFile(ws.configPath, ws.yaml([]));
    const run = await agentpool([
      "check",
      "-c",
      ws.configPath,
      "--probe",
      "--probe-timeout",
      "soon",
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      `agentpool: --probe-timeout takes a positive number of milliseconds, not "soon"`,
    );
  });

  it("refuses --probe-timeout without --probe", async () => {
    await writeFile(ws.configPath, ws.yaml([]));
    const run = await agentpool(["check", "-c", ws.configPath, "--probe-timeout", "100"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("agentpool: --probe-timeout goes with --probe");
  });

  it("does not probe an invalid config: exit 1 with the located error", async () => {
    await writeFile(ws.configPath, "providers:\n  agents:\n    - addr: nope\n");
    const run = await agentpool(["check", "-c", ws.configPath, "--probe"]);
    expect(run.code).toBe(1);
    expect(run.stdout).not.toContain("PROBE");
  });
});
