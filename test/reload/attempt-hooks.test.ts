// Issue 12: systemd saw running → reload → running for file events that
// changed nothing. The attempt hooks (RELOADING=1 / READY=1 in the daemon)
// must fire only for attempts that read changed files or are forced.
import { readFile, rename, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AgentPool } from "../../src/index.js";
import type { ReloadResult } from "../../src/reload/result.js";
import { type ConfigWatcher, watchConfig } from "../../src/reload/watch-config.js";
import { sleep, waitFor } from "../support/wait.js";
import { createWorkspace, type Workspace } from "../support/workspace.js";

const A = [{ addr: "10.0.0.1:8890", name: "alpha" }];
const AB = [...A, { addr: "10.0.0.2:8890", name: "beta" }];

let ws: Workspace;
let pool: AgentPool;
let watcher: ConfigWatcher | undefined;
let hooks: string[];
let results: ReloadResult[];

beforeEach(async () => {
  ws = await createWorkspace();
  pool = new AgentPool();
  hooks = [];
  results = [];
  await writeFile(ws.configPath, ws.yaml(A, "initial"));
  watcher = watchConfig(pool, {
    configPath: ws.configPath,
    onAttemptStart: () => hooks.push("start"),
    onAttemptEnd: (result) => hooks.push(result.ok ? "end:ok" : "end:failed"),
  });
  await watcher.ready;
  watcher.results$.subscribe((r) => results.push(r));
  // What the first load and the watcher's own set-up cause is over by now.
  await sleep(300);
  hooks.length = 0;
  results.length = 0;
});

afterEach(async () => {
  await watcher?.close();
  watcher = undefined;
  await Promise.all(pool.list().map((a) => a.close()));
  await ws.cleanup();
});

describe("attempt hooks (RELOADING=1 / READY=1)", () => {
  it("no-op reloads do not flicker: same bytes rewritten, renamed over, touched → no hook at all", async () => {
    const same = await readFile(ws.configPath);
    await writeFile(ws.configPath, same);
    await sleep(60);
    const temp = join(ws.dir, "config.yml.tmp");
    await writeFile(temp, same);
    await rename(temp, ws.configPath);
    await sleep(60);
    await utimes(ws.configPath, new Date(), new Date());
    await sleep(400);
    expect(hooks).toEqual([]);
    expect(results).toEqual([]);
  });

  it("a changed file: one start, then one end", async () => {
    await writeFile(ws.configPath, ws.yaml(AB, "changed"));
    await waitFor("the hooks of the reload", () => hooks.length >= 2, 10_000);
    await sleep(200);
    expect(hooks).toEqual(["start", "end:ok"]);
    expect(pool.size).toBe(2);
  });

  it("a bad edit is an attempt too: start, then a failed end", async () => {
    await writeFile(ws.configPath, "providers:\n  agents:\n    - addr: nope\n");
    await waitFor("the hooks of the rejected edit", () => hooks.length >= 2, 10_000);
    await sleep(200);
    expect(hooks).toEqual(["start", "end:failed"]);
    expect(pool.size).toBe(1);
  });

  it("a forced reload with unchanged files: start, then end", async () => {
    watcher?.reload();
    await waitFor("the hooks of the forced reload", () => hooks.length >= 2, 10_000);
    await sleep(200);
    expect(hooks).toEqual(["start", "end:ok"]);
  });
});
