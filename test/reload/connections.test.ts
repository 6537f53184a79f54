import { writeFile } from "node:fs/promises";
import { request } from "undici";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AgentPool, DOCKER_HOST } from "../../src/index.js";
import type { ReloadResult } from "../../src/reload/result.js";
import { type ConfigWatcher, watchConfig } from "../../src/reload/watch-config.js";
import { startTestAgent, type TestAgent } from "../../src/testing/index.js";
import { waitFor } from "../support/wait.js";
import { createWorkspace, type Workspace } from "../support/workspace.js";

let ws: Workspace;
let pool: AgentPool;
let watcher: ConfigWatcher;
let server: TestAgent;
let results: ReloadResult[];

beforeEach(async () => {
  ws = await createWorkspace();
  server = await startTestAgent({ pki: ws.pki, delayMs: 0 });
  pool = new AgentPool();
  results = [];
});

afterEach(async () => {
  await watcher?.close();
  await Promise.all(pool.list().map((a) => a.close()));
  await server.close();
  await ws.cleanup();
});

async function get(path: string, addr = server.addr): Promise<number> {
  const agent = pool.get(addr);
  if (!agent) throw new Error(`no agent ${addr}`);
  const res = await request(`${DOCKER_HOST}${path}`, { dispatcher: agent.httpClient() });
  await res.body.text();
  return res.statusCode;
}

async function startOn(agents: Array<{ addr: string; name?: string }>): Promise<void> {
  await writeFile(ws.configPath, ws.yaml(agents));
  watcher = watchConfig(pool, { configPath: ws.configPath });
  await watcher.ready;
  watcher.results$.subscribe((r) => results.push(r));
  results.length = 0;
}

describe("connections across reloads", () => {
  it("a reload that leaves an agent unchanged opens no new TLS connection", async () => {
    await startOn([{ addr: server.addr, name: "kept" }]);
    // Back-to-back requests may open a second socket (undici frees a socket a
    // tick after the body ends); the same pattern after the reload must reuse them.
    const traffic = async () => {
      expect(await get("/version")).toBe(200);
      expect(await get("/containers/json")).toBe(200);
    };
    await traffic();
    const warm = server.handshakes;
    expect(warm).toBeGreaterThan(0);

    await writeFile(
      ws.configPath,
      ws.yaml([{ addr: server.addr, name: "kept" }, { addr: "10.9.9.9:1" }], "grown"),
    );
    await waitFor("the reload", () => results.some((r) => r.ok), 10_000);
    await traffic();
    expect(server.handshakes).toBe(warm);
  });

  it("renaming an agent keeps its connections too", async () => {
    await startOn([{ addr: server.addr, name: "before" }]);
    await get("/version");
    const warm = server.handshakes;
    await writeFile(ws.configPath, ws.yaml([{ addr: server.addr, name: "after" }]));
    await waitFor("the rename", () => pool.getAgent("after") !== undefined, 10_000);
    expect(pool.snapshot.changed).toEqual([server.addr]);
    await get("/version");
    expect(server.handshakes).toBe(warm);
  });

  it("a request in flight across a reload that removes its agent completes", async () => {
    await server.close();
    server = await startTestAgent({ pki: ws.pki, delayMs: 600 });
    await startOn([{ addr: server.addr, name: "leaving" }]);
    const agent = pool.get(server.addr);
    if (!agent) throw new Error("agent missing");
    const inFlight = request(`${DOCKER_HOST}/containers/json`, { dispatcher: agent.httpClient() });
    await waitFor("the request to reach the server", () => server.requests === 1, 5_000);

    await writeFile(ws.configPath, ws.yaml([], "empty"));
    await waitFor("the agent to be removed", () => pool.size === 0, 10_000);
    const res = await inFlight;
    expect(res.statusCode).toBe(200);
    expect(((await res.body.json()) as unknown[]).length).toBe(2);
    // Retired after the request finished: its dispatcher refuses new work.
    await waitFor(
      "the close",
      () => (agent.httpClient() as { closed?: boolean }).closed === true,
      5_000,
    );
  });
});
