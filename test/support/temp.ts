import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A fresh folder under the system's temp folder; `cleanup()` removes it and everything in it. */
export interface TempDir {
  readonly dir: string;
  cleanup(): Promise<void>;
}

/** Makes a {@link TempDir} named `<prefix>XXXXXX`. */
export async function makeTempDir(prefix = "agentpool-test-"): Promise<TempDir> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
