/**
 * Docker sockets: TLS connections that ten `docker ps` in a row open to the
 * agent through a pool socket (the real docker CLI when it is on PATH), and
 * request throughput through the socket beside the agent's dispatcher.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Dispatcher } from "undici";
import { serveDockerSockets } from "../../src/consumers/docker-sockets/index.js";
import { createLogger } from "../../src/log.js";
import { AgentPool } from "../../src/pool/pool.js";
import { createTestPki, startDockerApiStub, startTestAgent } from "../../src/testing/index.js";
import { type BenchOptions, type Figure, fmtInt, type MeasureResult } from "./lib/figure.js";
import { formatRate, median } from "./lib/stats.js";

const execFileAsync = promisify(execFile);

const hasDocker = (() => {
  try {
    execFileSync("docker", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

/** One GET (or HEAD) on a unix socket; `agent` decides whether the connection is kept. */
function unixRequest(socketPath: string, path: string, method: string, agent: HttpAgent | false) {
  return new Promise<number>((resolve, reject) => {
    const req = httpRequest({ socketPath, path, method, agent }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

/** What one `docker ps` sends: HEAD /_ping, then GET /containers/json, on a connection of its own. */
async function psLike(socketPath: string): Promise<void> {
  if ((await unixRequest(socketPath, "/_ping", "HEAD", false)) !== 200)
    throw new Error("HEAD /_ping failed");
  if ((await unixRequest(socketPath, "/v1.43/containers/json", "GET", false)) !== 200)
    throw new Error("GET /containers/json failed");
}

async function rate(count: number, send: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < count; i++) await send();
  return count / ((performance.now() - started) / 1000);
}

export async function run(options: BenchOptions): Promise<MeasureResult> {
  const work = await mkdtemp(join(tmpdir(), "agentpool-bench-dsock-"));
  const pki = await createTestPki();
  const stub = await startDockerApiStub(join(work, "docker.sock"));
  const server = await startTestAgent({ pki, dockerSocket: stub.socketPath });
  const pool = new AgentPool();
  pool.add(server.config("edge-1"));
  const sockets = await serveDockerSockets(pool, join(work, "sockets"), {
    logger: createLogger("silent"),
  });
  const socket = join(work, "sockets", "edge-1.sock");
  const figures: Figure[] = [];
  const notes: string[] = [];
  const keepAlive = new HttpAgent({ keepAlive: true, maxSockets: 1 });
  try {
    // 1. Ten docker ps in a row.
    const before = server.handshakes;
    if (hasDocker) {
      const config = join(work, "docker-config");
      for (let i = 0; i < 10; i++) {
        // Asynchronously: the socket is served by this very process.
        await execFileAsync("docker", ["-H", `unix://${socket}`, "ps", "-q"], {
          env: { PATH: process.env.PATH, HOME: config, DOCKER_CONFIG: config },
        });
      }
    } else {
      notes.push(
        "The docker CLI is not on PATH: each `docker ps` was replayed as HEAD /_ping + GET /containers/json on a new connection.",
      );
      for (let i = 0; i < 10; i++) await psLike(socket);
    }
    const psHandshakes = server.handshakes - before;
    figures.push({
      id: "docker-sockets.ps10.handshakes",
      label: `TLS connections opened by 10 \`docker ps\` in a row through a socket${hasDocker ? "" : " (replayed)"}`,
      value: psHandshakes,
      unit: "connections",
      display: fmtInt(psHandshakes),
      detail: `${sockets.list()[0]?.requests ?? 0} requests on the socket`,
      target: "≤ 1",
      pass: psHandshakes <= 1,
    });

    // Context: the same HEAD + GET pairs straight through undici, which closes after every HEAD.
    const direct = pool.list()[0]?.httpClient() as Dispatcher;
    const beforeDirect = server.handshakes;
    for (let i = 0; i < 10; i++) {
      const head = await direct.request({ path: "/_ping", method: "HEAD" });
      await head.body.text();
      const list = await direct.request({ path: "/v1.43/containers/json", method: "GET" });
      await list.body.text();
    }
    const directHandshakes = server.handshakes - beforeDirect;
    figures.push({
      id: "docker-sockets.ps10.handshakes.undici-default",
      label:
        "control: the same 10 HEAD + GET pairs through the agent's dispatcher, undici defaults",
      value: directHandshakes,
      unit: "connections",
      display: fmtInt(directHandshakes),
      detail:
        "undici closes the connection after every HEAD (nodejs/undici#258); the socket sends HEAD /_ping upstream as a GET",
      target: null,
      pass: null,
    });

    // 2. Sequential GET /_ping: through the socket (kept-alive unix connection) and straight.
    const count = options.quick ? 200 : 1_000;
    const rounds = options.quick ? 3 : 7;
    const viaSocket: number[] = [];
    const viaDispatcher: number[] = [];
    const ratios: number[] = [];
    await rate(50, () => unixRequest(socket, "/_ping", "GET", keepAlive));
    for (let r = 0; r < rounds; r++) {
      const a = await rate(count, () => unixRequest(socket, "/_ping", "GET", keepAlive));
      const b = await rate(count, async () =>
        (await direct.request({ path: "/_ping", method: "GET" })).body.text(),
      );
      viaSocket.push(a);
      viaDispatcher.push(b);
      ratios.push(a / b);
    }
    figures.push({
      id: "docker-sockets.throughput.sequential",
      label: "sequential GET /_ping through a docker socket",
      value: median(viaSocket),
      unit: "req/s",
      display: `${formatRate(median(viaSocket))} req/s`,
      detail: `straight through the agent's dispatcher: ${formatRate(median(viaDispatcher))} req/s; socket ÷ dispatcher ${median(ratios).toFixed(2)} (median of ${rounds} rounds × ${fmtInt(count)})`,
      target: null,
      pass: null,
    });
  } finally {
    keepAlive.destroy();
    await sockets.close();
    await Promise.all(pool.list().map((agent) => agent.close()));
    await server.close();
    await stub.close();
    await rm(work, { recursive: true, force: true });
  }
  return {
    key: "docker-sockets",
    title: "5b. Docker sockets",
    how:
      "A real mTLS test agent in front of the Docker API stub (both in this process), one agent in " +
      "the pool, served by serveDockerSockets(). Ten `docker ps` (the real docker CLI, each a new " +
      "process: HEAD /_ping, then GET /containers/json) run one after the other against the agent's " +
      "socket; the figure is how many TLS handshakes the agent completed meanwhile. The control " +
      "sends the same requests straight through the agent's dispatcher with undici's defaults. The " +
      "throughput row sends GET /_ping one at a time on a kept-alive unix connection through the " +
      "socket (client → socket → TLS → agent → stub) and, in the same round, straight through the " +
      "dispatcher (TLS → agent → stub): the ratio is the cost of the socket hop.",
    figures,
    notes,
  };
}
