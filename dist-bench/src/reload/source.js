import { lstat, readlink, realpath, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { watch } from "chokidar";
import { Subject } from "rxjs";
/**
 * Watches the files a config depends on — config.yml and its TLS files — in a
 * way that survives every way of saving them. It watches the DIRECTORIES that
 * hold them, never a file's inode, because editors, `sed -i`, `git checkout`
 * and Kubernetes replace files or swap symlinks. Symlinks on the way to a file
 * (ConfigMap's `..data`) are watched as files of their own.
 */
export class FileSource {
    #events = new Subject();
    #watcher;
    #logger;
    /** Paths whose events matter: the files, the links leading to them. */
    #relevant = new Set();
    #dirs = new Set();
    #started = false;
    #updating = Promise.resolve();
    constructor(logger) {
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
            ignored: (path, stats) => !this.#dirs.has(path) && !this.#relevant.has(path) && stats?.isDirectory() !== true,
        });
        // chokidar drops a second "change" on a path within 50 ms and sends no
        // trailing one, so the last write of a quick burst would go unseen. Raw
        // fs.watch events are not throttled.
        this.#watcher.on("raw", (_event, evPath, details) => {
            const watched = details?.watchedPath;
            if (!watched || typeof evPath !== "string" || evPath === "")
                return;
            this.#offer(join(watched, evPath));
            if (basename(watched) === evPath)
                this.#offer(watched);
        });
        // Watcher hiccups (a directory vanishing mid-rename) are events, not crashes.
        this.#watcher.on("error", (err) => this.#logger.warn({ err }, "file watcher error"));
    }
    /** Every relevant event, unfiltered and not debounced. */
    get events$() {
        return this.#events.asObservable();
    }
    /**
     * Watches exactly these files (absolute paths), replacing the previous set.
     * A folder that does not exist yet is watched for from its nearest existing
     * ancestor. When new folders come under watch, one event is emitted: a file
     * may have changed before its watch was in place.
     */
    watchFiles(files) {
        const list = [...files];
        // One update at a time, in call order.
        this.#updating = this.#updating.catch(() => { }).then(() => this.#watchFiles(list));
        return this.#updating;
    }
    async #watchFiles(files) {
        const relevant = new Set();
        const dirs = new Set();
        for (const file of files)
            for (const path of await linkChain(file))
                relevant.add(path);
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
        this.#relevant = relevant;
        const added = [...dirs].filter((d) => !this.#dirs.has(d));
        const removed = [...this.#dirs].filter((d) => !dirs.has(d));
        this.#dirs = dirs;
        if (removed.length > 0)
            this.#watcher.unwatch(removed);
        if (added.length === 0)
            return;
        const ready = new Promise((done) => this.#watcher.once("ready", () => done()));
        this.#watcher.add(added);
        // chokidar says "ready" once per add() batch; a bound keeps a slow scan from blocking.
        await Promise.race([ready, new Promise((done) => setTimeout(done, 2_000).unref())]);
        if (this.#started)
            this.#events.next({ path: [...relevant][0] ?? "", at: performance.now() });
        this.#started = true;
    }
    #offer(path) {
        if (this.#relevant.has(path))
            this.#events.next({ path, at: performance.now() });
    }
    async close() {
        this.#events.complete();
        await this.#watcher.close();
    }
}
/**
 * `path`, every symlink it passes through (as a file of its own) and where
 * they lead, with directories resolved to real paths so the watcher watches
 * real directories: `config.yml → ..data/config.yml` gives
 * `[…/config.yml, …/..data, …/..2026_11_25/config.yml]`.
 */
async function isDirectory(path) {
    return (await stat(path).catch(() => undefined))?.isDirectory() === true;
}
export async function linkChain(path) {
    const chain = [];
    let current = resolve(path);
    for (let hop = 0; hop < 32; hop++) {
        const dir = dirname(current);
        const realDir = await realpath(dir).catch(() => dir);
        if (realDir !== dir) {
            // A directory on the way is a symlink: its swap is an event in its parent.
            for (let up = dir; up !== dirname(up); up = dirname(up)) {
                const stats = await lstat(up).catch(() => undefined);
                if (stats?.isSymbolicLink())
                    chain.push(up);
            }
        }
        const here = join(realDir, basename(current));
        chain.push(current);
        if (here !== current)
            chain.push(here);
        const target = await readlink(here).catch(() => undefined);
        if (target === undefined)
            break;
        current = resolve(realDir, target);
    }
    return [...new Set(chain)];
}
