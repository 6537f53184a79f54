import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

export const CLI = fileURLToPath(new URL("../../../../dist/daemon/cli.js", import.meta.url));
export const REPO = fileURLToPath(new URL("../../../../", import.meta.url));

interface DgramSocket {
  bind(path: string): void;
  close(): void;
  on(event: "message", listener: (message: Buffer) => void): void;
  on(event: "error", listener: (err: Error) => void): void;
}

/**
 * A NOTIFY_SOCKET as systemd binds it (AF_UNIX datagram), through the
 * `unix-dgram` addon the daemon itself uses to send.
 */
export interface NotifySocket {
  path: string;
  /** Resolves with performance.now() of the first datagram holding `READY=1`. */
  ready(): Promise<number>;
  close(): void;
}

export function bindNotifySocket(path: string): NotifySocket {
  const require = createRequire(import.meta.url);
  const dgram = require("unix-dgram") as {
    createSocket(type: "unix_dgram", listener?: (message: Buffer) => void): DgramSocket;
  };
  let readyAt: number | undefined;
  const waiters: Array<(at: number) => void> = [];
  const socket = dgram.createSocket("unix_dgram", (message) => {
    if (readyAt !== undefined) return;
    if (!message.toString("utf8").split("\n").includes("READY=1")) return;
    readyAt = performance.now();
    for (const wake of waiters.splice(0)) wake(readyAt);
  });
  socket.on("error", (err) => {
    throw err;
  });
  socket.bind(path);
  return {
    path,
    ready: () =>
      readyAt !== undefined
        ? Promise.resolve(readyAt)
        : new Promise((resolve) => waiters.push(resolve)),
    close: () => socket.close(),
  };
}

export function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
}

/** The daemon as systemd would start it, minus systemd: `run -c PATH --listen off`, NOTIFY_SOCKET set. */
export function spawnDaemon(configPath: string, notifySocket: string): ChildProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, NOTIFY_SOCKET: notifySocket };
  delete env.WATCHDOG_USEC;
  delete env.WATCHDOG_PID;
  return spawn(process.execPath, [CLI, "run", "-c", configPath, "--listen", "off"], {
    cwd: REPO,
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
}

/** SIGTERM, then wait for the exit (SIGKILL after a bound). */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Rejects if the child exits before `promise` settles, with its stderr. */
export function orExit<T>(
  child: ChildProcess,
  promise: Promise<T>,
  timeoutMs = 30_000,
): Promise<T> {
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no READY=1 within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onExit = (code: number | null) =>
      reject(new Error(`daemon exited (${code}) before READY=1: ${stderr.trim()}`));
    child.once("exit", onExit);
    promise.then(
      (value) => {
        clearTimeout(timer);
        child.off("exit", onExit);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
