import { buildConnector, fetch, Pool, request } from "undici";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { Agent, AgentError, DOCKER_HOST } from "../../src/index.js";
import {
  createCa,
  createTestPki,
  issueCertificate,
  startTestAgent,
  type TestAgent,
  type TestPki,
} from "../../src/testing/index.js";

let pki: TestPki;
const open: Array<{ close(): Promise<void> }> = [];

beforeAll(async () => {
  pki = await createTestPki();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()));
});

async function serve(options: Parameters<typeof startTestAgent>[0] = {}): Promise<TestAgent> {
  const server = await startTestAgent({ pki, ...options });
  open.push(server);
  return server;
}

function agentFor(server: TestAgent, name?: string): Agent {
  const agent = new Agent(server.config(name));
  open.push(agent);
  return agent;
}

function keyBody(key: string): string {
  return key
    .split("\n")
    .filter((line) => line && !line.startsWith("-----"))
    .join("");
}

describe("Agent over mutual TLS", () => {
  it("reaches the Docker API through its dispatcher with undici request and fetch", async () => {
    const server = await serve();
    const agent = agentFor(server);
    const res = await request(`${DOCKER_HOST}/containers/json`, { dispatcher: agent.httpClient() });
    expect(res.statusCode).toBe(200);
    const containers = (await res.body.json()) as Array<{ Names: string[] }>;
    expect(containers.map((c) => c.Names[0])).toEqual(["/web", "/db"]);

    const viaFetch = await fetch(`${DOCKER_HOST}/version`, { dispatcher: agent.httpClient() });
    expect(((await viaFetch.json()) as { ApiVersion: string }).ApiVersion).toBe("1.47");
  });

  it("sends Host: godoxy.agent while dialing addr", async () => {
    let host: string | undefined;
    const server = await serve({
      handle: (req, res) => {
        host = req.headers.host;
        res.end("ok");
        return true;
      },
    });
    const res = await agentFor(server).request("GET", "/anything");
    await res.body.text();
    expect(host).toBe("godoxy.agent");
  });

  it("reports info from a current agent", async () => {
    const server = await serve({ name: "edge-1", version: "v0.20.1", runtime: "podman" });
    expect(await agentFor(server).info()).toEqual({
      name: "edge-1",
      version: "v0.20.1",
      runtime: "podman",
    });
  });

  it("falls back to /name, /version and /runtime on a legacy agent", async () => {
    const server = await serve({
      name: "old-1",
      version: "v0.9.0",
      runtime: "podman",
      legacy: true,
    });
    expect(await agentFor(server).info()).toEqual({
      name: "old-1",
      version: "v0.9.0",
      runtime: "podman",
    });
  });

  it("treats a legacy agent without /runtime as docker", async () => {
    const server = await serve({ name: "older", version: "v0.5.0", legacy: "no-runtime" });
    expect(await agentFor(server).info()).toEqual({
      name: "older",
      version: "v0.5.0",
      runtime: "docker",
    });
  });

  it("parses a health check answer, from an object, URLSearchParams or a string", async () => {
    const server = await serve();
    const agent = agentFor(server);
    const fromObject = await agent.healthCheck({ scheme: "http", host: "10.0.0.9", port: 80 });
    expect(fromObject).toEqual({
      healthy: true,
      detail: "checked scheme=http&host=10.0.0.9&port=80",
      latency: 1_500_000,
    });
    const fromParams = await agent.healthCheck(new URLSearchParams({ scheme: "tcp", host: "db" }));
    expect(fromParams.detail).toBe("checked scheme=tcp&host=db");
    const fromString = await agent.healthCheck("?scheme=udp&host=dns");
    expect(fromString.detail).toBe("checked scheme=udp&host=dns");
  });

  it("turns a non-200 health answer into an unhealthy result", async () => {
    const server = await serve({
      handle: (req, res) => {
        if (!req.url?.startsWith("/godoxy/agent/health")) return false;
        res.writeHead(503).end("docker unreachable");
        return true;
      },
    });
    const result = await agentFor(server).healthCheck({ host: "x" });
    expect(result.healthy).toBe(false);
    expect(result.detail).toBe("HTTP 503 docker unreachable");
  });

  it("cuts off an agent that answers too slowly", async () => {
    const server = await serve({ delayMs: 5_000 });
    const error = await agentFor(server)
      .info({ timeoutMs: 150 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AgentError);
    expect((error as AgentError).code).toBe("ERR_AGENT_TIMEOUT");
    expect((error as AgentError).message).toContain(server.addr);
  });

  it("cuts off an agent that hangs during the TLS handshake", async () => {
    const server = await serve({ stallHandshake: true });
    const started = Date.now();
    const error = await agentFor(server)
      .healthCheck({ host: "x" }, { timeoutMs: 200 })
      .catch((e: unknown) => e);
    expect((error as AgentError).code).toBe("ERR_AGENT_TIMEOUT");
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it("stops when the caller aborts, also before the handshake finished", async () => {
    const server = await serve({ stallHandshake: true });
    const controller = new AbortController();
    const pending = agentFor(server).info({ signal: controller.signal, timeoutMs: 60_000 });
    setTimeout(() => controller.abort(new Error("user gave up")), 50);
    const error = await pending.catch((e: unknown) => e);
    expect((error as AgentError).code).toBe("ERR_AGENT_ABORTED");
  });

  it("rejects a server whose certificate comes from another CA", async () => {
    const otherPki = await createTestPki();
    const server = await serve({ pki: otherPki });
    const agent = new Agent({ addr: server.addr, tls: pki.clientTls });
    open.push(agent);
    const error = await agent.info({ timeoutMs: 3_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AgentError);
    expect((error as AgentError).code).toBe("ERR_AGENT_TLS");
    expect((error as Error).message).toMatch(/we refused the agent's certificate/);
  });

  it("rejects a server whose certificate is not for godoxy.agent", async () => {
    const wrongName = await issueCertificate(pki.ca, {
      commonName: "other.agent",
      dnsNames: ["other.agent"],
      usage: "server",
    });
    const server = await serve({ pki: { ...pki, server: wrongName } });
    const error = await agentFor(server)
      .info({ timeoutMs: 3_000 })
      .catch((e: unknown) => e);
    expect((error as AgentError).code).toBe("ERR_AGENT_TLS");
    expect((error as Error).message).toMatch(/issued to "other\.agent", not to godoxy\.agent/);
  });

  it("is refused by the server when its client certificate comes from another CA", async () => {
    const server = await serve();
    const stranger = await createCa("stranger CA");
    const strangerClient = await issueCertificate(stranger, {
      commonName: "intruder",
      usage: "client",
    });
    const agent = new Agent({
      addr: server.addr,
      tls: { ca: pki.ca.cert, cert: strangerClient.cert, key: strangerClient.key },
    });
    open.push(agent);
    const error = await agent.info({ timeoutMs: 3_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AgentError);
    expect(server.requests).toBe(0);
  });
});

describe("Agent configuration", () => {
  it("refuses a certificate that does not parse, naming the addr and the part", () => {
    const make = () =>
      new Agent({
        addr: "10.0.0.5:8890",
        tls: {
          ...pki.clientTls,
          cert: "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----",
        },
      });
    expect(make).toThrow(AgentError);
    expect(make).toThrow(/10\.0\.0\.5:8890: tls\.cert/);
  });

  it("refuses a key that does not belong to the certificate, without quoting the key", async () => {
    const other = await issueCertificate(pki.ca, { commonName: "other", usage: "client" });
    let error: unknown;
    try {
      new Agent({ addr: "10.0.0.5:8890", tls: { ...pki.clientTls, key: other.key } });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(AgentError);
    expect((error as AgentError).code).toBe("ERR_AGENT_TLS");
    expect((error as Error).message).toMatch(
      /10\.0\.0\.5:8890: tls\.key: private key does not match/,
    );
    expect(JSON.stringify(error) + String(error) + (error as Error).stack).not.toContain(
      keyBody(other.key).slice(0, 40),
    );
  });

  it("refuses garbage where the key should be", () => {
    expect(
      () =>
        new Agent({
          addr: "h:1",
          tls: {
            ...pki.clientTls,
            key: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
          },
        }),
    ).toThrow(/h:1: tls\.key: private key does not parse/);
  });

  it("refuses an addr that is not host:port", () => {
    expect(() => new Agent({ addr: "::1:8890", tls: pki.clientTls })).toThrow(/host:port/);
  });

  it("never shows its private key in JSON or inspection", async () => {
    const { inspect } = await import("node:util");
    const agent = new Agent({ addr: "[::1]:8890", name: "v6", tls: pki.clientTls });
    expect(JSON.parse(JSON.stringify(agent))).toEqual({
      addr: "[::1]:8890",
      name: "v6",
      dockerHost: "agent://[::1]:8890",
    });
    expect(inspect(agent, { depth: 10, showHidden: true })).not.toContain(
      keyBody(pki.client.key).slice(0, 40),
    );
    expect(Object.isFrozen(agent)).toBe(true);
  });
});

describe("Agent edge cases", () => {
  it("request() honours a signal while the TLS handshake hangs", async () => {
    const server = await serve({ stallHandshake: true });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    const error = await agentFor(server)
      .request("GET", "/info", { signal: controller.signal })
      .catch((e: unknown) => e);
    expect((error as AgentError).code).toBe("ERR_AGENT_ABORTED");
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("request() honours timeoutMs while the TLS handshake hangs", async () => {
    const server = await serve({ stallHandshake: true });
    const error = await agentFor(server)
      .request("GET", "/info", { timeoutMs: 100 })
      .catch((e: unknown) => e);
    expect((error as AgentError).code).toBe("ERR_AGENT_TIMEOUT");
  });

  it("a closed agent that was never used opens no connection", async () => {
    const server = await serve();
    const agent = agentFor(server);
    await agent.close();
    const error = await request(`${DOCKER_HOST}/version`, { dispatcher: agent.httpClient() }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect(server.handshakes).toBe(0);
  });

  it("the agent server refuses a client without a certificate", async () => {
    const server = await serve();
    const bare = new Pool(DOCKER_HOST, {
      connect: (opts, cb) =>
        buildConnector({ ca: pki.ca.cert, servername: "godoxy.agent" })(
          {
            ...opts,
            hostname: "127.0.0.1",
            host: `127.0.0.1:${server.port}`,
            port: String(server.port),
          },
          cb,
        ),
    });
    open.push(bare);
    const error = await request(`${DOCKER_HOST}/version`, { dispatcher: bare }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect(server.requests).toBe(0);
  });
});
