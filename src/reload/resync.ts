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
