// The daemon's log destination when stdout goes away under it: a pipe whose
// reader closed (EPIPE) and stdout closed outright (EBADF). The log is dropped
// with one line on stderr; the daemon goes on serving and stops cleanly. With
// pino's default buffered destination, a failed write was retried forever at
// exit, and the daemon never exited.
import { writeFile } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { type DaemonProcess, requireBuiltCli, startDaemon } from "../support/daemon.js";
import { waitFor } from "../support/wait.js";
import { createWorkspace, type Workspace } from "../support/workspace.js";

let ws: Workspace | undefined;
let daemon: DaemonProcess | undefined;

beforeAll(() => {
  requireBuiltCli();
});

afterEach(async () => {
  if (daemon && daemon.child.exitCode === null) daemon.child.kill("SIGKILL");
  await daemon?.exited;
  daemon = undefined;
  await ws?.cleanup();
  ws = undefined;
});

/** GET path on the status endpoint's unix socket: the status code and the body. */
function get(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("stdout going away under the daemon", () => {
  it("a pipe whose reader closed: the log is dropped with one line on stderr and a logProblem in /status; the daemon serves on and stops with exit 0", async () => {
    ws = await createWorkspace("agentpool-logdest-");
    await writeFile(ws.configPath, ws.yaml([]));
    const socket = join(ws.dir, "status.sock");
    daemon = startDaemon(["run", "-c", ws.configPath, "--listen", socket, "--log-format", "json"]);
    await daemon.waitForLog((line) => line.msg === "ready");
    // The reading end goes away: every later write to stdout fails with EPIPE.
    daemon.child.stdout?.destroy();
    // Something to log: a reload.
    daemon.child.kill("SIGHUP");
    await waitFor(
      "the dropped log's line",
      () => /cannot write the log to stdout \(EPIPE\)/.test(daemon?.stderr() ?? ""),
      10_000,
    );
    expect((await get(socket, "/healthz")).status).toBe(200);
    // Not silent: /status says the log stopped, and why.
    const status = JSON.parse((await get(socket, "/status")).body) as {
      logProblem?: { code: string; since: string };
    };
    expect(status.logProblem?.code).toBe("EPIPE");
    expect(Number.isNaN(Date.parse(status.logProblem?.since ?? ""))).toBe(false);
    daemon.child.kill("SIGTERM");
    expect(await daemon.exited).toBe(0);
    expect(daemon.stderr().match(/cannot write the log/g)).toHaveLength(1);
  });
});
