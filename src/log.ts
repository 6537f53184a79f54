import { writeSync } from "node:fs";
import { type DestinationStream, type Logger, type LoggerOptions, pino } from "pino";

export type { Logger };

/**
 * Key material must never reach a log line, whatever a caller passes in.
 * Fixed here, never taken from config (pino's guidance).
 */
export const REDACT_PATHS: readonly string[] = Object.freeze([
  "key",
  "tls.key",
  "*.key",
  "*.tls.key",
  "*.*.tls.key",
  "privateKey",
  "*.privateKey",
]);

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

/** The root logger: NDJSON on stdout (journald collects it), one child per module. */
export function createLogger(level: LogLevel = "info", destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    name: "agentpool",
    level,
    redact: { paths: [...REDACT_PATHS], censor: "[redacted]" },
    base: { pid: process.pid },
  };
  return pino(options, destination ?? stdoutDestination());
}

/** Why the log stopped (stdout failed), shown by `/status` as `logProblem`. */
export interface LogProblem {
  /** The write's error code: `EPIPE`, `EIO`, `EBADF`… */
  code: string;
  /** When, ISO 8601. */
  since: string;
}

let problem: LogProblem | undefined;

/** Set once a log destination on stdout has failed and been dropped; process-wide, as stdout is. */
export function logProblem(): LogProblem | undefined {
  return problem;
}

/**
 * stdout, written synchronously: a line is out when the call that logged it
 * returns, and nothing is left to flush at exit. pino's default destination
 * buffers and flushes at exit with sonic-boom's flushSync, which retries a
 * write that fails with anything but EAGAIN forever: a daemon whose terminal
 * had hung up (EIO) never exited. A destination that fails is dropped, and
 * stderr gets one line saying so: there is nowhere else left to say it.
 */
export function stdoutDestination(): DestinationStream {
  const destination = pino.destination({ fd: 1, sync: true });
  let dropped = false;
  destination.on("error", (err: NodeJS.ErrnoException) => {
    if (dropped) return;
    dropped = true;
    problem ??= { code: err.code ?? "ERR", since: new Date().toISOString() };
    destination.write = () => true;
    destination.flushSync = () => {};
    try {
      writeSync(
        2,
        `agentpool: cannot write the log to stdout (${err.code ?? err.message}); logging stops\n`,
      );
    } catch {
      // stderr is gone too.
    }
  });
  return destination;
}
