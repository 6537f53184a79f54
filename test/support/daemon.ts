import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { NdjsonLines } from "./logs.js";

export const CLI = fileURLToPath(new URL("../../dist/daemon/cli.js", import.meta.url));

/** For tests that spawn the built CLI: a plain error when `dist/` is not there. */
export function requireBuiltCli(): void {
  if (!existsSync(CLI))
    throw new Error(`${CLI} is missing: run "npm run build" first (npm test does).`);
}

/** A daemon started as a real child process, with its NDJSON log lines parsed. */
export interface DaemonProcess {
  child: ChildProcess;
  /** Parsed log lines from stdout, in order. */
  logs: Array<Record<string, unknown>>;
  stderr(): string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
  waitForLog(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  stop(): Promise<number | string>;
}

export function startDaemon(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  cwd?: string,
  /** A command the daemon runs under (e.g. `unshare …`), which must exec it. */
  wrapper: readonly string[] = [],
): DaemonProcess {
  const [command, ...prefix] = [...wrapper, process.execPath];
  const child = spawn(command as string, [...prefix, CLI, ...args], {
    env: { ...process.env, ...env },
    ...(cwd ? { cwd } : {}),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines = new NdjsonLines();
  const logs = lines.records;
  let stderr = "";
  const waiters: Array<() => void> = [];
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    lines.push(chunk);
    for (const wake of waiters.splice(0)) wake();
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | string>((resolve) => {
    child.on("exit", (code, signal) => resolve(code ?? signal ?? -1));
  });

  const waitForLog = async (
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs = 10_000,
  ) => {
    const deadline = Date.now() + timeoutMs;
    let seen = 0;
    for (;;) {
      for (; seen < logs.length; seen++)
        if (match(logs[seen] as Record<string, unknown>))
          return logs[seen] as Record<string, unknown>;
      if (child.exitCode !== null)
        throw new Error(
          `daemon exited (${child.exitCode}) before the expected log line; stderr: ${stderr}`,
        );
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for a log line; got ${JSON.stringify(logs.slice(-5))}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  };

  return {
    child,
    logs,
    stderr: () => stderr,
    exited,
    waitForLog,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}
