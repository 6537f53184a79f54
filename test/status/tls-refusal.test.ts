// The classified TLS sentence, end to end: the prober's log line, /agents' infoError and `agentpool status`.
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { CLI, requireBuiltCli, startDaemon } from "../support/daemon.js";
import {
  buildGoAgent,
  clientTls,
  createTlsWorld,
  type Peer,
  startGoPeer,
  startNodePeer,
  type TlsWorld,
} from "../support/tls-peers.js";
import { waitFor } from "../support/wait.js";
import { createWorkspace } from "../support/workspace.js";
import { getJson } from "./helpers.js";

interface AgentRow {
  addr: string;
  name: string;
  version?: string;
  infoError?: string;
}

const go = buildGoAgent();
if ("skip" in go) console.warn(`SKIP status of a refusing Go crypto/tls agent: ${go.skip}`);

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

let world: TlsWorld;
beforeAll(async () => {
  requireBuiltCli();
  world = await createTlsWorld();
});

function status(address: string): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, "status", "--listen", address], (error, stdout) => {
      resolve({ code: error ? Number(error.code) : 0, stdout });
    });
  });
}

describe("a client certificate the agent refuses, seen from the running daemon", () => {
  it("is the same one sentence in the prober's log, in /agents and in agentpool status", async () => {
    const ws = await createWorkspace("agentpool-tls-refusal-");
    closers.push(() => ws.cleanup());
    const setup = { server: world.pki.server, clientCa: world.pki.ca.cert, maxTls: "1.3" as const };
    const agent: Peer =
      "binary" in go ? await startGoPeer(go.binary, setup) : await startNodePeer(setup);
    closers.push(() => agent.close());
    const folder = join(ws.dir, "tls", "stranger");
    await mkdir(folder, { recursive: true });
    const tls = clientTls(world, "stranger");
    await writeFile(join(folder, "ca.pem"), tls.ca);
    await writeFile(join(folder, "cert.pem"), tls.cert);
    await writeFile(join(folder, "key.pem"), tls.key, { mode: 0o600 });
    await writeFile(ws.configPath, ws.yaml([{ addr: agent.addr, name: "edge", tls: "stranger" }]));

    const daemon = startDaemon(["run", "-c", ws.configPath, "--listen", "127.0.0.1:0"]);
    closers.push(() => daemon.stop());
    const listening = await daemon.waitForLog((l) => l.msg === "status endpoint listening", 15_000);
    const address = String(listening.address);

    const logged = await daemon.waitForLog((l) => l.msg === "agent info probe failed", 15_000);
    const sentence = String(logged.err);
    const refusal =
      "binary" in go
        ? `agent ${agent.addr}: the agent refused our client certificate (TLS alert 42 "bad certificate"): `
        : `agent ${agent.addr}: the agent closed the connection right after the TLS handshake without answering, as it does when it refuses our client certificate: `;
    expect(sentence).toBe(
      `${refusal}tls.cert_file is signed by "CN=stranger CA", not by the CA in tls.ca_file: use the client certificate issued with this agent's CA`,
    );

    const rows = await waitFor("the agent's probe error", async () => {
      const list = await getJson<AgentRow[]>(address, "/agents");
      return list[0]?.infoError ? list : undefined;
    });
    expect(rows[0]?.infoError).toBe(sentence);

    const shown = await status(address);
    expect(shown.code).toBe(0);
    const line = shown.stdout.split("\n").find((l) => l.startsWith("edge "));
    expect(line?.endsWith(sentence)).toBe(true);
    expect(shown.stdout).not.toContain(tls.key.split("\n")[1]);
  });
});
