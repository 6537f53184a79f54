import { pino } from "pino";
/**
 * Key material must never reach a log line, whatever a caller passes in.
 * Fixed here, never taken from config (pino's guidance).
 */
export const REDACT_PATHS = Object.freeze([
    "key",
    "tls.key",
    "*.key",
    "*.tls.key",
    "*.*.tls.key",
    "privateKey",
    "*.privateKey",
]);
/** The root logger: NDJSON on stdout (journald collects it), one child per module. */
export function createLogger(level = "info", destination) {
    const options = {
        name: "agentpool",
        level,
        redact: { paths: [...REDACT_PATHS], censor: "[redacted]" },
        base: { pid: process.pid },
    };
    return destination ? pino(options, destination) : pino(options);
}
