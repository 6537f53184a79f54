import { lstat, readlink } from "node:fs/promises";
import { linkChain } from "./source.js";

/** How often the daemon re-checks the watched chains by default: low enough to cost nothing. */
export const DEFAULT_RESYNC_MS = 30_000;

/**
 * Path → identity of every file and link on the chains leading to `files`:
 * device, inode, size and mtime, plus the target of a link. A file event that
 * went missing (a lost watch, a full inotify queue, a watch limit reached)
 * still leaves one of these different.
 */
export async function chainIdentities(files: Iterable<string>): Promise<Map<string, string>> {
  const identities = new Map<string, string>();
  for (const file of files) {
    for (const path of await linkChain(file)) {
      if (identities.has(path)) continue;
      identities.set(path, await identityOf(path));
    }
  }
  return identities;
}

async function identityOf(path: string): Promise<string> {
  try {
    const stats = await lstat(path, { bigint: true });
    const base = `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}`;
    return stats.isSymbolicLink() ? `${base}->${await readlink(path)}` : base;
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
