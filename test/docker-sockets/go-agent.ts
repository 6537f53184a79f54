import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { AgentConfig } from "../../src/agent/agent.js";
import type { TestPki } from "../../src/testing/index.js";

const SOURCE = fileURLToPath(new URL("./go-agent/main.go", import.meta.url));

/** The Go agent of go-agent/main.go, running: Go's crypto/tls and httputil.ReverseProxy. */
export interface GoAgent {
  readonly addr: string;
  /** TCP connections the agent accepted so far. */
  readonly connections: number;
  /** Common name of the client certificate of each completed handshake, in order. */
  readonly clients: readonly string[];
  config(name: string): AgentConfig;
  close(): Promise<void>;
}

/** Builds and starts the Go agent; `{ skip }` when there is no Go toolchain. */
export async function startGoAgent(
  pki: TestPki,
  dockerSocket: string,
): Promise<GoAgent | { skip: string }> {
  const dir = await mkdtemp(join(tmpdir(), "agentpool-go-agent-"));
  const binary = join(dir, "go-agent");
  try {
    await promisify(execFile)("go", ["build", "-o", binary, SOURCE], {
      env: { ...process.env, GO111MODULE: "off", CGO_ENABLED: "0" },
    });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    const reason =
      (err as NodeJS.ErrnoException).code === "ENOENT" ? "go is not on PATH" : String(err);
    return { skip: `cannot build the Go agent (${reason})` };
  }
  const files = ["ca.pem", "cert.pem", "key.pem"].map((f) => join(dir, f));
  await writeFile(files[0] as string, pki.ca.cert);
  await writeFile(files[1] as string, pki.server.cert);
  await writeFile(files[2] as string, pki.server.key, { mode: 0o600 });
  const child: ChildProcess = spawn(binary, [...files, dockerSocket], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let connections = 0;
  const clients: string[] = [];
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (c: string) => {
    stderr += c;
  });
  const port = await new Promise<number>((resolve, reject) => {
    let pending = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const m = /^listening (\d+)$/.exec(line);
        if (m) resolve(Number(m[1]));
        else if (line === "connection") connections++;
        else if (line.startsWith("handshake ")) clients.push(line.slice("handshake ".length));
      }
    });
    child.once("exit", (code) => reject(new Error(`the Go agent exited (${code}): ${stderr}`)));
  });
  const addr = `127.0.0.1:${port}`;
  return {
    addr,
    get connections() {
      return connections;
    },
    clients,
    config: (name) => ({ addr, name, tls: pki.clientTls }),
    close: async () => {
      if (child.exitCode === null && child.pid !== undefined) {
        const exited = new Promise((r) => child.once("exit", r));
        process.kill(child.pid, "SIGTERM");
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
