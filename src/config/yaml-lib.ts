import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import type * as Yaml from "yaml";

/**
 * The `yaml` package, loaded from its browser build. That build is the same
 * code as the Node build, except that the Node build's parser reads
 * `process.env.LOG_TOKENS` for every token — a native call that took 11 % of
 * the time of loading a 1,000-agent config (node --cpu-prof). Both builds are
 * in the package; the browser one is plain ESM that Node runs as it is. If it
 * cannot be found (another layout of the package), the Node build is used.
 */
async function loadYaml(): Promise<typeof Yaml> {
  try {
    const nodeEntry = createRequire(import.meta.url).resolve("yaml");
    const browserEntry = join(dirname(nodeEntry), "..", "browser", "index.js");
    return (await import(pathToFileURL(browserEntry).href)) as typeof Yaml;
  } catch {
    return await import("yaml");
  }
}

export const yaml: typeof Yaml = await loadYaml();
