import { createHash } from "node:crypto";
import { readFileBounded } from "../config/read-file.js";

/** Files larger than this are identified by their error, not hashed (the loader refuses them too). */
const MAX_HASHED_BYTES = 16 * 1024 * 1024;

/**
 * One identity for the bytes of every file a config attempt read: "same
 * digest" means "same bytes everywhere", so the attempt is not a change.
 */
export function digestInputs(inputs: ReadonlyMap<string, string>): string {
  const hash = createHash("sha256");
  for (const [path, bytesHash] of inputs) hash.update(`${path}\0${bytesHash}\n`);
  return hash.digest("hex");
}

/**
 * {@link digestInputs} for files read here; an unreadable file counts by its
 * error. Reads like the loader does — never blocking on a FIFO, never past
 * the size limit — since a rejected config may point at anything.
 */
export async function digestFiles(paths: readonly string[]): Promise<string> {
  const inputs = new Map<string, string>();
  for (const path of paths) {
    try {
      const file = await readFileBounded(path, MAX_HASHED_BYTES);
      inputs.set(path, file.sha256);
    } catch (err) {
      inputs.set(path, `unreadable:${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return digestInputs(inputs);
}
