import { spawnSync } from "node:child_process";
import { lstat, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { EXIT } from "../../src/daemon/exit-codes.js";
import type { StatusBody } from "../../src/daemon/status/views.js";
import { startDockerApiStub, startTestAgent } from "../../src/testing/index.js";
import { getJson, httpGet, parsePrometheusText, sampleValue } from "../status/helpers.js";
import { CLI, requireBuiltCli, startDaemon } from "../support/daemon.js";
import { waitFor } from "../support/wait.js";
import { createWorkspace } from "../support/workspace.js";
import { docker, dockerCli, dockerConfigDir } from "./helpers.js";

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

beforeAll(() => {
  requireBuiltCli();
});

describe("agentpool run --docker-sockets", () => {
  it("serves each agent as DIR/<name>.sock and shows the sockets in /status, /agents and /metrics", async () => {
    const ws = await createWorkspace("agentpool-dsock-daemon-");
    closers.push(() => ws.cleanup());
    const stub = await startDockerApiStub(join(ws.dir, "docker.sock"));
    closers.push(() => stub.close());
    const agent = await startTestAgent({ pki: ws.pki, dockerSocket: stub.socketPath });
    closers.push(() => agent.close());
    await writeFile(ws.configPath, ws.yaml([{ addr: agent.addr, name: "edge/1" }]));
    const dir = join(ws.dir, "sockets");
    const daemon = startDaemon([
      "run",
      "-c",
      ws.configPath,
      "--listen",
      "127.0.0.1:0",
      "--docker-sockets",
      dir,
    ]);
    closers.push(() => daemon.stop());
    const listening = await daemon.waitForLog((l) => l.msg === "status endpoint listening", 15_000);
    const address = String(listening.address);
    const socket = join(dir, "edge~2F1.sock");
    await daemon.waitForLog((l) => l.msg === "docker socket ready" && l.path === socket);
    expect((await lstat(socket)).isSocket()).toBe(true);
    expect((await stat(socket)).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);

    if (dockerCli) {
      const configDir = await dockerConfigDir();
      closers.push(() => rm(configDir, { recursive: true, force: true }));
      const ps = await docker(["ps", "--format", "{{.Names}}"], { socket, configDir });
      expect(ps.stdout.trim()).toBe("web");
    } else {
      console.log("SKIP docker ps through the daemon: the docker CLI is not on PATH");
      expect((await httpGetUnix(socket, "/_ping")).status).toBe(200);
    }

    const status = await waitFor("the requests counted", async () => {
      const body = await getJson<StatusBody>(address, "/status");
      return (body.dockerSockets?.sockets[0]?.requests ?? 0) >= 1 ? body : undefined;
    });
    expect(status.dockerSockets).toMatchObject({
      dir,
      sockets: [{ addr: agent.addr, name: "edge/1", path: socket, openStreams: 0 }],
    });
    const [row] = await getJson<Array<Record<string, unknown>>>(address, "/agents");
    expect(row).toMatchObject({ name: "edge/1", dockerSocket: socket, dockerOpenStreams: 0 });
    const metrics = parsePrometheusText((await httpGet(address, "/metrics")).body);
    expect(
      sampleValue(metrics, "agentpool_docker_socket_requests_total", {
        addr: agent.addr,
        name: "edge/1",
      }),
    ).toBe(status.dockerSockets?.sockets[0]?.requests);
    expect(
      sampleValue(metrics, "agentpool_docker_socket_open_streams", {
        addr: agent.addr,
        name: "edge/1",
      }),
    ).toBe(0);

    expect(await daemon.stop()).toBe(0);
    await expect(lstat(socket)).rejects.toThrow(/ENOENT/);
  });

  it("--docker-socket-group without --docker-sockets is a usage error", () => {
    const run = spawnSync(process.execPath, [CLI, "run", "--docker-socket-group", "docker"], {
      encoding: "utf8",
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("--docker-socket-group needs --docker-sockets DIR");
  });

  it("a docker sockets folder or group that cannot be used stops the start with one sentence, exit 2 (not restarted)", async () => {
    const ws = await createWorkspace("agentpool-dsock-daemon-");
    closers.push(() => ws.cleanup());
    await writeFile(ws.configPath, ws.yaml([]));
    const notADir = join(ws.dir, "file");
    await writeFile(notADir, "x");
    const start = (...flags: string[]) =>
      spawnSync(process.execPath, [CLI, "run", "-c", ws.configPath, "--listen", "off", ...flags], {
        encoding: "utf8",
      });
    const cases = [
      {
        run: start("--docker-sockets", notADir),
        sentence: `agentpool: cannot start: --docker-sockets: docker sockets folder ${notADir} is not a directory.`,
      },
      {
        run: start(
          "--docker-sockets",
          join(ws.dir, "socks"),
          "--docker-socket-group",
          "no-such-group-x",
        ),
        sentence: `agentpool: cannot start: --docker-sockets: docker socket group "no-such-group-x" does not exist.`,
      },
    ];
    for (const { run, sentence } of cases) {
      expect(run.status).toBe(EXIT.usage);
      expect(run.stderr).toContain(sentence);
      expect(run.stderr).not.toMatch(/\n\s+at /);
      // Regression: the fatal log line carried the error's stack.
      const fatal = run.stdout
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .find((record) => record.msg === "start-up failed");
      expect(fatal?.code).toBe("ERR_STARTUP");
      expect(JSON.stringify(fatal)).not.toContain("stack");
    }
  });
});

function httpGetUnix(socketPath: string, path: string): Promise<{ status: number }> {
  return import("node:http").then(
    ({ request }) =>
      new Promise((resolve, reject) => {
        const req = request({ socketPath, path, agent: false }, (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0 });
        });
        req.on("error", reject);
        req.end();
      }),
  );
}
