import { lstat, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  AgentPool,
  type DockerSockets,
  serveDockerSockets,
  socketFileName,
} from "../../src/index.js";
import { createLogger } from "../../src/log.js";
import {
  createTestPki,
  type DockerApiStub,
  startDockerApiStub,
  startTestAgent,
  type TestAgent,
  type TestPki,
} from "../../src/testing/index.js";
import { docker, dockerCli, dockerConfigDir, until } from "./helpers.js";

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

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "agentpool-dsock-"));
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

async function setup(name = "edge-1"): Promise<Setup> {
  const work = await tempDir();
  const stub = await startDockerApiStub(join(work, "docker.sock"));
  open.push(stub);
  const agent = await startTestAgent({ pki, dockerSocket: stub.socketPath });
  open.push(agent);
  const pool = new AgentPool();
  open.push({ close: async () => void (await Promise.all(pool.list().map((a) => a.close()))) });
  pool.add(agent.config(name));
  const dir = join(work, "sockets");
  const sockets = await serveDockerSockets(pool, dir, { logger: createLogger("silent") });
  open.push(sockets);
  return {
    pool,
    stub,
    agent,
    dir,
    socket: join(dir, `${name}.sock`),
    configDir: await dockerConfigDir(),
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
    it("runs version, ps and inspect", async () => {
      const s = await setup();
      const version = await docker(["version", "--format", "{{.Server.Version}}"], s);
      expect(version.stderr).toBe("");
      expect(version.stdout.trim()).toBe("24.0.0-stub");
      const ps = await docker(["ps", "--format", "{{.Names}} {{.Image}}"], s);
      expect(ps.stdout.trim()).toBe("web busybox:stub");
      const inspect = await docker(["inspect", "--format", "{{.State.Status}}", "web"], s);
      expect(inspect.stdout.trim()).toBe("running");
      const missing = await docker(["inspect", "nope"], s);
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toContain("No such container: nope");
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
      await until(() => s.stub.openStreams === 0);
      expect(s.stub.abandonedStreams).toBe(1);
      await until(() => s.sockets.list()[0]?.openStreams === 0);
    });

    it("streams events until the client goes away", async () => {
      const s = await setup();
      const events = await docker(["events", "--format", "{{.Actor.Attributes.name}}"], {
        ...s,
        interruptWhen: /n2\n/,
      });
      expect(events.stdout).toMatch(/^n0\nn1\nn2\n/);
      await until(() => s.stub.openStreams === 0);
    });

    it("runs docker exec over an HTTP upgrade, with and without -t", async () => {
      const s = await setup();
      const plain = await docker(["exec", "web", "echo", "hi"], s);
      expect(plain.stderr).toBe("");
      expect(plain.stdout).toBe("ran echo hi\n");
      expect(plain.code).toBe(0);
    });

    it("an error answer on an upgrade path reaches the client as that answer", async () => {
      const s = await setup();
      const res = await rawRequest(
        s.socket,
        'POST /v1.43/exec/nope/start HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: 28\r\n\r\n{"Detach":false,"Tty":false}',
      );
      expect(res).toMatch(/^HTTP\/1.1 404 /);
      expect(res).toContain("No such exec instance: nope");
    });
  },
);

function rawRequest(path: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    import("node:net").then(({ connect }) => {
      const socket = connect(path, () => socket.write(text));
      let answer = "";
      socket.setEncoding("utf8").on("data", (chunk: string) => {
        answer += chunk;
      });
      socket.on("end", () => resolve(answer));
      socket.on("error", reject);
    });
  });
}
