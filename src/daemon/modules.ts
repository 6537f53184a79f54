import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Logger } from "../log.js";
import type { AgentPool } from "../pool/pool.js";

/** What a `--module` file's default export is called with. */
export interface ModuleContext {
  pool: AgentPool;
  /** A child logger named after the module. */
  logger: Logger;
  /** Aborts when the daemon shuts down. */
  signal: AbortSignal;
}

/** The default export of a `--module` file. */
export type AgentpoolModule = (context: ModuleContext) => unknown;

/**
 * Loads each module and calls its default export. A module that fails to
 * load, throws, or rejects is logged; the daemon and the other modules go on.
 */
export async function startModules(
  files: readonly string[],
  context: Omit<ModuleContext, "logger"> & { logger: Logger },
): Promise<void> {
  for (const file of files) {
    const logger = context.logger.child({ module: file });
    try {
      const loaded = (await import(pathToFileURL(resolve(file)).href)) as { default?: unknown };
      if (typeof loaded.default !== "function") {
        logger.error("module has no default export function; skipped");
        continue;
      }
      const returned = (loaded.default as AgentpoolModule)({
        pool: context.pool,
        logger,
        signal: context.signal,
      });
      if (returned instanceof Promise)
        returned.catch((err: unknown) => logger.error({ err }, "module failed"));
      logger.info("module started");
    } catch (err) {
      logger.error({ err }, "module failed");
    }
  }
}
