import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { AgentConfig } from "../agent/agent.js";
import { API_BASE } from "../agent/protocol.js";
import { proxyDockerRequest, proxyDockerUpgrade } from "./docker-proxy.js";
import { createTestPki, type TestPki } from "./pki.js";

export interface TestContainer {
  Id: string;
  Names: string[];
  Image: string;
  State: string;
  Status: string;
}

export interface TestAgentOptions {
  /** Certificates to serve with; fresh ones by default. */
  pki?: TestPki;
  /** Agent name reported by `/info`. Default `test-agent`. */
  name?: string;
  version?: string;
  runtime?: "docker" | "podman";
  /** Behave like an agent from before `/info` existed (404 there). `"no-runtime"`: also 404 on `/runtime`. */
  legacy?: boolean | "no-runtime";
  /** Containers listed by the Docker API `GET /containers/json`. */
  containers?: TestContainer[];
  /** Delay every answer by this many ms. */
  delayMs?: number;
  /** Accept TCP but never finish the TLS handshake (an agent that hangs while connecting). */
  stallHandshake?: boolean;
  /** Address to listen on. Default 127.0.0.1, port 0. */
  host?: string;
  port?: number;
  /**
   * Pass every path outside `/godoxy/agent` to the Docker Engine API on this
   * unix socket (podman's, or a stub's), upgrades included, as GoDoxy's agent does.
   */
  dockerSocket?: string;
  /** Extra routes; return true when the request was answered. */
  handle?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

/** A real HTTPS agent on loopback that requires a client certificate from its CA. */
export interface TestAgent {
  readonly addr: string;
  readonly port: number;
  readonly pki: TestPki;
  /** TLS handshakes completed so far. */
  readonly handshakes: number;
  /** Requests answered so far. */
  readonly requests: number;
  /** An agent config that reaches this server. */
  config(name?: string): AgentConfig;
  close(): Promise<void>;
}

const DEFAULT_CONTAINERS: TestContainer[] = [
  {
    Id: "4f1c0ffee0",
    Names: ["/web"],
    Image: "nginx:1.27",
    State: "running",
    Status: "Up 2 hours",
  },
  {
    Id: "9abadcafe1",
    Names: ["/db"],
    Image: "postgres:17",
    State: "running",
    Status: "Up 2 hours",
  },
];

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    "content-type": "text/plain",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

/** Starts a GoDoxy-compatible agent: `/godoxy/agent/info`, `/health`, the legacy endpoints and a little Docker API. */
export async function startTestAgent(options: TestAgentOptions = {}): Promise<TestAgent> {
  // Long on purpose: the fake agent's routes read best as one table next to the
  // state (containers, counters) they answer from.
  const pki = options.pki ?? (await createTestPki());
  const name = options.name ?? "test-agent";
  const version = options.version ?? "v0.18.0";
  const runtime = options.runtime ?? "docker";
  const containers = options.containers ?? DEFAULT_CONTAINERS;
  let handshakes = 0;
  let requests = 0;
  const sockets = new Set<Socket>();

  const route = (req: IncomingMessage, res: ServerResponse) => {
    requests++;
    if (options.handle?.(req, res)) return;
    const url = new URL(req.url ?? "/", "https://godoxy.agent");
    const path = url.pathname;
    if (path === `${API_BASE}/info`) {
      if (options.legacy) return text(res, 404, "404 page not found");
      return json(res, 200, { version, name, runtime });
    }
    if (path === `${API_BASE}/name`) return text(res, 200, name);
    if (path === `${API_BASE}/version`) return text(res, 200, version);
    if (path === `${API_BASE}/runtime`) {
      return options.legacy === "no-runtime"
        ? text(res, 404, "404 page not found")
        : text(res, 200, runtime);
    }
    if (path === `${API_BASE}/health`) {
      const target = url.searchParams.toString();
      return json(res, 200, { healthy: true, detail: `checked ${target}`, latency: 1_500_000 });
    }
    if (options.dockerSocket && !path.startsWith(`${API_BASE}/`))
      return proxyDockerRequest(options.dockerSocket, req, res);
    if (path === "/_ping") return text(res, 200, "OK");
    if (path === "/version")
      return json(res, 200, { Version: "27.3.1", ApiVersion: "1.47", Os: "linux" });
    if (path === "/containers/json") return json(res, 200, containers);
    return json(res, 404, { message: `page not found: ${path}` });
  };

  const server: Server = createServer(
    {
      key: pki.server.key,
      cert: pki.server.cert,
      ca: pki.ca.cert,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: "TLSv1.2",
    },
    (req, res) => {
      if (options.delayMs) setTimeout(() => route(req, res), options.delayMs);
      else route(req, res);
    },
  );
  server.on("secureConnection", () => handshakes++);
  const dockerSocket = options.dockerSocket;
  if (dockerSocket) {
    server.on("upgrade", (req, socket: Socket, head: Buffer) => {
      requests++;
      proxyDockerUpgrade(dockerSocket, req, socket, head);
    });
  }
  // Dropping tls.Server's own connection listener leaves sockets accepted but
  // never answered, so the client waits for a ServerHello that never comes.
  if (options.stallHandshake) server.removeAllListeners("connection");
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("tlsClientError", () => {});

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const { port, address } = server.address() as AddressInfo;
  const addr = address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;

  return {
    addr,
    port,
    pki,
    get handshakes() {
      return handshakes;
    },
    get requests() {
      return requests;
    },
    config: (agentName?: string) => ({
      addr,
      ...(agentName ? { name: agentName } : {}),
      tls: pki.clientTls,
    }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
