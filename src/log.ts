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
  return destination ? pino(options, destination) : pino(options);
}
