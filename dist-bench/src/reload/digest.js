import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
/**
 * One identity for the bytes of every file a config attempt read: "same
 * digest" means "same bytes everywhere", so the attempt is not a change.
 */
export function digestInputs(inputs) {
    const hash = createHash("sha256");
    for (const [path, bytesHash] of inputs)
        hash.update(`${path}\0${bytesHash}\n`);
    return hash.digest("hex");
}
/** {@link digestInputs} for files read here; an unreadable file counts by its error code. */
export async function digestFiles(paths) {
    const inputs = new Map();
    for (const path of paths) {
        try {
            inputs.set(path, createHash("sha256")
                .update(await readFile(path))
                .digest("hex"));
        }
        catch (err) {
            inputs.set(path, `unreadable:${err.code ?? "?"}`);
        }
    }
    return digestInputs(inputs);
}
