import { execFileSync, spawn } from "node:child_process";
import { makeTempDir } from "../support/temp.js";

/** Whether the docker CLI is on PATH (a client is enough; no engine is needed). */
export const dockerCli = (() => {
  try {
    execFileSync("docker", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

export interface DockerRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A folder for the CLI's own config, so it reads nothing of the user's. */
export async function dockerConfigDir(): Promise<string> {
  return (await makeTempDir("agentpool-docker-cfg-")).dir;
}

export interface DockerCallOptions {
  socket: string;
  configDir: string;
  stdin?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the CLI (SIGINT, as Ctrl-C does) after this many ms. */
  interruptAfterMs?: number;
  /** Kill it with SIGINT once its stdout contains this. */
  interruptWhen?: RegExp;
  timeoutMs?: number;
  /** Called with everything the CLI printed so far, at each chunk. */
  onStdout?: (stdout: string) => void;
  /** Leave `-H` out (DOCKER_HOST or a context says where). */
  noHost?: boolean;
  /** Run the CLI on a pseudo-terminal (`script`), as `-t` needs. */
  tty?: boolean;
}

/** Whether `script` (util-linux) is there to give the CLI a terminal. */
export const scriptTool = (() => {
  try {
    execFileSync("script", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, "'\\''")}'`;
}

/** Runs the real docker CLI against a unix socket. */
export function docker(args: string[], options: DockerCallOptions): Promise<DockerRun> {
  return new Promise((resolve, reject) => {
    const argv = options.noHost ? args : ["-H", `unix://${options.socket}`, ...args];
    const [file, fileArgs] = options.tty
      ? ["script", ["-qefc", ["docker", ...argv].map(shellQuote).join(" "), "/dev/null"]]
      : ["docker", argv];
    const child = spawn(file as string, fileArgs as string[], {
      env: {
        PATH: process.env.PATH,
        HOME: options.configDir,
        DOCKER_CONFIG: options.configDir,
        ...options.env,
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    const interrupt = () => child.kill("SIGINT");
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      options.onStdout?.(stdout);
      if (options.interruptWhen?.test(stdout)) interrupt();
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    if (options.stdin !== undefined) child.stdin.end(options.stdin);
    else child.stdin.end();
    const timers = [
      setTimeout(() => {
        child.kill("SIGKILL");
        reject(
          new Error(`docker ${args.join(" ")} timed out; stdout: ${stdout} stderr: ${stderr}`),
        );
      }, options.timeoutMs ?? 30_000),
    ];
    if (options.interruptAfterMs !== undefined)
      timers.push(setTimeout(interrupt, options.interruptAfterMs));
    child.on("error", reject);
    child.on("close", (code) => {
      for (const timer of timers) clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
