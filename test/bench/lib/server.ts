import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { TlsMaterial } from "../../../src/agent/tls.js";

const SCRIPT = fileURLToPath(new URL("./server-child.js", import.meta.url));

/** A test agent running in a child process (see server-child.ts). */
export interface RemoteTestAgent {
  port: number;
  addr: string;
  /** The client's TLS material for this server, frozen. */
  tls: TlsMaterial;
  close(): Promise<void>;
}

export function startRemoteTestAgent(): Promise<RemoteTestAgent> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = fork(SCRIPT, [], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`test agent process exited early (${code})`)));
    child.once("message", (message: { port: number; tls: TlsMaterial }) => {
      child.removeAllListeners("exit");
      const exited = new Promise<void>((done) => child.once("exit", () => done()));
      resolve({
        port: message.port,
        addr: `127.0.0.1:${message.port}`,
        tls: Object.freeze({ ...message.tls }),
        close: async () => {
          if (child.connected) child.send("close");
          const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
          await exited;
          clearTimeout(timer);
        },
      });
    });
  });
}
