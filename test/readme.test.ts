// The README's library example, run for real against two local mTLS agents.
import { writeFile } from "node:fs/promises";
import { afterAll, expect, it } from "vitest";
import { startTestAgent, type TestAgent } from "../src/testing/index.js";
import { waitFor } from "./support/wait.js";
import { createWorkspace, type Workspace } from "./support/workspace.js";

let ws: Workspace;
const servers: TestAgent[] = [];

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await ws?.cleanup();
});

it("README example: subscribe to snapshots and list containers on every agent", async () => {
  ws = await createWorkspace();
  servers.push(await startTestAgent({ pki: ws.pki }), await startTestAgent({ pki: ws.pki }));
  await writeFile(
    ws.configPath,
    ws.yaml(servers.map((s, i) => ({ addr: s.addr, name: `node-${i + 1}` }))),
  );
  const configPath = ws.configPath;
  const printed: string[] = [];
  const console = { log: (...args: unknown[]) => printed.push(args.join(" ")) };

  // --- README example begins
  const { request } = await import("undici");
  const { AgentPool, DOCKER_HOST, watchConfig } = await import("../src/index.js");

  const pool = new AgentPool();
  const watcher = watchConfig(pool, { configPath });
  await watcher.ready; // rejects with a located ConfigError if the file is wrong

  const subscription = pool.snapshots$.subscribe(async (snapshot) => {
    for (const agent of snapshot.agents) {
      const res = await request(`${DOCKER_HOST}/containers/json`, {
        dispatcher: agent.httpClient(),
      });
      const containers = (await res.body.json()) as Array<{ Names: string[] }>;
      console.log(agent.name, containers.map((c) => c.Names[0]).join(" "));
    }
  });
  // --- README example ends

  await waitFor("both agents listed", () => printed.length === 2, 10_000);
  expect(printed.sort()).toEqual(["node-1 /web /db", "node-2 /web /db"]);
  subscription.unsubscribe();
  await watcher.close();
  await Promise.all(pool.list().map((a) => a.close()));
});
