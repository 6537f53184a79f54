import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import {
  chmod,
  mkdir,
  open,
  rename,
  rm,
  symlink,
  truncate,
  unlink,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AgentPool, type PoolSnapshot } from "../../src/index.js";
import type { ReloadResult } from "../../src/reload/result.js";
import { type ConfigWatcher, watchConfig } from "../../src/reload/watch-config.js";
import { createTestPki } from "../../src/testing/index.js";
import { sleep, waitFor } from "../support/wait.js";
import { createWorkspace, type Workspace } from "../support/workspace.js";

const A = [{ addr: "10.0.0.1:8890", name: "alpha" }];
const AB = [...A, { addr: "10.0.0.2:8890", name: "beta" }];

let ws: Workspace;
let pool: AgentPool;
let watcher: ConfigWatcher | undefined;
let snapshots: PoolSnapshot[];
let results: ReloadResult[];

beforeEach(async () => {
  ws = await createWorkspace();
  pool = new AgentPool();
  snapshots = [];
  results = [];
});

afterEach(async () => {
  await watcher?.close();
  watcher = undefined;
  await Promise.all(pool.list().map((a) => a.close()));
  await ws.cleanup();
});

async function start(initial = A, debounceMs?: number): Promise<void> {
  await writeFile(ws.configPath, ws.yaml(initial, "initial"));
  watcher = watchConfig(pool, {
    configPath: ws.configPath,
    ...(debounceMs !== undefined ? { debounceMs } : {}),
  });
  await watcher.ready;
  pool.snapshots$.subscribe((s) => snapshots.push(s));
  watcher.results$.subscribe((r) => results.push(r));
  // Both subscriptions replay the current state; only what comes next counts.
  snapshots.length = 0;
  results.length = 0;
  // Let the watcher finish setting up its directory watches, and the attempt
  // that follows them (one debounce later) end before the test writes.
  await sleep(150 + (debounceMs ?? 0));
}

const names = () => pool.list().map((a) => a.name);

async function expectOneSnapshotWith(expected: string[]): Promise<void> {
  await waitFor(
    `agents ${expected}`,
    () => JSON.stringify(names()) === JSON.stringify(expected),
    10_000,
  );
  // Give stray events a moment to show up as extra snapshots.
  await sleep(150);
  expect(snapshots).toHaveLength(1);
  expect(snapshots[0]?.agents.map((a) => a.name)).toEqual(expected);
  expect(snapshots[0]?.cause).toBe("reload");
}

describe("reload on every way of saving config.yml", () => {
  it("in place (rewrite through the same descriptor)", async () => {
    await start();
    const handle = await open(ws.configPath, "r+");
    const text = ws.yaml(AB, "in place");
    await handle.write(text, 0);
    await handle.truncate(Buffer.byteLength(text));
    await handle.close();
    await expectOneSnapshotWith(["alpha", "beta"]);
  });

  it("truncate, then write", async () => {
    await start();
    await truncate(ws.configPath, 0);
    await writeFile(ws.configPath, ws.yaml(AB, "truncated first"), { flag: "r+" });
    await expectOneSnapshotWith(["alpha", "beta"]);
  });

  it("two halves with a pause shorter than the debounce: one attempt", async () => {
    await start(A, 150);
    const text = ws.yaml(AB, "two halves");
    const half = Math.floor(text.length / 2);
    const handle = await open(ws.configPath, "w");
    await handle.write(text.slice(0, half));
    await sleep(40);
    await handle.write(text.slice(half));
    await handle.close();
    await expectOneSnapshotWith(["alpha", "beta"]);
    expect(results.filter((r) => !r.ok)).toHaveLength(0);
  });

  it("two halves with a pause longer than the debounce: the half file is rejected, the whole one applied", async () => {
    await start(A, 20);
    const handle = await open(ws.configPath, "w");
    await handle.write("providers:\n  agents:\n    - addr: [unclosed\n");
    await sleep(250);
    await handle.write("\n");
    await handle.truncate(0);
    await handle.write(ws.yaml(AB, "second half"), 0);
    await handle.close();
    await expectOneSnapshotWith(["alpha", "beta"]);
    expect(results.some((r) => !r.ok)).toBe(true);
  });

  it("write a temporary file, then rename it over config.yml", async () => {
    await start();
    const tmp = join(ws.dir, ".config.yml.tmp");
    await writeFile(tmp, ws.yaml(AB, "renamed"));
    await rename(tmp, ws.configPath);
    await expectOneSnapshotWith(["alpha", "beta"]);
    // The pool's snapshot says "reload" (SPEC §3); the result says what caused it.
    expect(results.at(-1)?.cause).toBe("file");
  });

  it("refuses a resync period that is not a number of milliseconds", () => {
    expect(() => watchConfig(pool, { configPath: ws.configPath, resyncMs: -1 })).toThrow(
      /resyncMs must be a number of milliseconds/,
    );
  });

  it("sed -i", async () => {
    await start();
    execFileSync("sed", ["-i", "s/name: alpha/name: gamma/", ws.configPath]);
    await expectOneSnapshotWith(["gamma"]);
    expect(snapshots[0]?.changed).toEqual(["10.0.0.1:8890"]);
  });

  it("vim's way: move the old file aside, write a new one", async () => {
    await start();
    await rename(ws.configPath, `${ws.configPath}~`);
    await writeFile(ws.configPath, ws.yaml(AB, "vim"));
    await unlink(`${ws.configPath}~`);
    await expectOneSnapshotWith(["alpha", "beta"]);
  });

  it("delete, then recreate: the agents survive the gap", async () => {
    await start();
    await unlink(ws.configPath);
    await waitFor(
      "a rejected attempt for the missing file",
      () => results.some((r) => !r.ok),
      10_000,
    );
    expect(names()).toEqual(["alpha"]);
    expect(snapshots).toHaveLength(0);
    await writeFile(ws.configPath, ws.yaml(AB, "recreated"));
    await expectOneSnapshotWith(["alpha", "beta"]);
  });

  it("Kubernetes ConfigMap: the ..data symlink swap", async () => {
    // Lay out the volume as the kubelet does, and point the watcher at it.
    const volume = join(ws.dir, "volume");
    await mkdir(join(volume, "..v1"), { recursive: true });
    await writeFile(
      join(volume, "..v1", "config.yml"),
      ws.yaml(A, "v1").replaceAll("tls/", `${ws.dir}/tls/`),
    );
    await symlink("..v1", join(volume, "..data"));
    await symlink("..data/config.yml", join(volume, "config.yml"));
    watcher = watchConfig(pool, { configPath: join(volume, "config.yml") });
    await watcher.ready;
    pool.snapshots$.subscribe((s) => snapshots.push(s));
    snapshots.length = 0;
    await sleep(150);

    await mkdir(join(volume, "..v2"));
    await writeFile(
      join(volume, "..v2", "config.yml"),
      ws.yaml(AB, "v2").replaceAll("tls/", `${ws.dir}/tls/`),
    );
    await symlink("..v2", join(volume, "..data_tmp"));
    await rename(join(volume, "..data_tmp"), join(volume, "..data"));
    await rm(join(volume, "..v1"), { recursive: true });
    await expectOneSnapshotWith(["alpha", "beta"]);
  });

  it("git checkout of another version", async () => {
    const git = (...args: string[]) =>
      execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], {
        cwd: ws.dir,
        stdio: "pipe",
      });
    await writeFile(ws.configPath, ws.yaml(AB, "v2"));
    git("init", "-q");
    git("add", "config.yml");
    git("commit", "-qm", "v2");
    await start(A);
    git("checkout", "-q", "--", "config.yml");
    await expectOneSnapshotWith(["alpha", "beta"]);
  });

  it("chmod only: no reload", async () => {
    await start();
    await chmod(ws.configPath, 0o600);
    await chmod(ws.configPath, 0o644);
    await sleep(400);
    expect(results).toHaveLength(0);
    expect(snapshots).toHaveLength(0);
  });

  it("rewriting the same bytes: no reload", async () => {
    await start();
    await writeFile(ws.configPath, ws.yaml(A, "initial"));
    await sleep(400);
    expect(results).toHaveLength(0);
    expect(snapshots).toHaveLength(0);
  });

  it("a TLS certificate file replaced (rotation) reloads the agent that uses it", async () => {
    await start();
    const before = pool.get("10.0.0.1:8890");
    const rotated = await createTestPki();
    // Rotate the way tools do: new files renamed into place, key first.
    await ws.writeTls("next", rotated);
    await rename(join(ws.dir, "tls", "next", "key.pem"), join(ws.dir, "tls", "main", "key.pem"));
    await rename(join(ws.dir, "tls", "next", "cert.pem"), join(ws.dir, "tls", "main", "cert.pem"));
    await rename(join(ws.dir, "tls", "next", "ca.pem"), join(ws.dir, "tls", "main", "ca.pem"));
    await waitFor("the rotated agent", () => pool.get("10.0.0.1:8890") !== before, 10_000);
    await sleep(150);
    expect(snapshots.length).toBeGreaterThan(0);
    for (const s of snapshots)
      expect([s.added, s.removed, s.changed]).toEqual([[], [], ["10.0.0.1:8890"]]);
    expect(pool.snapshot.agents).toHaveLength(1);
  });

  it("a forced reload (SIGHUP) is an attempt even when no byte changed, and publishes nothing new", async () => {
    await start();
    const version = pool.snapshot.version;
    watcher?.reload();
    await waitFor("the forced attempt", () => results.length === 1, 10_000);
    expect(results[0]).toMatchObject({
      ok: true,
      cause: "forced",
      version,
      added: [],
      removed: [],
      changed: [],
    });
    expect(snapshots).toHaveLength(0);
  });

  it("an edit made right after start-up is not lost", async () => {
    await writeFile(ws.configPath, ws.yaml(A, "initial"));
    watcher = watchConfig(pool, { configPath: ws.configPath });
    await sleep(3);
    await writeFile(ws.configPath, ws.yaml(AB, "early edit"));
    await waitFor(
      "the early edit",
      () => JSON.stringify(names()) === JSON.stringify(["alpha", "beta"]),
      10_000,
    );
  });

  it("the config's folder deleted and created again", async () => {
    const folder = join(ws.dir, "etc");
    const configPath = join(folder, "config.yml");
    await mkdir(folder);
    await writeFile(configPath, ws.yaml(A, "v1").replaceAll("tls/", `${ws.dir}/tls/`));
    watcher = watchConfig(pool, { configPath });
    await watcher.ready;
    pool.snapshots$.subscribe((s) => snapshots.push(s));
    snapshots.length = 0;
    await sleep(150);
    await rm(folder, { recursive: true });
    await sleep(150);
    expect(names()).toEqual(["alpha"]);
    await mkdir(folder);
    await writeFile(configPath, ws.yaml(AB, "v2").replaceAll("tls/", `${ws.dir}/tls/`));
    await expectOneSnapshotWith(["alpha", "beta"]);
  });

  it("a hook that throws does not stop later reloads", async () => {
    await writeFile(ws.configPath, ws.yaml(A));
    watcher = watchConfig(pool, {
      configPath: ws.configPath,
      onAttemptStart: () => {
        throw new Error("hook exploded");
      },
      onAttemptEnd: () => {
        throw new Error("hook exploded too");
      },
    });
    await watcher.ready;
    await sleep(100);
    await writeFile(ws.configPath, ws.yaml(AB, "after the hooks threw"));
    await waitFor("the reload", () => pool.size === 2, 10_000);
  });

  it("closing before the first load rejects ready", async () => {
    await writeFile(ws.configPath, ws.yaml(A));
    const early = watchConfig(pool, { configPath: ws.configPath });
    await early.close();
    await expect(early.ready).rejects.toThrow(/closed before the first load/);
  });
});

describe("saves caught half-way", () => {
  it("truncate, a pause longer than the debounce, then write: no rejection is reported", async () => {
    await start();
    await truncate(ws.configPath, 0);
    await sleep(40);
    await writeFile(ws.configPath, ws.yaml(AB, "written after a pause"), { flag: "r+" });
    await expectOneSnapshotWith(["alpha", "beta"]);
    expect(results.filter((r) => !r.ok)).toHaveLength(0);
  });

  it("a config whose key_file is a FIFO is rejected without hanging", async () => {
    execFileSync("mkfifo", [join(ws.dir, "tls", "main", "fifo.pem")]);
    await writeFile(ws.configPath, ws.yaml(A).replace("tls/main/key.pem", "tls/main/fifo.pem"));
    watcher = watchConfig(pool, { configPath: ws.configPath });
    await expect(watcher.ready).rejects.toThrow(/fifo\.pem.*not a regular file/);
  });
});

describe("rejected edits", () => {
  it("an invalid edit keeps the agents; the next valid edit is applied", async () => {
    await start(AB);
    const before = pool.list();
    await writeFile(ws.configPath, "providers:\n  agents:\n    - addr: 10.0.0.9\n");
    await waitFor("the rejected attempt", () => results.length === 1, 10_000);
    const failure = results[0];
    expect(failure?.ok).toBe(false);
    expect(failure && !failure.ok && failure.error.message).toMatch(
      /config\.yml:3:\d+: .*host:port/,
    );
    expect(pool.list()).toEqual(before);
    expect(snapshots).toHaveLength(0);
    await writeFile(ws.configPath, ws.yaml(A, "fixed"));
    await expectOneSnapshotWith(["alpha"]);
  });

  it("a TLS file that is missing is picked up when it appears", async () => {
    await start();
    await writeFile(
      ws.configPath,
      ws.yaml([...A, { addr: "10.0.0.3:1", name: "late", tls: "late" }]),
    );
    await waitFor("the rejected attempt", () => results.some((r) => !r.ok), 10_000);
    expect(names()).toEqual(["alpha"]);
    await ws.writeTls("late", await createTestPki());
    await waitFor("the agent whose files appeared", () => names().includes("late"), 10_000);
  });
});

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

/** The edit in one snapshot, and no attempt that failed on the way. */
async function expectTheEdit(): Promise<void> {
  await expectOneSnapshotWith(["gamma"]);
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

// Real editors and tools, each the way it really writes: vim with each of its
// backupcopy modes (in place; rename the original aside and write a new file;
// vim's own choice, with its "4913" probe file), ed, perl -i, busybox sed -i,
// cp, install, tee, dd.
describe("saving with real editors and tools", () => {
  beforeEach(() => start());

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
