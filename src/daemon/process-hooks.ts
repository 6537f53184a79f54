import { config as rxjsConfig } from "rxjs";
import type { Logger } from "../log.js";
import { watchForeignExit } from "./exit-guard.js";
import type { Notifier } from "./notify.js";

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
 *   logged, never fatal. The previous handler is put back;
 * - `exit`: an exit the daemon did not ask for (a module's `process.exit()`)
 *   is logged and told to systemd (see `watchForeignExit`).
 */
export function installProcessHooks(
  logger: Logger,
  notifier: Notifier,
  handlers: ProcessHookHandlers,
): () => void {
  const onHup = () => handlers.reload();
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
  const unwatchExit = watchForeignExit(logger, notifier);
  let installed = true;
  return () => {
    if (!installed) return;
    installed = false;
    unwatchExit();
    process.off("SIGHUP", onHup);
    process.off("SIGTERM", onTerm);
    process.off("SIGINT", onTerm);
    process.off("uncaughtException", onUncaught);
    process.off("unhandledRejection", onUncaught);
    rxjsConfig.onUnhandledError = previousOnUnhandledError;
  };
}
