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
  return prettyStream({
    sync: true,
    colorize: options.colorize ?? (process.stdout.isTTY === true && !process.env.NO_COLOR),
    destination: options.destination ?? 1,
    singleLine: true,
    // The reload log carries the located config error as a string under `error`: keep it on the line.
    errorLikeObjectKeys: ["err"],
    translateTime: "SYS:HH:MM:ss.l",
    // Bound to every line; the module names the speaker instead.
    ignore: "pid,hostname,name,module",
    messageFormat: "{if module}{module}: {end}{msg}",
  });
}
