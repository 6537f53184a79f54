// Real editors and tools saving config.yml under a running watcher, each the
// way it really writes: vim with each of its backupcopy modes (in place;
// rename the original aside and write a new file; vim's own choice, with its
// "4913" probe file), ed, perl -i, busybox sed -i, cp, install, tee, dd.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AgentPool, type PoolSnapshot } from "../../src/index.js";
import type { ReloadResult } from "../../src/reload/result.js";
import { type ConfigWatcher, watchConfig } from "../../src/reload/watch-config.js";
import { sleep, waitFor } from "../support/wait.js";
import { createWorkspace, type Workspace } from "../support/workspace.js";

const A = [{ addr: "10.0.0.1:8890", name: "alpha" }];
const EDIT = "s/name: alpha/name: gamma/";

const has = (program: string, ...args: string[]) =>
  spawnSync(program, args, { stdio: "ignore" }).status === 0;
const tools = {
  vim: has("vim", "--version"),
  ed: has("ed", "--version"),
  perl: has("perl", "-v"),
  busybox: has("busybox", "sed", "--help"),
};
for (const [tool, present] of Object.entries(tools))
  if (!present) console.log(`skip: ${tool} is not on PATH; its save test does not run`);

let ws: Workspace;
let pool: AgentPool;
let watcher: ConfigWatcher | undefined;
let snapshots: PoolSnapshot[];
let results: ReloadResult[];

beforeEach(async () => {
  ws = await createWorkspace("agentpool-editors-");
  pool = new AgentPool();
  snapshots = [];
  results = [];
  await writeFile(ws.configPath, ws.yaml(A, "initial"));
  watcher = watchConfig(pool, { configPath: ws.configPath });
  await watcher.ready;
  pool.snapshots$.subscribe((s) => snapshots.push(s));
  watcher.results$.subscribe((r) => results.push(r));
  snapshots.length = 0;
  results.length = 0;
  // The folder's watch is in place, and the attempt that follows it is over.
  await sleep(150);
});

afterEach(async () => {
  await watcher?.close();
  watcher = undefined;
  await Promise.all(pool.list().map((a) => a.close()));
  await ws.cleanup();
});

/** One snapshot, holding the edit, and no attempt that failed on the way. */
async function expectTheEdit(): Promise<void> {
  await waitFor("the edited name", () => pool.getAgent("gamma") !== undefined, 10_000);
  // Stray events of the same save would show up as more attempts.
  await sleep(200);
  expect(pool.list().map((a) => a.name)).toEqual(["gamma"]);
  expect(snapshots.map((s) => s.agents.map((a) => a.name))).toEqual([["gamma"]]);
  expect(results.filter((r) => !r.ok)).toEqual([]);
}

/**
 * The edited text, in a file in a folder of its own beside config.yml (the
 * config's folder watch sees only that folder's name appear), for the tools
 * that copy one over. Removed with the workspace.
 */
async function editedCopy(): Promise<string> {
  const folder = join(ws.dir, "edited");
  await mkdir(folder, { recursive: true });
  const path = join(folder, "config.yml");
  await writeFile(path, ws.yaml([{ addr: "10.0.0.1:8890", name: "gamma" }], "edited"));
  return path;
}

describe("saving with real editors and tools", () => {
  describe.skipIf(!tools.vim)("vim (skipped without vim)", () => {
    // -N -u NONE: no vimrc, vim's compiled defaults; -n: no swap file; -es: ex mode, no terminal.
    const vim = (file: string, ...commands: string[]) =>
      execFileSync(
        "vim",
        [
          "-N",
          "-u",
          "NONE",
          "-i",
          "NONE",
          "-n",
          "-es",
          ...commands.flatMap((c) => ["-c", c]),
          file,
        ],
        { input: "", stdio: ["pipe", "ignore", "pipe"], timeout: 5000 },
      );

    it.each([
      ["yes: a backup copy, then the original overwritten in place", "yes"],
      ["no: the original renamed aside, a new file written", "no"],
      ["auto: vim's own choice, after its 4913 probe file", "auto"],
    ])("backupcopy=%s", async (_name, mode) => {
      // backupskip= : vim skips backups under /tmp by default, and the workspace is there.
      vim(ws.configPath, `set backup writebackup backupskip= backupcopy=${mode}`, `%${EDIT}`, "wq");
      // The backup is where vim put it: beside config.yml.
      expect(existsSync(`${ws.configPath}~`)).toBe(true);
      await expectTheEdit();
    });

    it("with no backup at all: truncate and write", async () => {
      vim(ws.configPath, "set nobackup nowritebackup", `%${EDIT}`, "wq");
      await expectTheEdit();
    });
  });

  it.skipIf(!tools.ed)("ed, which writes in place (skipped without ed)", async () => {
    execFileSync("ed", ["-s", ws.configPath], { input: `,${EDIT}\nw\nq\n` });
    await expectTheEdit();
  });

  it.skipIf(!tools.perl)(
    "perl -pi, which renames a new file in (skipped without perl)",
    async () => {
      execFileSync("perl", ["-pi", "-e", EDIT, ws.configPath]);
      await expectTheEdit();
    },
  );

  it.skipIf(!tools.busybox)("busybox sed -i (skipped without busybox)", async () => {
    execFileSync("busybox", ["sed", "-i", EDIT, ws.configPath]);
    await expectTheEdit();
  });

  it("cp over it (in place)", async () => {
    execFileSync("cp", [await editedCopy(), ws.configPath]);
    await expectTheEdit();
  });

  it("install -m 0644, which replaces the file", async () => {
    execFileSync("install", ["-m", "0644", await editedCopy(), ws.configPath]);
    await expectTheEdit();
  });

  it("tee", async () => {
    execFileSync("tee", [ws.configPath], {
      input: ws.yaml([{ addr: "10.0.0.1:8890", name: "gamma" }], "tee"),
      stdio: ["pipe", "ignore", "inherit"],
    });
    await expectTheEdit();
  });

  it("dd, a block at a time", async () => {
    execFileSync("dd", [`if=${await editedCopy()}`, `of=${ws.configPath}`, "bs=64", "status=none"]);
    await expectTheEdit();
  });
});
