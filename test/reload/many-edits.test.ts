import { writeFile } from "node:fs/promises";
import { afterEach, beforeEach, expect, it } from "vitest";
import { AgentPool } from "../../src/index.js";
import { type ConfigWatcher, watchConfig } from "../../src/reload/watch-config.js";
import { waitFor } from "../support/wait.js";
import { createWorkspace, type Workspace } from "../support/workspace.js";

let ws: Workspace;
let pool: AgentPool;
let watcher: ConfigWatcher;

beforeEach(async () => {
  ws = await createWorkspace();
  pool = new AgentPool();
});

afterEach(async () => {
  await watcher?.close();
  await ws.cleanup();
});

function agentsFor(edit: number): Array<{ addr: string; name: string }> {
  // Each edit has its own set: 1 to 5 agents, names carrying the edit number.
  const count = (edit % 5) + 1;
  return Array.from({ length: count }, (_, i) => ({
    addr: `10.1.${i}.${(edit % 200) + 1}:${8000 + i}`,
    name: `e${edit}-a${i}`,
  }));
}

it("1,000 back-to-back edits: every snapshot is a file's state, the last one wins", async () => {
  await writeFile(ws.configPath, ws.yaml(agentsFor(0)));
  watcher = watchConfig(pool, { configPath: ws.configPath });
  await watcher.ready;

  const written = new Set<string>([JSON.stringify(agentsFor(0).map((a) => a.name))]);
  const problems: string[] = [];
  let seen = 0;
  pool.snapshots$.subscribe((snapshot) => {
    seen++;
    const state = JSON.stringify(snapshot.agents.map((a) => a.name));
    if (!written.has(state)) problems.push(`snapshot ${snapshot.version}: ${state}`);
    // Lookups made from a subscriber see the same state.
    for (const agent of snapshot.agents) {
      if (pool.get(agent.addr) !== agent || pool.getAgent(agent.name) !== agent)
        problems.push(`get ${agent.addr}`);
    }
    if (pool.size !== snapshot.agents.length) problems.push(`size ${pool.size}`);
  });

  for (let edit = 1; edit <= 1000; edit++) {
    written.add(JSON.stringify(agentsFor(edit).map((a) => a.name)));
    await writeFile(ws.configPath, ws.yaml(agentsFor(edit), `edit ${edit}`));
  }
  const last = agentsFor(1000).map((a) => a.name);
  await waitFor(
    "the last edit",
    () => JSON.stringify(pool.list().map((a) => a.name)) === JSON.stringify(last),
    15_000,
  );
  expect(problems).toEqual([]);
  expect(seen).toBeGreaterThan(1);
  await Promise.all(pool.list().map((a) => a.close()));
});
