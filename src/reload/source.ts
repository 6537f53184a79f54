import { type FSWatcher, lstatSync, readlinkSync, realpathSync, watch } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { type Observable, Subject } from "rxjs";
import type { Logger } from "../log.js";

/** A file-system event on one of the files a config depends on. */
export interface FileEvent {
  /** Absolute path the event was about. */
  path: string;
  /** `performance.now()` when it arrived. */
  at: number;
}

/** Why the watcher cannot promise to see every change, when it cannot. */
export interface WatchProblem {
  /** The folder that could not be watched. */
  path: string;
  /** The system error code, e.g. `ENOSPC`. */
  code: string;
  /** One sentence for the operator, naming the limit to raise where there is one. */
  message: string;
}

/** One folder watch: the handle and the identity of the folder it was opened on. */
interface FolderWatch {
  readonly handle: FSWatcher;
  readonly identity: string;
  /**
   * An event about the folder itself came (deleted, moved, chmod): the
   * handle may be dead even if a folder of the same identity is back. ext4
   * gives a folder made right after `rm -rf` the inode number just freed.
   */
  stale: boolean;
}

/** Device, inode and birth time: what tells a recreated folder from the one watched. */
const folderIdentity = (stats: { dev: number; ino: number; birthtimeMs: number }) =>
  `${stats.dev}:${stats.ino}:${stats.birthtimeMs}`;

/**
 * Watches the files a config depends on — config.yml and its TLS files — in a
 * way that survives every way of saving them and every change of the shape
 * of the path to them. It watches the FOLDERS that hold them, never a file's
 * inode, because editors, `sed -i`, `git checkout` and Kubernetes replace
 * files or swap symlinks. Symlinks on the way to a file (ConfigMap's
 * `..data`) are watched as files of their own.
 *
 * It owns one `fs.watch` handle per folder instead of going through
 * chokidar: chokidar's `unwatch(dir)` ignores everything under `dir` for
 * good, and a later `add()` of a path below it does not undo that
 * (https://github.com/paulmillr/chokidar/issues/1439), so a watcher that has
 * to let go of an ancestor folder (a missing folder that appeared, a symlink
 * replaced by a file) went deaf. Each handle remembers the identity (device,
 * inode) of the folder it was opened on: a folder replaced, renamed away or
 * recreated gets a fresh handle on the next update.
 */
export class FileSource {
  readonly #events = new Subject<FileEvent>();
  readonly #problems = new Subject<WatchProblem | undefined>();
  readonly #logger: Logger;
  /** Paths whose events matter: the files, the links leading to them, missing folders. */
  #relevant = new Set<string>();
  /** Real folder path → its watch. */
  readonly #watches = new Map<string, FolderWatch>();
  #problem: WatchProblem | undefined;
  #closed = false;
  #updating: Promise<void> = Promise.resolve();

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Every relevant event, unfiltered and not debounced. */
  get events$(): Observable<FileEvent> {
    return this.#events.asObservable();
  }

  /** The current watch problem, `undefined` once every folder is watched again. */
  get problem(): WatchProblem | undefined {
    return this.#problem;
  }

  /** Emits each new problem, and `undefined` when it is over. */
  get problems$(): Observable<WatchProblem | undefined> {
    return this.#problems.asObservable();
  }

  /**
   * Watches exactly these files (absolute paths), replacing the previous set.
   * A folder that does not exist yet is watched for from its nearest existing
   * ancestor. Whenever the set grows or a folder gets a new watch, one event
   * follows once the watches are in place: a file may have changed before its
   * watch was.
   */
  watchFiles(files: Iterable<string>): Promise<void> {
    const list = [...files];
    // One update at a time, in call order.
    this.#updating = this.#updating.catch(() => {}).then(() => this.#watchFiles(list));
    return this.#updating;
  }

  async #watchFiles(files: readonly string[]): Promise<void> {
    const relevant = new Set<string>();
    const dirs = new Set<string>();
    for (const file of files) for (const path of linkChain(file)) relevant.add(path);
    for (const path of [...relevant]) {
      let dir = dirname(path);
      let child = path;
      while (!(await isDirectory(dir)) && dir !== dirname(dir)) {
        child = dir;
        dir = dirname(dir);
      }
      // The missing folder's creation is the event to wait for; events name
      // it under the real path of the folder watched.
      const realDir = await realpath(dir).catch(() => dir);
      relevant.add(child);
      relevant.add(join(realDir, basename(child)));
      dirs.add(realDir);
    }
    if (this.#closed) return;
    const grew = [...relevant].some((path) => !this.#relevant.has(path));
    this.#relevant = relevant;
    for (const [dir, watch] of this.#watches) {
      if (!dirs.has(dir)) this.#unwatch(dir, watch);
    }
    // Opened a handle, or found a folder gone since the set was computed:
    // either way an event follows, whose attempt re-derives the set.
    let changed = false;
    let problem: WatchProblem | undefined;
    for (const dir of dirs) {
      const stats = await stat(dir).catch(() => undefined);
      if (this.#closed) return;
      const identity = stats?.isDirectory() ? folderIdentity(stats) : undefined;
      const current = this.#watches.get(dir);
      if (current && !current.stale && current.identity === identity) continue;
      // Renamed away, deleted or replaced since the handle was opened: the
      // handle follows the old folder (or nothing), not the path.
      if (current) this.#unwatch(dir, current);
      const outcome = identity ? this.#open(dir, identity) : true;
      // A handle the kernel refused is no change: the resync covers it.
      if (outcome === true || current) changed = true;
      if (outcome !== true) problem ??= outcome;
    }
    this.#setProblem(problem);
    if (this.#closed || (!grew && !changed)) return;
    this.#emit([...relevant][0] ?? "");
  }

  /** Opens the watch on `dir`; `true` (or the folder is gone), or what went wrong. */
  #open(dir: string, identity: string): true | WatchProblem {
    let handle: FSWatcher;
    try {
      handle = watch(dir, { persistent: true }, (_event, name) => this.#onEvent(dir, name));
    } catch (err) {
      // Gone again since its stat: the event that follows looks once more.
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return true;
      return describeWatchError(dir, err);
    }
    // A folder vanishing under its watch, or the kernel refusing, is an
    // event to act on: drop the handle and look again.
    handle.on("error", (err) => {
      const problem = describeWatchError(dir, err);
      this.#logger.warn({ path: dir, code: problem.code }, problem.message);
      const current = this.#watches.get(dir);
      if (current?.handle === handle) this.#unwatch(dir, current);
      this.#emit(dir);
    });
    this.#watches.set(dir, { handle, identity, stale: false });
    return true;
  }

  #unwatch(dir: string, watch: FolderWatch): void {
    watch.handle.close();
    if (this.#watches.get(dir) === watch) this.#watches.delete(dir);
  }

  #onEvent(dir: string, name: string | Buffer | null): void {
    if (this.#closed) return;
    // No name (the kernel's queue overflowed, for one): anything may have changed.
    if (name === null || name === "") {
      this.#emit(dir);
      return;
    }
    const entry = typeof name === "string" ? name : name.toString();
    const path = join(dir, entry);
    // An event about the watched folder itself (moved, deleted, chmod) names
    // the folder: the next update opens a fresh handle.
    const self = entry === basename(dir);
    if (self) {
      const watch = this.#watches.get(dir);
      if (watch) watch.stale = true;
    }
    if (self || this.#relevant.has(path)) this.#emit(path);
  }

  #emit(path: string): void {
    if (!this.#closed) this.#events.next({ path, at: performance.now() });
  }

  #setProblem(problem: WatchProblem | undefined): void {
    const before = this.#problem;
    this.#problem = problem;
    if (problem && (before?.code !== problem.code || before.path !== problem.path)) {
      this.#logger.warn({ path: problem.path, code: problem.code }, problem.message);
      this.#problems.next(problem);
    } else if (!problem && before) {
      this.#logger.info({ path: before.path }, "every watched folder is watched again");
      this.#problems.next(undefined);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#events.complete();
    this.#problems.complete();
    await this.#updating.catch(() => {});
    for (const [dir, watch] of this.#watches) this.#unwatch(dir, watch);
  }
}

/** A watch error as one sentence for the operator, naming the kernel limit when one was hit. */
export function describeWatchError(path: string, err: unknown): WatchProblem {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? "UNKNOWN";
  const why =
    code === "ENOSPC"
      ? "the inotify watch limit is reached: raise fs.inotify.max_user_watches (sysctl)"
      : code === "EMFILE"
        ? "too many open files or inotify instances: raise fs.inotify.max_user_instances (sysctl) or the open-file limit"
        : `${err instanceof Error ? err.message : String(err)}`;
  return {
    path,
    code,
    message: `cannot watch ${path} (${why}); changes there are seen only by the periodic resync, if it is on`,
  };
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() === true;
}

/** Symlink hops followed from one path; a loop of links ends here (Linux gives up at 40, `MAXSYMLINKS`). */
const MAX_LINK_HOPS = 32;

/**
 * `path`, every symlink it passes through (as a file of its own) and where
 * they lead, with directories resolved to real paths so the watcher watches
 * real directories: `config.yml → ..data/config.yml` gives
 * `[…/config.yml, …/..data, …/..2026_11_25/config.yml]`.
 */
export function linkChain(path: string): string[] {
  // Synchronous: a handful of syscalls on local folders, and the resync's
  // idle check then wakes no thread-pool thread (figure 7 of the bench).
  const chain: string[] = [];
  let current = resolve(path);
  for (let hop = 0; hop < MAX_LINK_HOPS; hop++) {
    const dir = dirname(current);
    const realDir = attempt(() => realpathSync(dir)) ?? dir;
    if (realDir !== dir) {
      // A directory on the way is a symlink: its swap is an event in its parent.
      for (let up = dir; up !== dirname(up); up = dirname(up)) {
        if (attempt(() => lstatSync(up))?.isSymbolicLink()) chain.push(up);
      }
    }
    const here = join(realDir, basename(current));
    chain.push(current);
    if (here !== current) chain.push(here);
    const target = attempt(() => readlinkSync(here));
    if (target === undefined) break;
    current = resolve(realDir, target);
  }
  return [...new Set(chain)];
}

/** `fn()`, or `undefined` if it throws (a missing file, a folder that is not one). */
function attempt<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}
