import { lstat, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  AgentPool,
  type DockerSockets,
  serveDockerSockets,
  socketFileName,
} from "../../src/index.js";
import { createLogger, type Logger } from "../../src/log.js";
import {
  createTestPki,
  type DockerApiStub,
  issueCertificate,
  startDockerApiStub,
  startTestAgent,
  type TestAgent,
  type TestPki,
} from "../../src/testing/index.js";
import { captureLogger } from "../support/logs.js";
import { makeTempDir } from "../support/temp.js";
import { waitFor } from "../support/wait.js";
import { startGoAgent } from "./go-agent.js";
import { docker, dockerCli, dockerConfigDir, scriptTool } from "./helpers.js";

if (!dockerCli) console.log("SKIP docker-sockets stub suite: the docker CLI is not on PATH");

let pki: TestPki;
const open: Array<{ close(): Promise<void> }> = [];
const dirs: string[] = [];

beforeAll(async () => {
  pki = await createTestPki();
});

afterEach(async () => {
  for (const item of open.splice(0).reverse()) await item.close();
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function tracked(dir: Promise<string>): Promise<string> {
  dirs.push(await dir);
  return dir;
}

async function tempDir(): Promise<string> {
  const { dir } = await makeTempDir("agentpool-dsock-");
  dirs.push(dir);
  return dir;
}

interface Setup {
  pool: AgentPool;
  stub: DockerApiStub;
  agent: TestAgent;
  dir: string;
  socket: string;
  configDir: string;
  sockets: DockerSockets;
}

async function setup(
  name = "edge-1",
  options: { closeTimeoutMs?: number; group?: number; logger?: Logger; drainMs?: number } = {},
): Promise<Setup> {
  const work = await tempDir();
  const stub = await startDockerApiStub(join(work, "docker.sock"));
  open.push(stub);
  const agent = await startTestAgent({ pki, dockerSocket: stub.socketPath });
  open.push(agent);
  const pool = new AgentPool(
    options.closeTimeoutMs ? { agent: { closeTimeoutMs: options.closeTimeoutMs } } : {},
  );
  open.push({ close: async () => void (await Promise.all(pool.list().map((a) => a.close()))) });
  pool.add(agent.config(name));
  const dir = join(work, "sockets");
  const sockets = await serveDockerSockets(pool, dir, {
    logger: options.logger ?? createLogger("silent"),
    ...(options.group !== undefined ? { group: options.group } : {}),
    ...(options.drainMs !== undefined ? { drainMs: options.drainMs } : {}),
  });
  open.push(sockets);
  return {
    pool,
    stub,
    agent,
    dir,
    socket: join(dir, `${name}.sock`),
    configDir: await tracked(dockerConfigDir()),
    sockets,
  };
}

describe("socket file names", () => {
  it("keeps safe names and escapes the rest, without collisions", () => {
    expect(socketFileName("edge-1")).toBe("edge-1.sock");
    expect(socketFileName("web/1")).toBe("web~2F1.sock");
    expect(socketFileName("10.0.0.5:8890")).toBe("10.0.0.5~3A8890.sock");
    expect(socketFileName(".hidden")).toBe("~2Ehidden.sock");
    expect(socketFileName("..")).toBe("~2E..sock");
    expect(socketFileName("a~2F")).toBe("a~7E2F.sock");
    const names = [
      "a/b",
      "a~2Fb",
      "a_b",
      "a:b",
      "A:b",
      "ä",
      "~C3~A4",
      "x".repeat(200),
      `${"x".repeat(199)}y`,
    ];
    const files = names.map(socketFileName);
    expect(new Set(files).size).toBe(names.length);
    for (const file of files) {
      expect(file).toMatch(/^[A-Za-z0-9_~-][A-Za-z0-9._~-]*\.sock$/);
      expect(file.length).toBeLessThanOrEqual(85 + 16);
    }
  });
});

describe.skipIf(!dockerCli)(
  "the docker CLI through a socket (Docker API stub behind the agent)",
  () => {
    it("runs version, ps and inspect, and passes the daemon's errors on", async () => {
      const s = await setup();
      const version = await docker(["version", "--format", "{{.Server.Version}}"], s);
      expect(version.stderr).toBe("");
      expect(version.stdout.trim()).toBe("24.0.0-stub");
      const ps = await docker(["ps", "--format", "{{.Names}} {{.Image}}"], s);
      expect(ps.stdout.trim()).toBe("web busybox:stub");
      const inspect = await docker(["inspect", "--format", "{{.State.Status}}", "web"], s);
      expect(inspect.stdout.trim()).toBe("running");
      const missing = await docker(["container", "inspect", "nope"], s);
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toContain("Error response from daemon: No such container: nope");
      expect(s.sockets.list()[0]?.requests).toBeGreaterThanOrEqual(6);
    });

    it("ten docker ps in a row open one TLS connection to the agent (HEAD /_ping keeps it)", async () => {
      const s = await setup();
      for (let i = 0; i < 10; i++) {
        const ps = await docker(["ps", "-q"], s);
        expect(ps.code).toBe(0);
      }
      expect(s.agent.handshakes).toBe(1);
    });

    it("streams logs -f chunk by chunk and frees the upstream when the client is cut", async () => {
      const s = await setup();
      const logs = await docker(["logs", "-f", "web"], { ...s, interruptWhen: /line 3\n/ });
      expect(logs.stdout).toMatch(/^line 0\nline 1\nline 2\nline 3\n/);
      await waitFor("the stub's streams to end", () => s.stub.openStreams === 0, 5_000);
      expect(s.stub.abandonedStreams).toBe(1);
      await waitFor(
        "the socket's streams to end",
        () => s.sockets.list()[0]?.openStreams === 0,
        5_000,
      );
    });

    it("streams events until the client goes away", async () => {
      const s = await setup();
      const events = await docker(["events", "--format", "{{.Actor.Attributes.name}}"], {
        ...s,
        interruptWhen: /n2\n/,
      });
      expect(events.stdout).toMatch(/^n0\nn1\nn2\n/);
      await waitFor("the stub's streams to end", () => s.stub.openStreams === 0, 5_000);
      expect(s.stub.abandonedStreams).toBe(1);
    });

    it("runs docker exec over an HTTP upgrade, with and without -t", async () => {
      const s = await setup();
      const plain = await docker(["exec", "web", "echo", "hi"], s);
      expect(plain.stderr).toBe("");
      expect(plain.stdout).toBe("ran echo hi\n");
      expect(plain.code).toBe(0);
      if (!scriptTool) {
        console.log("SKIP docker exec -t: `script` is not on PATH to give the CLI a terminal");
        return;
      }
      const tty = await docker(["exec", "-t", "web", "echo", "hi"], { ...s, tty: true });
      // A terminal stream is raw, not multiplexed: no frame headers in front of the text.
      expect(tty.stdout.replace(/\r/g, "")).toBe("ran echo hi\n");
      expect(tty.code).toBe(0);
    });

    it("a renamed agent's socket is renamed and its open stream goes on", async () => {
      const s = await setup("old-name");
      let renamed = false;
      let printed = "";
      const logs = docker(["logs", "-f", "web"], {
        ...s,
        onStdout: (out) => {
          printed = out;
        },
        interruptWhen: /line 12\n/,
      });
      await waitFor("the first log line", () => printed.includes("line 1\n"), 5_000);
      const config = s.agent.config("new-name");
      s.pool.batch(() => {
        s.pool.remove(config);
        s.pool.add(config);
      });
      await s.sockets.settled();
      renamed = true;
      const done = await logs;
      expect(renamed).toBe(true);
      expect(done.stdout).toContain("line 12\n");
      await expect(lstat(s.socket)).rejects.toThrow(/ENOENT/);
      const ps = await docker(["ps", "-q"], { ...s, socket: join(s.dir, "new-name.sock") });
      expect(ps.stdout.trim()).toMatch(/^c0ffee00c0ff/);
    });

    it("a TLS rotation keeps the socket; new requests use the new connection; old streams end within the close bound", async () => {
      const s = await setup("edge-1", { closeTimeoutMs: 300 });
      const before = await stat(s.socket);
      let printed = "";
      const logs = docker(["logs", "-f", "web"], {
        ...s,
        onStdout: (out) => {
          printed = out;
        },
      });
      await waitFor("the first log line", () => printed.includes("line 1\n"), 5_000);
      const client = await issueCertificate(pki.ca, { commonName: "rotated", usage: "client" });
      s.pool.batch(() => {
        s.pool.remove(s.agent.config("edge-1"));
        s.pool.add({ ...s.agent.config("edge-1"), tls: { ...pki.clientTls, ...client } });
      });
      await s.sockets.settled();
      expect((await stat(s.socket)).ino).toBe(before.ino);
      const ps = await docker(["ps", "-q"], s);
      expect(ps.code).toBe(0);
      expect(s.agent.handshakes).toBe(2);
      const ended = await logs;
      expect(ended.stdout).toContain("line 1\n");
      expect(ended.code).not.toBe(0);
    });

    it("an error answer on an upgrade path reaches the client as that answer", async () => {
      const s = await setup();
      const res = await rawRequest(
        s.socket,
        'POST /v1.43/exec/nope/start HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: 28\r\n\r\n{"Detach":false,"Tty":false}',
      );
      expect(res).toMatch(/^HTTP\/1.1 404 /);
      expect(res).toContain("No such exec instance: nope");
      const cli = await docker(["exec", "web", "sh"], s);
      expect(cli.code).toBe(0);
    });
  },
);

describe.skipIf(!dockerCli)("the README's ways to point the docker CLI at a socket", () => {
  it("docker -H, DOCKER_HOST and docker context create", async () => {
    const s = await setup("edge-1");
    const viaH = await docker(["ps", "--format", "{{.Names}}"], s);
    expect(viaH.stdout).toBe("web\n");
    const viaEnv = await dockerWithout(["ps", "--format", "{{.Names}}"], s, {
      DOCKER_HOST: `unix://${s.socket}`,
    });
    expect(viaEnv.stdout).toBe("web\n");
    const created = await dockerWithout(
      ["context", "create", "edge-1", "--docker", `host=unix://${s.socket}`],
      s,
    );
    expect(created.code).toBe(0);
    const viaContext = await dockerWithout(
      ["--context", "edge-1", "ps", "--format", "{{.Names}}"],
      s,
    );
    expect(viaContext.stdout).toBe("web\n");
  });
});

describe("serveDockerSockets in a Node.js service", () => {
  it("README example: await using closes the sockets at the end of the scope", async () => {
    const work = await tempDir();
    const server = await startAgent();
    const pool = new AgentPool();
    open.push({ close: async () => void (await Promise.all(pool.list().map((a) => a.close()))) });
    pool.add(server.config("edge-1"));
    const dir = join(work, "docker");
    let listed: unknown;
    {
      // --- README example begins
      await using sockets = await serveDockerSockets(pool, dir, { group: process.getgid?.() ?? 0 });
      listed = sockets.list(); // [{ addr, name, path, requests, openStreams }]
      // --- README example ends
      expect((await lstat(join(dir, "edge-1.sock"))).isSocket()).toBe(true);
    }
    expect(listed).toEqual([
      {
        addr: server.addr,
        name: "edge-1",
        path: join(dir, "edge-1.sock"),
        requests: 0,
        openStreams: 0,
      },
    ]);
    await expect(lstat(join(dir, "edge-1.sock"))).rejects.toThrow(/ENOENT/);
  });
});

describe.skipIf(!dockerCli)("through a Go agent (crypto/tls, httputil.ReverseProxy)", () => {
  // Go's server sends no length for a HEAD whose handler wrote nothing, and undici then
  // closes the connection even with `reset: false`.
  it("regression: HEAD /_ping without a length cost a TLS connection per docker command", async (ctx) => {
    const work = await tempDir();
    const stub = await startDockerApiStub(join(work, "docker.sock"));
    open.push(stub);
    const go = await startGoAgent(pki, stub.socketPath);
    if ("skip" in go) {
      console.log(`SKIP the Go agent: ${go.skip}`);
      ctx.skip();
      return;
    }
    open.push(go);
    const pool = new AgentPool();
    open.push({ close: async () => void (await Promise.all(pool.list().map((a) => a.close()))) });
    pool.add(go.config("go-1"));
    const sockets = await serveDockerSockets(pool, join(work, "s"), {
      logger: createLogger("silent"),
    });
    open.push(sockets);
    const call = {
      socket: join(work, "s", "go-1.sock"),
      configDir: await tracked(dockerConfigDir()),
    };
    for (let i = 0; i < 10; i++) {
      expect((await docker(["ps", "-q"], call)).code).toBe(0);
    }
    expect(go.connections).toBe(1);
    const exec = await docker(["exec", "web", "echo", "hi"], call);
    expect([exec.stdout, exec.code]).toEqual(["ran echo hi\n", 0]);
    const client = await issueCertificate(pki.ca, { commonName: "rotated", usage: "client" });
    pool.batch(() => {
      pool.removeAll();
      pool.add({ ...go.config("go-1"), tls: { ...pki.clientTls, ...client } });
    });
    await sockets.settled();
    // New requests go over a connection made with the new certificate.
    expect((await docker(["ps", "-q"], call)).code).toBe(0);
    await waitFor(
      "a handshake with the rotated certificate",
      () => go.clients.includes("rotated"),
      5_000,
    );
  }, 120_000);
});

describe("requests through a socket", () => {
  it("are logged by method and path only, never with their bodies or headers", async () => {
    const capture = captureLogger();
    const s = await setup("edge-1", { logger: capture.logger });
    const answer = await post(
      s.socket,
      "/v1.43/containers/create?name=x",
      '{"Env":["TOKEN=s3cr3t-body"]}',
      {
        "x-registry-auth": "s3cr3t-header",
      },
    );
    expect(answer.status).toBe(404);
    const lines = capture.lines();
    expect(lines).toContainEqual(
      expect.objectContaining({
        msg: "docker request",
        method: "POST",
        path: "/v1.43/containers/create?name=x",
      }),
    );
    expect(JSON.stringify(lines)).not.toContain("s3cr3t");
  });

  it("an unreachable agent answers the client with a Docker error naming the agent", async () => {
    const s = await setup("edge-1");
    await s.agent.close();
    const ps = await docker(["ps"], s);
    expect(ps.code).not.toBe(0);
    expect(ps.stderr).toContain(`agentpool: agent "edge-1" (${s.agent.addr}):`);
  });
});

describe("the socket set follows the pool", () => {
  it("creates sockets 0600 in a 0700 folder, adds and removes them with their agents", async () => {
    const s = await setup("edge-1");
    expect((await stat(s.dir)).mode & 0o777).toBe(0o700);
    expect((await lstat(s.socket)).isSocket()).toBe(true);
    expect((await stat(s.socket)).mode & 0o777).toBe(0o600);
    const second = await startTestAgent({ pki, dockerSocket: s.stub.socketPath });
    open.push(second);
    s.pool.add(second.config("web/2"));
    await s.sockets.settled();
    const path2 = join(s.dir, "web~2F2.sock");
    expect(await get(path2, "/_ping")).toEqual({ status: 200, body: "OK", apiVersion: "1.43" });
    expect(s.sockets.list().map((x) => [x.name, x.path])).toEqual([
      ["edge-1", s.socket],
      ["web/2", path2],
    ]);
    s.pool.remove(second.config());
    await s.sockets.settled();
    await expect(lstat(path2)).rejects.toThrow(/ENOENT/);
    expect(s.sockets.list().map((x) => x.name)).toEqual(["edge-1"]);
    await s.sockets.close();
    await expect(lstat(s.socket)).rejects.toThrow(/ENOENT/);
  });

  it.skipIf(!dockerCli)(
    "a removed agent's socket goes at once; its open stream is cut after drainMs",
    async () => {
      const s = await setup("edge-1", { drainMs: 300 });
      let printed = "";
      const logs = docker(["logs", "-f", "web"], {
        ...s,
        onStdout: (out) => {
          printed = out;
        },
      });
      await waitFor("the first log line", () => printed.includes("line 1\n"), 5_000);
      s.pool.remove(s.agent.config());
      await s.sockets.settled();
      await expect(lstat(s.socket)).rejects.toThrow(/ENOENT/);
      expect(s.sockets.list()).toEqual([]);
      const ended = await logs;
      expect(ended.stdout).toContain("line 1\n");
      await waitFor("the stub's streams to end", () => s.stub.openStreams === 0, 5_000);
    },
  );

  it("two agents that swap names swap sockets", async () => {
    const s = await setup("a");
    const second = await startTestAgent({ pki, dockerSocket: s.stub.socketPath });
    open.push(second);
    s.pool.add(second.config("b"));
    await s.sockets.settled();
    s.pool.batch(() => {
      s.pool.removeAll();
      s.pool.add(s.agent.config("b"));
      s.pool.add(second.config("a"));
    });
    await s.sockets.settled();
    const before = second.requests;
    await get(join(s.dir, "a.sock"), "/_ping");
    expect(second.requests).toBe(before + 1);
    expect(s.sockets.list().every((x) => x.error === undefined)).toBe(true);
  });

  it("with a group, sockets are 0660 and the folder 0750, owned by that group", async () => {
    const s = await setup("edge-1", { group: 4242 });
    const dir = await stat(s.dir);
    expect([dir.mode & 0o777, dir.gid]).toEqual([0o750, 4242]);
    const sock = await stat(s.socket);
    expect([sock.mode & 0o777, sock.gid]).toEqual([0o660, 4242]);
  });

  it("refuses an unknown group and a world-writable folder", async () => {
    const pool = new AgentPool();
    const dir = await tempDir();
    await expect(
      serveDockerSockets(pool, join(dir, "s"), { group: "no-such-group-agentpool" }),
    ).rejects.toThrow('docker socket group "no-such-group-agentpool" does not exist.');
    await mkdir(join(dir, "open"), { mode: 0o777 });
    const { chmod } = await import("node:fs/promises");
    await chmod(join(dir, "open"), 0o777);
    await expect(serveDockerSockets(pool, join(dir, "open"))).rejects.toThrow(
      /is writable by everyone \(mode 777\); refusing to use it/,
    );
  });

  it("replaces a stale socket left by a killed daemon and refuses a path that is not a socket", async () => {
    const work = await tempDir();
    const dir = join(work, "sockets");
    await mkdir(dir, { mode: 0o700 });
    // A socket file nobody listens on: bound, renamed away from its bound name, closed.
    const stale = createServer();
    await new Promise<void>((r) => stale.listen(join(work, "bound.sock"), r));
    await rename(join(work, "bound.sock"), join(dir, "stale.sock"));
    await new Promise<void>((r) => stale.close(() => r()));
    expect((await lstat(join(dir, "stale.sock"))).isSocket()).toBe(true);
    await writeFile(join(dir, "plain.sock"), "mine\n");

    const agent = await startTestAgent({ pki });
    open.push(agent);
    const pool = new AgentPool();
    open.push({ close: async () => void (await Promise.all(pool.list().map((a) => a.close()))) });
    pool.add(agent.config("stale"));
    pool.add({ ...(await startAgent()).config("plain") });
    const sockets = await serveDockerSockets(pool, dir, { logger: createLogger("silent") });
    open.push(sockets);
    expect(await get(join(dir, "stale.sock"), "/version")).toMatchObject({ status: 200 });
    const [, plain] = sockets.list();
    expect(plain?.path).toBeUndefined();
    expect(plain?.error).toBe(
      `${join(dir, "plain.sock")} exists and is not a socket; refusing to replace it.`,
    );
    expect(await readFile(join(dir, "plain.sock"), "utf8")).toBe("mine\n");

    // Once the path is free, the next snapshot serves it.
    await rm(join(dir, "plain.sock"));
    pool.add((await startAgent()).config("third"));
    await sockets.settled();
    expect(sockets.list().map((x) => x.error)).toEqual([undefined, undefined, undefined]);
    expect((await lstat(join(dir, "plain.sock"))).isSocket()).toBe(true);
  });

  it("refuses a path another process listens on", async () => {
    const work = await tempDir();
    const dir = join(work, "sockets");
    await mkdir(dir, { mode: 0o700 });
    const other = createServer((c) => c.end());
    await new Promise<void>((r) => other.listen(join(dir, "busy.sock"), r));
    open.push({ close: () => new Promise<void>((r) => other.close(() => r())) });
    const pool = new AgentPool();
    open.push({ close: async () => void (await Promise.all(pool.list().map((a) => a.close()))) });
    pool.add((await startAgent()).config("busy"));
    const sockets = await serveDockerSockets(pool, dir, { logger: createLogger("silent") });
    open.push(sockets);
    expect(sockets.list()[0]?.error).toMatch(/another process is listening on .*busy\.sock/);
  });
});

async function startAgent(): Promise<TestAgent> {
  const agent = await startTestAgent({ pki });
  open.push(agent);
  return agent;
}

function get(
  socketPath: string,
  path: string,
): Promise<{ status: number; body: string; apiVersion: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath, path, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (c: string) => {
        body += c;
      });
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          body,
          apiVersion: res.headers["api-version"] as string | undefined,
        }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

/** The CLI without `-H`: it finds the socket through the environment or a context. */
function dockerWithout(args: string[], s: Setup, env: NodeJS.ProcessEnv = {}) {
  return docker(args, { ...s, socket: "", env, noHost: true });
}

function post(
  socketPath: string,
  path: string,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        socketPath,
        path,
        method: "POST",
        agent: false,
        headers: { "content-type": "application/json", ...headers },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (c: string) => {
          text += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function rawRequest(path: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(path, () => socket.write(text));
    let answer = "";
    socket.setEncoding("utf8").on("data", (chunk: string) => {
      answer += chunk;
    });
    socket.on("end", () => resolve(answer));
    socket.on("error", reject);
  });
}
