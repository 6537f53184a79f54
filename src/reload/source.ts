import { lstat, readlink, realpath, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { type FSWatcher, watch } from "chokidar";
import { type Observable, Subject } from "rxjs";
import type { Logger } from "../log.js";

/** A file-system event on one of the files a config depends on. */
export interface FileEvent {
  /** Absolute path the event was about. */
  path: string;
  /** `performance.now()` when it arrived. */
  at: number;
}

/**
 * Watches the files a config depends on — config.yml and its TLS files — in a
 * way that survives every way of saving them. It watches the DIRECTORIES that
 * hold them, never a file's inode, because editors, `sed -i`, `git checkout`
 * and Kubernetes replace files or swap symlinks. Symlinks on the way to a file
 * (ConfigMap's `..data`) are watched as files of their own.
 */
export class FileSource {
  readonly #events = new Subject<FileEvent>();
  readonly #watcher: FSWatcher;
  readonly #logger: Logger;
  /** Paths whose events matter: the files, the links leading to them. */
  #relevant = new Set<string>();
  #dirs = new Set<string>();
  #closed = false;
  #updating: Promise<void> = Promise.resolve();

  constructor(logger: Logger) {
    this.#logger = logger;
    this.#watcher = watch([], {
      ignoreInitial: true,
      depth: 0,
      followSymlinks: false,
      // chokidar's atomic mode hides dot-files such as ConfigMap's `..data`.
      atomic: false,
      ignorePermissionErrors: true,
      // Only the entries that matter get a watcher of their own; the directory
      // watcher still reports every entry through raw events.
      ignored: (path, stats) =>
        !this.#dirs.has(path) && !this.#relevant.has(path) && stats?.isDirectory() !== true,
    });
    // chokidar drops a second "change" on a path within 50 ms and sends no
    // trailing one, so the last write of a quick burst would go unseen. Raw
    // fs.watch events are not throttled.
    this.#watcher.on("raw", (_event, evPath, details) => {
      const watched = (details as { watchedPath?: string } | undefined)?.watchedPath;
      if (!watched || typeof evPath !== "string" || evPath === "") return;
      this.#offer(join(watched, evPath));
      if (basename(watched) === evPath) this.#offer(watched);
    });
    // Watcher hiccups (a directory vanishing mid-rename) are events, not crashes.
    this.#watcher.on("error", (err) => this.#logger.warn({ err }, "file watcher error"));
  }

  /** Every relevant event, unfiltered and not debounced. */
  get events$(): Observable<FileEvent> {
    return this.#events.asObservable();
  }

  /**
   * Watches exactly these files (absolute paths), replacing the previous set.
   * A folder that does not exist yet is watched for from its nearest existing
   * ancestor. Whenever the set grows, one event follows once the watches are
   * in place: a file may have changed before its watch was.
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
    for (const file of files) for (const path of await linkChain(file)) relevant.add(path);
    for (const path of [...relevant]) {
      let dir = dirname(path);
      let child = path;
      while (!(await isDirectory(dir)) && dir !== dirname(dir)) {
        child = dir;
        dir = dirname(dir);
      }
      // The missing folder's creation is the event to wait for.
      relevant.add(child);
      dirs.add(dir);
    }
    if (this.#closed) return;
    const grew = [...relevant].some((path) => !this.#relevant.has(path));
    this.#relevant = relevant;
    const added = [...dirs].filter((d) => !this.#dirs.has(d));
    const removed = [...this.#dirs].filter((d) => !dirs.has(d));
    this.#dirs = dirs;
    if (removed.length > 0) this.#watcher.unwatch(removed);
    if (added.length > 0) {
      this.#watcher.add(added);
      await this.#watching(added);
    }
    if (this.#closed || (!grew && added.length === 0)) return;
    const path = [...relevant][0] ?? "";
    this.#events.next({ path, at: performance.now() });
    // chokidar lists a folder before its fs.watch is open (it reads the
    // folder first), so look once more when that has surely happened.
    if (added.length > 0) {
      setTimeout(() => {
        if (!this.#closed) this.#events.next({ path, at: performance.now() });
      }, 100).unref();
    }
  }

  /**
   * Resolves once chokidar lists these folders as watched, or after a bound.
   * chokidar's own "ready" fires only once per watcher, so it cannot tell.
   */
  async #watching(dirs: readonly string[]): Promise<void> {
    const deadline = performance.now() + 1_000;
    while (!this.#closed && performance.now() < deadline) {
      const watched = this.#watcher.getWatched();
      if (dirs.every((dir) => dir in watched)) return;
      await new Promise((done) => setTimeout(done, 2));
    }
  }

  #offer(path: string): void {
    if (this.#relevant.has(path)) this.#events.next({ path, at: performance.now() });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#events.complete();
    await this.#updating.catch(() => {});
    await this.#watcher.close();
  }
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
export async function linkChain(path: string): Promise<string[]> {
  const chain: string[] = [];
  let current = resolve(path);
  for (let hop = 0; hop < MAX_LINK_HOPS; hop++) {
    const dir = dirname(current);
    const realDir = await realpath(dir).catch(() => dir);
    if (realDir !== dir) {
      // A directory on the way is a symlink: its swap is an event in its parent.
      for (let up = dir; up !== dirname(up); up = dirname(up)) {
        const stats = await lstat(up).catch(() => undefined);
        if (stats?.isSymbolicLink()) chain.push(up);
      }
    }
    const here = join(realDir, basename(current));
    chain.push(current);
    if (here !== current) chain.push(here);
    const target = await readlink(here).catch(() => undefined);
    if (target === undefined) break;
    current = resolve(realDir, target);
  }
  return [...new Set(chain)];
}
