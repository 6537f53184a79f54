import { lstatSync, readlinkSync } from "node:fs";
import { linkChain } from "./source.js";

/** How often the daemon re-checks the watched chains by default: low enough to cost nothing. */
export const DEFAULT_RESYNC_MS = 30_000;

/**
 * Path → identity of every file and link on the chains leading to `files`:
 * device, inode, size and mtime, plus the target of a link. A file event that
 * went missing (a lost watch, a full inotify queue, a watch limit reached)
 * still leaves one of these different. Synchronous on purpose: a few `lstat`
 * calls cost less than waking the thread pool for them while idle.
 */
export function chainIdentities(files: Iterable<string>): Map<string, string> {
  const identities = new Map<string, string>();
  for (const file of files) {
    for (const path of linkChain(file)) {
      if (!identities.has(path)) identities.set(path, identityOf(path));
    }
  }
  return identities;
}

function identityOf(path: string): string {
  try {
    const stats = lstatSync(path, { bigint: true });
    const base = `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}`;
    return stats.isSymbolicLink() ? `${base}->${readlinkSync(path)}` : base;
  } catch (err) {
    return `error:${(err as NodeJS.ErrnoException).code ?? "unknown"}`;
  }
}

/** The first path whose identity differs between two readings, or that only one has. */
export function firstDifference(
  before: ReadonlyMap<string, string>,
  after: ReadonlyMap<string, string>,
): string | undefined {
  for (const [path, identity] of after) if (before.get(path) !== identity) return path;
  for (const path of before.keys()) if (!after.has(path)) return path;
  return undefined;
}

/**
 * What the resync compares against: the identities of the files the last
 * attempt read, taken BEFORE it read them (a change during the read must show
 * as a difference, not be recorded as seen). `watchConfig` tells it when an
 * attempt starts and what it read, and each file event; every period it asks
 * {@link missedChange}.
 */
export class ResyncTracker {
  readonly #periodMs: number;
  #files: readonly string[];
  #inFlight = false;
  #startedAt = 0;
  #lastEventAt = 0;
  #beforeRead = new Map<string, string>();
  #read: Map<string, string> | undefined;

  /** `periodMs` 0 is off: nothing is read. `configPath` absolute. */
  constructor(periodMs: number, configPath: string) {
    this.#periodMs = periodMs;
    this.#files = [configPath];
  }

  /** The files the last attempt read (config.yml first), which the watcher watches too. */
  get files(): readonly string[] {
    return this.#files;
  }

  attemptStarted(): void {
    this.#inFlight = true;
    this.#startedAt = performance.now();
    if (this.#periodMs > 0) this.#beforeRead = chainIdentities(this.#files);
  }

  /** The attempt read (or tried to read) `files`. */
  attemptRead(files: readonly string[]): void {
    this.#files = files;
    this.#inFlight = false;
    if (this.#periodMs === 0) return;
    // Paths new to this attempt (a TLS file it just started to use) are
    // taken now; the ones the previous attempt had too, from before the read.
    const read = chainIdentities(files);
    for (const [path, identity] of this.#beforeRead) if (read.has(path)) read.set(path, identity);
    this.#read = read;
  }

  eventSeen(at: number): void {
    this.#lastEventAt = at;
  }

  /**
   * The first path that changed with no event telling of it, or undefined;
   * the new reading becomes the one to compare with. An event or an attempt
   * under way reads the files anyway, so it is left to them.
   */
  missedChange(): string | undefined {
    if (this.#inFlight || this.#lastEventAt > this.#startedAt || !this.#read) return undefined;
    const now = chainIdentities(this.#files);
    const path = firstDifference(this.#read, now);
    if (path !== undefined) this.#read = now;
    return path;
  }
}
