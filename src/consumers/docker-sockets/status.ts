import { Counter, Gauge, type Registry } from "prom-client";
import type { DockerSocketInfo } from "./serve.js";

/** What the status endpoint needs of a socket set. */
export interface DockerSocketsSource {
  readonly dir: string;
  list(): DockerSocketInfo[];
}

/** `dockerSockets` in `GET /status`. */
export interface DockerSocketsStatus {
  dir: string;
  sockets: DockerSocketInfo[];
}

export function dockerSocketsStatus(source: DockerSocketsSource): DockerSocketsStatus {
  return { dir: source.dir, sockets: source.list() };
}

/** The fields one agent gets in `GET /agents`. */
export function dockerSocketFields(
  source: DockerSocketsSource | undefined,
  addr: string,
): Record<string, unknown> {
  const info = source?.list().find((socket) => socket.addr === addr);
  if (!info) return {};
  return {
    dockerSocket: info.path ?? null,
    dockerRequests: info.requests,
    dockerOpenStreams: info.openStreams,
    ...(info.error !== undefined ? { dockerSocketError: info.error } : {}),
  };
}

/**
 * `agentpool_docker_socket_requests_total{addr,name}` (counter) and
 * `agentpool_docker_socket_open_streams{addr,name}` (gauge), read from the
 * socket set at each scrape.
 */
export function registerDockerSocketMetrics(registry: Registry, source: DockerSocketsSource): void {
  new Counter({
    name: "agentpool_docker_socket_requests_total",
    help: "Requests received on an agent's docker socket (upgrades included), since the socket was created.",
    labelNames: ["addr", "name"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const socket of source.list())
        this.inc({ addr: socket.addr, name: socket.name }, socket.requests);
    },
  });
  new Gauge({
    name: "agentpool_docker_socket_open_streams",
    help: "Answers still streaming and upgraded streams (exec, attach) open on an agent's docker socket.",
    labelNames: ["addr", "name"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const socket of source.list())
        this.set({ addr: socket.addr, name: socket.name }, socket.openStreams);
    },
  });
}
