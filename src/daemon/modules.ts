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

/** How long a module may take to load and return from its default export. */
export const DEFAULT_MODULE_TIMEOUT_MS = 10_000;

/**
 * Loads each module and calls its default export. A module that fails to
 * load, throws, or rejects is logged; the daemon and the other modules go on.
 * Loading and calling a module is bounded by `timeoutMs`: a module whose
 * import never settles (a top-level `await` that waits forever) cannot be
 * cancelled, so it is reported and left behind, and the daemon goes on to
 * become ready. A promise the default export returns is not waited for.
 */
export async function startModules(
  files: readonly string[],
  context: Omit<ModuleContext, "logger"> & { logger: Logger; timeoutMs?: number },
): Promise<void> {
  const timeoutMs = context.timeoutMs ?? DEFAULT_MODULE_TIMEOUT_MS;
  for (const file of files) {
    if (context.signal.aborted) return;
    const logger = context.logger.child({ module: file });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((done) => {
      timer = setTimeout(() => done("timeout"), timeoutMs);
    });
    try {
      const outcome = await Promise.race([startOne(file, context, logger), timedOut]);
      if (outcome === "timeout") {
        logger.error(
          { timeoutMs },
          `module did not finish starting within ${timeoutMs} ms; left behind, the daemon goes on`,
        );
      }
    } finally {
      clearTimeout(timer);
    }
  }
}

async function startOne(
  file: string,
  context: Omit<ModuleContext, "logger">,
  logger: Logger,
): Promise<"started" | "failed"> {
  try {
    const loaded = (await import(pathToFileURL(resolve(file)).href)) as { default?: unknown };
    if (typeof loaded.default !== "function") {
      logger.error("module has no default export function; skipped");
      return "failed";
    }
    const returned = (loaded.default as AgentpoolModule)({
      pool: context.pool,
      logger,
      signal: context.signal,
    });
    if (returned instanceof Promise)
      returned.catch((err: unknown) => logger.error({ err }, "module failed"));
    logger.info("module started");
    return "started";
  } catch (err) {
    // A mistyped path is the operator's mistake: its sentence, not a stack.
    if ((err as { code?: unknown }).code === "ERR_MODULE_NOT_FOUND")
      logger.error({ error: (err as Error).message }, "module not found; skipped");
    else logger.error({ err }, "module failed");
    return "failed";
  }
}
