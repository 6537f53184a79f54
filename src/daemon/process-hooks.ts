import { config as rxjsConfig } from "rxjs";
import type { Logger } from "../log.js";

/** What the daemon does when the process is told something. */
export interface ProcessHookHandlers {
  /** SIGHUP: reload the config. */
  reload(): void;
  /** SIGTERM or SIGINT: shut down. */
  stop(signal: NodeJS.Signals): void;
}

/**
 * Installs every process-wide hook the daemon needs and returns the one
 * function that removes them all again (for tests that run the daemon in
 * process, and for a clean exit):
 * - SIGHUP, SIGTERM, SIGINT: SIGHUP's default action would kill the process,
 *   so it is handled from the first moment, as is a SIGTERM during start-up;
 * - `uncaughtException`, `unhandledRejection`: a `--module`'s mistake is
 *   logged and the daemon goes on;
 * - RxJS's `config.onUnhandledError`: a snapshot subscriber that throws is
 *   logged, never fatal. The previous handler is put back.
 */
export function installProcessHooks(logger: Logger, handlers: ProcessHookHandlers): () => void {
  const onHup = () => {
    logger.info("SIGHUP: reloading");
    handlers.reload();
  };
  const onTerm = (signal: NodeJS.Signals) => handlers.stop(signal);
  const onUncaught = (err: unknown) =>
    logger.error({ err }, "uncaught error (in a module?); the daemon goes on");
  const previousOnUnhandledError = rxjsConfig.onUnhandledError;
  rxjsConfig.onUnhandledError = (err) => logger.error({ err }, "a snapshot subscriber threw");
  process.on("SIGHUP", onHup);
  process.on("SIGTERM", onTerm);
  process.on("SIGINT", onTerm);
  process.on("uncaughtException", onUncaught);
  process.on("unhandledRejection", onUncaught);
  let installed = true;
  return () => {
    if (!installed) return;
    installed = false;
    process.off("SIGHUP", onHup);
    process.off("SIGTERM", onTerm);
    process.off("SIGINT", onTerm);
    process.off("uncaughtException", onUncaught);
    process.off("unhandledRejection", onUncaught);
    rxjsConfig.onUnhandledError = previousOnUnhandledError;
  };
}
