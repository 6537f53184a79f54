import type { Logger } from "../log.js";
import { EXIT } from "./exit-codes.js";
import type { Notifier } from "./notify.js";

let expected = false;

/** The CLI is about to exit on purpose (the daemon's own exit, even one forced by a shutdown bound). */
export function expectExit(): void {
  expected = true;
}

/**
 * Until the returned function is called, an exit the daemon did not ask for
 * (a `--module` calling `process.exit()`) is logged and announced to systemd
 * with STOPPING=1 on the way out. Only synchronous work can run in an `exit`
 * listener: the log line (pino writes stdout synchronously) and the
 * notification through the `unix-dgram` socket get out; through the
 * `systemd-notify` tool it cannot.
 */
export function watchForeignExit(logger: Logger, notifier: Notifier): () => void {
  const onExit = (code: number) => {
    if (expected) return;
    logger.fatal(
      { code, exitCode: EXIT.crash },
      "process.exit() was called while the daemon was running (by a --module?); stopping",
    );
    notifier.stopping();
    // Whatever code it gave, the daemon did not choose to stop: exit as a
    // crash, so systemd restarts it (an exit 1 would read as "invalid config").
    process.exitCode = EXIT.crash;
  };
  process.on("exit", onExit);
  return () => process.off("exit", onExit);
}
