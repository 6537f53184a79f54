import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import type { Logger } from "../log.js";

/** A sender of systemd notifications (`sd_notify(3)`); does nothing without `NOTIFY_SOCKET`. */
export interface Notifier {
  /** True when `NOTIFY_SOCKET` is set. */
  readonly enabled: boolean;
  /** Sends `KEY=value` lines in one datagram. */
  send(fields: Record<string, string | number>): void;
  /** `RELOADING=1` with `MONOTONIC_USEC`, as `Type=notify-reload` wants it. */
  reloading(): void;
  ready(status: string): void;
  status(status: string): void;
  stopping(): void;
  close(): void;
}

interface DgramSocket {
  send(
    buf: Buffer,
    offset: number,
    length: number,
    path: string,
    callback?: (err?: Error) => void,
  ): void;
  close(): void;
  on(event: "error", listener: (err: Error) => void): void;
}

/** CLOCK_MONOTONIC in microseconds: libuv's hrtime reads that clock on Linux. */
export function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n;
}

/** Options of {@link createNotifier}. */
export interface NotifierOptions {
  /** Send through the `systemd-notify` tool even when the addon is there. */
  useTool?: boolean;
}

/**
 * The notifier for `env.NOTIFY_SOCKET`. Node has no AF_UNIX datagram socket of
 * its own. The `unix-dgram` addon sends from this very process, which
 * `NotifyAccess=main` accepts. Where it did not build, or the socket is
 * abstract (`@…`, which it cannot address), the `systemd-notify` tool that
 * every systemd host has sends instead (the unit sets `NotifyAccess=all` for
 * that case).
 */
export function createNotifier(
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
  options: NotifierOptions = {},
): Notifier {
  const socketPath = env.NOTIFY_SOCKET;
  let watchdog: NodeJS.Timeout | undefined;
  let socket: DgramSocket | undefined;
  let warned = false;
  let viaTool: Promise<void> = Promise.resolve();

  const warnOnce = (err: unknown, via: string) => {
    if (warned) return;
    warned = true;
    logger.warn({ err, via }, "could not notify systemd");
  };

  if (socketPath && !socketPath.startsWith("@") && !options.useTool) {
    try {
      const require = createRequire(import.meta.url);
      const dgram = require("unix-dgram") as { createSocket(type: "unix_dgram"): DgramSocket };
      socket = dgram.createSocket("unix_dgram");
      socket.on("error", (err) => warnOnce(err, "unix-dgram"));
    } catch {
      socket = undefined;
    }
  }

  const send = (fields: Record<string, string | number>) => {
    if (!socketPath) return;
    const lines = Object.entries(fields).map(([k, v]) => `${k}=${String(v).replace(/\n/g, " ")}`);
    if (socket) {
      const message = Buffer.from(lines.join("\n"));
      try {
        socket.send(
          message,
          0,
          message.length,
          socketPath,
          (err) => err && warnOnce(err, "unix-dgram"),
        );
      } catch (err) {
        warnOnce(err, "unix-dgram");
      }
      return;
    }
    // One tool process at a time, so RELOADING=1 never overtakes READY=1.
    viaTool = viaTool.then(
      () =>
        new Promise<void>((done) => {
          const toolEnv = { ...process.env, NOTIFY_SOCKET: socketPath };
          execFile(
            "systemd-notify",
            [`--pid=${process.pid}`, ...lines],
            { env: toolEnv },
            (err) => {
              if (err) warnOnce(err, "systemd-notify");
              done();
            },
          );
        }),
    );
  };

  const watchdogUsec = Number(env.WATCHDOG_USEC);
  const watchdogPid = env.WATCHDOG_PID ? Number(env.WATCHDOG_PID) : process.pid;
  if (socketPath && watchdogUsec > 0 && watchdogPid === process.pid) {
    // Half the interval, as sd_watchdog_enabled(3) advises.
    watchdog = setInterval(
      () => send({ WATCHDOG: 1 }),
      Math.max(1, Math.floor(watchdogUsec / 2000)),
    );
    watchdog.unref();
  }

  return {
    enabled: Boolean(socketPath),
    send,
    reloading: () => send({ RELOADING: 1, MONOTONIC_USEC: monotonicUsec().toString() }),
    ready: (status) => send({ READY: 1, STATUS: status }),
    status: (status) => send({ STATUS: status }),
    stopping: () => send({ STOPPING: 1, STATUS: "stopping" }),
    close: () => {
      clearInterval(watchdog);
      socket?.close();
      socket = undefined;
    },
  };
}
