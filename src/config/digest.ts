import { createHash } from "node:crypto";
import { MAX_CONFIG_BYTES, readFileBounded } from "./read-file.js";

/**
 * One identity for the bytes of every file a config attempt read: "same
 * digest" means "same bytes everywhere", so the attempt is not a change.
 * The loader gives it as `PreparedConfig.digest`; the reload pipeline takes
 * it from there, and from {@link digestFiles} for a rejected attempt.
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
      // A larger file is identified by its error: the loader refuses it too.
      const file = await readFileBounded(path, MAX_CONFIG_BYTES);
      inputs.set(path, file.sha256);
    } catch (err) {
      inputs.set(path, `unreadable:${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return digestInputs(inputs);
}
