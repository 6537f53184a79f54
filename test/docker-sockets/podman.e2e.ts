/**
 * The docker CLI against podman's Docker-compatible API, behind a real mTLS
 * agent (the Go one of go-agent/, built on httputil.ReverseProxy like
 * GoDoxy's, when Go is here), through the pool's docker socket:
 * `npm run test:docker`.
 * Where podman cannot run, the suite says so and runs what it can against the
 * Docker API stub instead; the rest is reported as skipped.
 */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentConfig } from "../../src/agent/agent.js";
import { AgentPool, type DockerSockets, serveDockerSockets } from "../../src/index.js";
import { createLogger } from "../../src/log.js";
import {
  createTestPki,
  issueCertificate,
  startDockerApiStub,
  startTestAgent,
  type TestPki,
} from "../../src/testing/index.js";
import { waitFor } from "../support/wait.js";
import { startGoAgent } from "./go-agent.js";
import { type DockerCallOptions, docker, dockerCli, scriptTool } from "./helpers.js";
import { IMAGE, startPodman } from "./podman.js";

let pki: TestPki;
let work: string;
/** The agent in front of the Docker API: the Go agent when Go is here, else the Node test agent. */
let agent: {
  readonly addr: string;
  readonly connections: number;
  readonly clients?: readonly string[];
  config(name: string): AgentConfig;
};
let pool: AgentPool;
let sockets: DockerSockets;
let socket: string;
let backend: "podman" | "stub" = "stub";
const closers: Array<() => Promise<void>> = [];

const call = (extra: Partial<DockerCallOptions> = {}): DockerCallOptions => ({
  socket,
  configDir: join(work, "docker-config"),
  timeoutMs: 60_000,
  ...extra,
});

beforeAll(async () => {
  if (!dockerCli) return;
  work = await mkdtemp(join(tmpdir(), "agentpool-docker-e2e-"));
  await mkdir(join(work, "docker-config"));
  pki = await createTestPki();
  const podman = await startPodman();
  let dockerSocket: string;
  if ("skip" in podman) {
    console.log(`SKIP podman: ${podman.skip}; falling back to the Docker API stub`);
    const stub = await startDockerApiStub(join(work, "stub.sock"));
    closers.push(() => stub.close());
    dockerSocket = stub.socketPath;
  } else {
    backend = "podman";
    closers.push(() => podman.close());
    dockerSocket = podman.socketPath;
  }
  const go = await startGoAgent(pki, dockerSocket);
  if ("skip" in go) {
    console.log(`SKIP the Go agent: ${go.skip}; the Node test agent fronts the Docker API instead`);
    const node = await startTestAgent({ pki, dockerSocket });
    closers.push(() => node.close());
    agent = {
      addr: node.addr,
      get connections() {
        return node.handshakes;
      },
      config: (name) => node.config(name),
    };
  } else {
    closers.push(() => go.close());
    agent = go;
  }
  pool = new AgentPool({ agent: { closeTimeoutMs: 500 } });
  closers.push(async () => void (await Promise.all(pool.list().map((a) => a.close()))));
  pool.add(agent.config("edge-1"));
  sockets = await serveDockerSockets(pool, join(work, "sockets"), {
    logger: createLogger("silent"),
  });
  closers.push(() => sockets.close());
  socket = join(work, "sockets", "edge-1.sock");
}, 120_000);

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  if (work) await rm(work, { recursive: true, force: true });
}, 60_000);

if (!dockerCli) console.log("SKIP docker e2e suite: the docker CLI is not on PATH");

describe.skipIf(!dockerCli)("the docker CLI through a pool socket", () => {
  const podmanOnly = (ctx: { skip: (note?: string) => void }) => {
    if (backend !== "podman") ctx.skip("podman cannot run here; the stub does not do this");
  };

  it("version and ps", async () => {
    const version = await docker(
      ["version", "--format", "{{range .Server.Components}}{{.Name}};{{end}}"],
      call(),
    );
    expect(version.stderr).toBe("");
    if (backend === "podman") expect(version.stdout).toContain("Podman Engine;");
    else expect(version.stdout).toContain("Engine");
    const ps = await docker(["ps", "-a", "--format", "{{.Names}}"], call());
    expect(ps.code).toBe(0);
  });

  it("ten docker ps in a row open at most one TLS connection to the agent", async () => {
    const before = agent.connections;
    for (let i = 0; i < 10; i++) expect((await docker(["ps", "-q"], call())).code).toBe(0);
    expect(agent.connections - before).toBeLessThanOrEqual(1);
  });

  describe("a running container", () => {
    beforeAll(async () => {
      if (backend !== "podman") return;
      const started = await docker(
        [
          "run",
          "-d",
          "--name",
          "ticker",
          IMAGE,
          "sh",
          "-c",
          "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done",
        ],
        call(),
      );
      expect(started.stderr).toBe("");
    }, 60_000);

    it("ps, inspect and logs", async (ctx) => {
      podmanOnly(ctx);
      const ps = await docker(["ps", "--format", "{{.Names}} {{.Image}}"], call());
      expect(ps.stdout).toContain(`ticker ${IMAGE}`);
      const inspect = await docker(["inspect", "--format", "{{.State.Running}}", "ticker"], call());
      expect(inspect.stdout.trim()).toBe("true");
      await waitFor(
        "the ticker's first line",
        async () => (await docker(["logs", "ticker"], call())).stdout.includes("tick 1"),
        10_000,
      );
    });

    // No `docker top`: podman 4.3's compat API answers it with a dropped connection (EOF), without agentpool too.
    it("images and stats --no-stream", async (ctx) => {
      podmanOnly(ctx);
      const images = await docker(["images", "--format", "{{.Repository}}:{{.Tag}}"], call());
      expect(images.stdout).toContain(IMAGE);
      const stats = await docker(
        ["stats", "--no-stream", "--format", "{{.CPUPerc}}", "ticker"],
        call(),
      );
      // Not {{.Name}}: the CLI drops the first character of a name, expecting Docker's "/",
      // which podman 4.3 leaves out.
      expect([stats.stderr, stats.code]).toEqual(["", 0]);
      expect(stats.stdout).toMatch(/\d+(\.\d+)?%\n$/);
    });

    it("logs -f streams until the client is cut, then the socket has no open stream", async (ctx) => {
      podmanOnly(ctx);
      const logs = await docker(
        ["logs", "-f", "--tail", "0", "ticker"],
        call({ interruptWhen: /(tick \d+\n.*){3}/s }),
      );
      expect(logs.stdout.match(/tick \d+\n/g)?.length).toBeGreaterThanOrEqual(3);
      await waitFor(
        "the socket's streams to end",
        () => sockets.list()[0]?.openStreams === 0,
        5_000,
      );
    });

    it("exec with and without -t, and exec -i with piped stdin", async (ctx) => {
      podmanOnly(ctx);
      const plain = await docker(["exec", "ticker", "echo", "hello"], call());
      expect([plain.stdout, plain.stderr, plain.code]).toEqual(["hello\n", "", 0]);
      const failing = await docker(["exec", "ticker", "sh", "-c", "echo err >&2; exit 7"], call());
      expect([failing.stderr, failing.code]).toEqual(["err\n", 7]);
      // The client's half-close is not passed on (see the README): a command
      // that ends on its own gets its input and its output comes back.
      const piped = await docker(
        ["exec", "-i", "ticker", "head", "-n", "1"],
        call({ stdin: "piped line\nmore\n" }),
      );
      expect([piped.stdout, piped.code]).toEqual(["piped line\n", 0]);
      if (!scriptTool) {
        console.log("SKIP docker exec -t: `script` is not on PATH");
        return;
      }
      const tty = await docker(
        ["exec", "-t", "ticker", "sh", "-c", "test -t 1 && echo on-a-tty"],
        call({ tty: true }),
      );
      expect(tty.stdout).toContain("on-a-tty");
      expect(tty.code).toBe(0);
    });

    it("attach to the running container", async (ctx) => {
      podmanOnly(ctx);
      const attached = await docker(
        ["attach", "--sig-proxy=false", "ticker"],
        call({ interruptWhen: /tick \d+\n/ }),
      );
      expect(attached.stdout).toMatch(/tick \d+\n/);
      const inspect = await docker(["inspect", "--format", "{{.State.Running}}", "ticker"], call());
      expect(inspect.stdout.trim()).toBe("true");
    });

    it("an error answer on an upgrade path reaches the client as that answer", async (ctx) => {
      podmanOnly(ctx);
      const answer = await new Promise<string>((resolve, reject) => {
        const body = '{"Detach":false,"Tty":false}';
        const s = connect(socket, () =>
          s.write(
            `POST /v1.41/exec/no-such-exec/start HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
          ),
        );
        let text = "";
        s.setEncoding("utf8").on("data", (c: string) => {
          text += c;
        });
        s.on("end", () => resolve(text));
        s.on("error", reject);
      });
      expect(answer).toMatch(/^HTTP\/1.1 404 /);
      expect(answer).toMatch(/no such exec/i);
    });

    it("cp both ways", async (ctx) => {
      podmanOnly(ctx);
      const local = join(work, "to-container.txt");
      await writeFile(local, "copied in\n");
      const cpIn = await docker(["cp", local, "ticker:/tmp/in.txt"], call());
      expect([cpIn.stderr, cpIn.code]).toEqual(["", 0]);
      expect((await docker(["exec", "ticker", "cat", "/tmp/in.txt"], call())).stdout).toBe(
        "copied in\n",
      );
      const back = join(work, "from-container.txt");
      const cpOut = await docker(["cp", "ticker:/tmp/in.txt", back], call());
      expect(cpOut.code).toBe(0);
      expect(await readFile(back, "utf8")).toBe("copied in\n");
    });

    it("a TLS rotation keeps the socket and the next command works over the new connection", async (ctx) => {
      podmanOnly(ctx);
      const before = agent.connections;
      const client = await issueCertificate(pki.ca, { commonName: "rotated", usage: "client" });
      pool.batch(() => {
        pool.removeAll();
        pool.add({ ...agent.config("edge-1"), tls: { ...pki.clientTls, ...client } });
      });
      await sockets.settled();
      const ps = await docker(["ps", "--format", "{{.Names}}"], call());
      expect(ps.stdout).toContain("ticker");
      const inode = (await stat(socket)).ino;
      await sockets.settled();
      expect((await stat(socket)).ino).toBe(inode);
      expect(agent.connections).toBeGreaterThan(before);
      // The Go agent names the certificate of each handshake: the new one was used.
      if (agent.clients)
        await waitFor(
          "a handshake with the rotated certificate",
          () => agent.clients?.includes("rotated") === true,
          5_000,
        );
    });
  });

  it("run without -d: output, exit status", async (ctx) => {
    podmanOnly(ctx);
    const ran = await docker(["run", "--rm", IMAGE, "echo", "from run"], call());
    expect([ran.stdout, ran.code]).toEqual(["from run\n", 0]);
    // Without --rm: podman 4.3 answers `wait` with 0 for a --rm container, with or without agentpool.
    const failed = await docker(["run", "--name", "exit3", IMAGE, "sh", "-c", "exit 3"], call());
    expect(failed.code).toBe(3);
    expect((await docker(["rm", "exit3"], call())).code).toBe(0);
  });

  it("build with the classic builder (a chunked tar body)", async (ctx) => {
    podmanOnly(ctx);
    const context = join(work, "build");
    await mkdir(context);
    await writeFile(
      join(context, "Dockerfile"),
      `FROM ${IMAGE}\nCOPY hello.txt /hello.txt\nRUN echo built >> /hello.txt\n`,
    );
    await writeFile(join(context, "hello.txt"), "from the context\n");
    const built = await docker(
      ["build", "-t", "localhost/agentpool-built:test", context],
      call({ env: { DOCKER_BUILDKIT: "0" } }),
    );
    expect(built.stdout).toContain("Successfully tagged");
    const ran = await docker(
      ["run", "--rm", "localhost/agentpool-built:test", "cat", "/hello.txt"],
      call(),
    );
    expect(ran.stdout).toBe("from the context\nbuilt\n");
  });

  it("events stream until the client goes away", async () => {
    let printed = "";
    const watching = docker(
      ["events", "--format", "{{.Type}} {{.Action}}"],
      call({
        onStdout: (out) => {
          printed = out;
        },
        interruptWhen: backend === "podman" ? /container (start|died|remove)/ : /container tick/,
      }),
    );
    if (backend === "podman") {
      await new Promise((r) => setTimeout(r, 500));
      await docker(["run", "--rm", IMAGE, "true"], call());
    }
    const events = await watching;
    expect(events.stdout).toMatch(/container \w+/);
    expect(printed.length).toBeGreaterThan(0);
    await waitFor("the socket's streams to end", () => sockets.list()[0]?.openStreams === 0, 5_000);
  });
});
