import type { DestinationStream } from "pino";

/** How the daemon writes its log: pino's NDJSON, or one human line per event. */
export type LogFormat = "json" | "pretty";

/** The values `--log-format` takes. */
export const LOG_FORMATS: readonly LogFormat[] = Object.freeze(["json", "pretty"]);

/**
 * The format to log in: the one asked for, else `pretty` when stdout is a
 * terminal and `json` when it is not (journald, a pipe, a file, CI).
 */
export function resolveLogFormat(
  asked: LogFormat | undefined,
  stdout: { isTTY?: boolean } = process.stdout,
): LogFormat {
  return asked ?? (stdout.isTTY === true ? "pretty" : "json");
}

/**
 * A pino destination that turns each record into one line:
 * `12:00:01.234 INFO  reload: config loaded {"result":"success",…}`.
 * Synchronous, in this thread (no worker transport): a line is on the
 * terminal before the call that logged it returns, as with NDJSON.
 * pino-pretty is loaded here, on demand: importing it costs about 90 ms of
 * start-up, which a daemon logging JSON under systemd should not pay.
 */
export async function prettyDestination(
  options: { colorize?: boolean; destination?: NodeJS.WritableStream | number } = {},
): Promise<DestinationStream> {
  const { build: prettyStream } = await import("pino-pretty");
  const { stdoutDestination } = await import("./log.js");
  return prettyStream({
    sync: true,
    colorize: options.colorize ?? (process.stdout.isTTY === true && !process.env.NO_COLOR),
    destination: options.destination ?? stdoutDestination(),
    singleLine: true,
    translateTime: "SYS:HH:MM:ss.l",
    // Bound to every line; the module names the speaker instead. `err` is
    // folded into the message: pino-pretty would print it on lines of its own.
    ignore: "pid,hostname,name,module,err",
    // None is printed apart: the reload log's located error (`error`) stays on the line too.
    errorLikeObjectKeys: [],
    messageFormat: (record, messageKey) => oneLine(record, messageKey),
  });
}

/** `module: message — error`, on one line whatever the error holds. */
function oneLine(record: Record<string, unknown>, messageKey: string): string {
  const speaker = typeof record.module === "string" ? `${record.module}: ` : "";
  const err = record.err;
  let cause = "";
  if (typeof err === "string") cause = ` — ${err}`;
  else if (
    err &&
    typeof err === "object" &&
    typeof (err as { message?: unknown }).message === "string"
  )
    cause = ` — ${(err as { message: string }).message}`;
  else if (err !== undefined) cause = ` — ${JSON.stringify(err)}`;
  return `${speaker}${String(record[messageKey] ?? "")}${cause}`.replace(/[\r\n]+/g, " ⏎ ");
}
