import { lstat, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { type AddressInfo, connect, isIPv4, isIPv6 } from "node:net";
import type { Observable, Subscription } from "rxjs";
import { tlsIdentityOf } from "../../agent/agent.js";
import {
  type DockerSocketsSource,
  type DockerSocketsStatus,
  dockerSocketFields,
  dockerSocketsStatus,
  registerDockerSocketMetrics,
} from "../../consumers/docker-sockets/status.js";
import type { Logger } from "../../log.js";
import type { AgentPool } from "../../pool/pool.js";
import type { PoolSnapshot } from "../../pool/snapshot.js";
import type { ReloadResult } from "../../reload/result.js";
import type { WatchProblem } from "../../reload/source.js";
import { createReloadHistory, type ReloadRecord } from "./history.js";
import { createMetrics, type Metrics } from "./metrics.js";
import { STATUS_PAGE_PATHS, statusPageRoutes } from "./page/route.js";
import { createInfoProber, type InfoChange, type InfoProber } from "./prober.js";

/** Options of {@link startStatusServer}, resolved once against frozen defaults. */
export interface StatusServerOptions {
  /** `HOST:PORT`, `[IPv6]:PORT`, or the path of a unix socket (anything containing `/`). Required. */
  listen: string;
  /** Required. */
  pool: AgentPool;
  /** Reload results; a new subscriber should get the latest one first (as `watchConfig` gives it). Required. */
  results$: Observable<ReloadResult>;
  /** Shown in `/status`. Required. */
  configPath: string;
  /** Required. */
  logger: Logger;
  /** Source of `/info` answers; by default the server starts (and stops) its own. */
  prober?: InfoProber;
  /**
   * Where to record metrics; by default the server creates its own. The server
   * feeds it from `results$`, the pool and the prober: do not feed it elsewhere too.
   */
  metrics?: Metrics;
  /** Docker sockets to show in `/status`, `/agents` and the metrics (`--docker-sockets`). */
  dockerSockets?: DockerSocketsSource;
  /** What the file watcher cannot watch right now, shown in `/status`. */
  watchProblem?: () => WatchProblem | undefined;
  /** Interval of `/events` comment heartbeats. Default 15 000 ms. */
  heartbeatMs?: number;
  /** An `/events` client with more than this many bytes waiting to be sent is dropped. Default 1 MiB. */
  maxClientBufferBytes?: number;
}

/** A running status endpoint. */
export interface StatusServer {
  /** As bound: `127.0.0.1:9410`, `[::1]:9410`, or the socket path. */
  readonly address: string;
  /** The metrics the server records (its own, or the ones passed in). */
  readonly metrics: Metrics;
  /** Ends `/events` streams, stops listening, lets running requests finish, removes the socket file. */
  close(): Promise<void>;
}

/** Where the status endpoint listens. */
export type ListenAddress =
  | { kind: "tcp"; host: string; port: number }
  | { kind: "unix"; path: string };

const DEFAULTS = Object.freeze({
  heartbeatMs: 15_000,
  maxClientBufferBytes: 1024 * 1024,
});

/** Running requests get this long to finish on close before their sockets are cut. */
const CLOSE_GRACE_MS = 2_000;

/**
 * Parses a `--listen` value: `HOST:PORT`, `[IPv6]:PORT`, or a unix socket
 * path (anything containing `/`). Throws a `TypeError` saying what is expected.
 */
export function parseListen(listen: string): ListenAddress {
  const invalid = () =>
    new TypeError(
      `listen must be HOST:PORT, [IPv6]:PORT or a unix socket path containing "/"; got ${JSON.stringify(listen)}.`,
    );
  if (typeof listen !== "string" || listen.length === 0) throw invalid();
  if (listen.includes("/")) return { kind: "unix", path: listen };
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(listen);
  if (!m) throw invalid();
  const port = Number(m[3]);
  if (port > 65_535) throw invalid();
  if (m[1] !== undefined) {
    if (!isIPv6(m[1])) throw invalid();
    return { kind: "tcp", host: m[1], port };
  }
  return { kind: "tcp", host: m[2] as string, port };
}

function formatAddress(info: AddressInfo | string | null, fallback: string): string {
  if (typeof info === "string") return info;
  if (!info) return fallback;
  return isIPv6(info.address) ? `[${info.address}]:${info.port}` : `${info.address}:${info.port}`;
}

/** Whether a bound address (`host:port`, `[v6]:port`) is on the loopback interface. */
export function isLoopbackAddress(address: string): boolean {
  const host = address
    .replace(/:\d+$/, "")
    .replace(/^\[|\]$/g, "")
    .replace(/^::ffff:/i, "");
  if (isIPv4(host)) return host.startsWith("127.");
  return host === "::1";
}

function resolveOptions(options: StatusServerOptions) {
  const defined = Object.fromEntries(
    Object.entries(options).filter(([, value]) => value !== undefined),
  ) as StatusServerOptions;
  const resolved = Object.freeze({ ...DEFAULTS, ...defined });
  if (!resolved.pool || typeof resolved.pool.snapshots$?.subscribe !== "function")
    throw new TypeError("pool must be an AgentPool.");
  if (!resolved.results$ || typeof resolved.results$.subscribe !== "function")
    throw new TypeError("results$ must be an Observable of reload results.");
  if (typeof resolved.configPath !== "string") throw new TypeError("configPath must be a string.");
  if (!resolved.logger) throw new TypeError("logger is required.");
  if (!(resolved.heartbeatMs > 0 && Number.isFinite(resolved.heartbeatMs)))
    throw new TypeError("heartbeatMs must be a positive number of milliseconds.");
  if (!(resolved.maxClientBufferBytes > 0 && Number.isFinite(resolved.maxClientBufferBytes)))
    throw new TypeError("maxClientBufferBytes must be a positive number of bytes.");
  return { ...resolved, address: parseListen(resolved.listen) };
}

/**
 * A unix socket file left by a daemon that died is removed; one that somebody
 * still listens on, or a path that is not a socket, is left alone.
 */
async function removeStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  if (!isSocket) throw new Error(`${path} exists and is not a socket; refusing to replace it.`);
  const inUse = await new Promise<boolean>((resolve, reject) => {
    const probe = connect(path);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ECONNREFUSED" || err.code === "ENOENT") resolve(false);
      else reject(err);
    });
  });
  if (inUse) throw new Error(`another process is listening on ${path}.`);
  await rm(path, { force: true });
}

interface EventsClient {
  readonly res: ServerResponse;
  readonly remote: string;
}

function sseFrame(event: string, data: unknown, id?: number): string {
  const head = id === undefined ? "" : `id: ${id}\n`;
  // JSON.stringify escapes newlines, so the data always fits on one `data:` line.
  return `${head}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The `/events` and `/agents` view of an agent list: public fields only, never key material. */
function snapshotData(snapshot: PoolSnapshot) {
  return {
    version: snapshot.version,
    cause: snapshot.cause,
    at: snapshot.at,
    agents: snapshot.agents.map((agent) => agent.toJSON()),
    added: snapshot.added,
    removed: snapshot.removed,
    changed: snapshot.changed,
  };
}

function send(
  res: ServerResponse,
  status: number,
  body: string,
  contentType: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    "content-type": contentType,
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    ...headers,
  });
  res.end(body);
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers?: Record<string, string>,
): void {
  send(res, status, `${JSON.stringify(body, null, 2)}\n`, "application/json", headers);
}

function sendText(res: ServerResponse, status: number, body: string): void {
  send(res, status, `${body}\n`, "text/plain; charset=utf-8");
}

const ENDPOINTS = [
  ...STATUS_PAGE_PATHS,
  ...(["/healthz", "/readyz", "/agents", "/status", "/metrics", "/events"] as const),
];

/**
 * Starts the status endpoint: `/healthz`, `/readyz`, `/agents`, `/status`,
 * `/metrics` and `/events` (Server-Sent Events) over plain HTTP, GET and HEAD
 * only. Resolves once listening; rejects with one sentence when the options
 * are invalid or the address cannot be bound.
 */
export async function startStatusServer(options: StatusServerOptions): Promise<StatusServer> {
  const opts = resolveOptions(options);
  const { pool, configPath, address: where } = opts;
  // The daemon may hand over a logger already bound to this module; binding again would repeat the key.
  const log =
    opts.logger.bindings().module === "status"
      ? opts.logger
      : opts.logger.child({ module: "status" });
  const metrics = opts.metrics ?? createMetrics();
  if (opts.dockerSockets) registerDockerSocketMetrics(metrics.registry, opts.dockerSockets);
  const ownProber = opts.prober === undefined;
  const prober = opts.prober ?? createInfoProber({ pool, logger: opts.logger });

  let lastResult: ReloadResult | undefined;
  let lastSuccess: { at: string; version: number } | undefined;
  const history = createReloadHistory();
  const clients = new Set<EventsClient>();
  const frames = new WeakMap<PoolSnapshot, string>();
  const snapshotFrame = (snapshot: PoolSnapshot) => {
    let frame = frames.get(snapshot);
    if (frame === undefined) {
      frame = sseFrame("snapshot", snapshotData(snapshot), snapshot.version);
      frames.set(snapshot, frame);
    }
    return frame;
  };

  const drop = (client: EventsClient, reason: string) => {
    if (!clients.delete(client)) return;
    metrics.setEventClients(clients.size);
    log.warn(
      { remote: client.remote, buffered: client.res.writableLength },
      `dropping /events client: ${reason}`,
    );
    client.res.destroy();
  };

  // Writes never wait: a client that does not read piles up in its own buffer
  // until the bound, then it is cut off. Nobody else notices. The bound is on
  // what is still unsent from earlier writes, so one snapshot larger than the
  // bound still reaches a client that keeps up; memory per client stays below
  // the bound plus one frame.
  const write = (client: EventsClient, frame: string) => {
    if (client.res.destroyed || client.res.writableEnded) {
      if (clients.delete(client)) metrics.setEventClients(clients.size);
      return;
    }
    if (client.res.writableLength > opts.maxClientBufferBytes) {
      drop(client, `more than ${opts.maxClientBufferBytes} bytes unread`);
      return;
    }
    client.res.write(frame);
  };

  const broadcast = (frame: () => string) => {
    if (clients.size === 0) return;
    const text = frame();
    for (const client of clients) write(client, text);
  };

  const subscriptions: Subscription[] = [];
  const guard =
    <T>(what: string, fn: (value: T) => void) =>
    (value: T) => {
      try {
        fn(value);
      } catch (err) {
        log.error({ err }, `status endpoint could not follow ${what}`);
      }
    };

  subscriptions.push(
    pool.snapshots$.subscribe(
      guard("a snapshot", (snapshot: PoolSnapshot) => {
        metrics.setSnapshot(snapshot);
        broadcast(() => snapshotFrame(snapshot));
      }),
    ),
    opts.results$.subscribe({
      next: guard("a reload result", (result: ReloadResult) => {
        lastResult = result;
        metrics.observe(result);
        const record = history.record(result);
        broadcast(() => sseFrame("reload", record));
        if (result.ok) {
          lastSuccess = { at: result.at, version: result.version };
          return;
        }
        broadcast(() => sseFrame("reload-error", { at: result.at, error: result.error.message }));
      }),
      error: (err: unknown) => log.error({ err }, "reload results stream failed"),
    }),
  );
  for (const entry of prober.entries()) metrics.setAgentInfo(entry.addr, entry);
  subscriptions.push(
    prober.changes$.subscribe(
      guard("an info change", ({ addr, entry }: InfoChange) => {
        metrics.setAgentInfo(addr, entry);
        broadcast(() => sseFrame("agent-info", { addr }));
      }),
    ),
  );

  const routes: Record<
    (typeof ENDPOINTS)[number],
    (req: IncomingMessage, res: ServerResponse) => void
  > = {
    "/healthz": (_req, res) => sendText(res, 200, "ok"),
    "/readyz": (_req, res) => {
      if (!lastSuccess) return sendText(res, 503, "not ready: no config loaded yet");
      if (lastResult && !lastResult.ok) {
        return sendText(
          res,
          200,
          `ready, serving the config loaded at ${lastSuccess.at}; the last reload failed at ${lastResult.at}`,
        );
      }
      sendText(res, 200, "ready");
    },
    "/agents": (_req, res) => {
      const agents = pool.snapshot.agents.map((agent) => {
        const entry = prober.get(agent.addr);
        return {
          ...agent.toJSON(),
          ...(entry?.info ? { version: entry.info.version, runtime: entry.info.runtime } : {}),
          ...(entry?.error !== undefined ? { infoError: entry.error } : {}),
          ...(entry?.errorCode !== undefined ? { infoErrorCode: entry.errorCode } : {}),
          ...(entry ? { infoAt: entry.at, infoSince: entry.since } : {}),
          tls: tlsIdentityOf(agent),
          ...dockerSocketFields(opts.dockerSockets, agent.addr),
        };
      });
      sendJson(res, 200, agents);
    },
    "/status": (_req, res) => {
      const snapshot = pool.snapshot;
      const body: StatusBody = {
        version: snapshot.version,
        agents: snapshot.agents.length,
        configPath,
        ready: lastSuccess !== undefined,
        lastReload: lastResult ? describeResult(lastResult) : null,
        ...(lastSuccess ? { lastSuccess } : {}),
        recentReloads: history.list(),
        ...(opts.dockerSockets ? { dockerSockets: dockerSocketsStatus(opts.dockerSockets) } : {}),
      };
      const watchProblem = opts.watchProblem?.();
      if (watchProblem) body.watchProblem = watchProblem;
      sendJson(res, 200, body);
    },
    "/metrics": (_req, res) => {
      metrics.registry.metrics().then(
        (text) => send(res, 200, text, metrics.registry.contentType),
        (err: unknown) => {
          log.error({ err }, "collecting metrics failed");
          sendText(res, 500, "collecting metrics failed");
        },
      );
    },
    "/events": (req, res) => openEvents(req, res),
    ...statusPageRoutes,
  };

  function openEvents(req: IncomingMessage, res: ServerResponse): void {
    // A stream opened during shutdown would never be ended.
    if (closing) {
      res.writeHead(503, { "content-type": "text/plain; charset=utf-8" }).end("shutting down\n");
      return;
    }
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
      // Reverse proxies must pass events on as they come.
      "x-accel-buffering": "no",
    });
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    const client: EventsClient = {
      res,
      remote: `${req.socket.remoteAddress ?? "unix"}:${req.socket.remotePort ?? ""}`,
    };
    clients.add(client);
    metrics.setEventClients(clients.size);
    res.on("close", () => {
      if (clients.delete(client)) metrics.setEventClients(clients.size);
    });
    write(client, `retry: 3000\n\n${snapshotFrame(pool.snapshot)}`);
  }

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0] as string;
    const route = (routes as Record<string, (typeof routes)["/status"] | undefined>)[path];
    if (!route) {
      return sendJson(res, 404, { error: `no endpoint ${path}`, endpoints: ENDPOINTS });
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      return sendJson(
        res,
        405,
        { error: `method ${req.method} not allowed on ${path}`, allow: ["GET", "HEAD"] },
        { allow: "GET, HEAD" },
      );
    }
    try {
      route(req, res);
    } catch (err) {
      log.error({ err, path }, "status request failed");
      if (!res.headersSent) sendText(res, 500, "internal error");
      else res.destroy();
    }
  });

  const heartbeat = setInterval(() => {
    for (const client of clients) write(client, ": heartbeat\n\n");
  }, opts.heartbeatMs);
  heartbeat.unref();

  const teardown = () => {
    clearInterval(heartbeat);
    for (const subscription of subscriptions) subscription.unsubscribe();
    if (ownProber) prober.close();
  };

  try {
    if (where.kind === "unix") await removeStaleSocket(where.path);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      if (where.kind === "unix") server.listen(where.path, resolve);
      else server.listen({ host: where.host, port: where.port }, resolve);
    });
  } catch (err) {
    teardown();
    server.close();
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`status endpoint cannot listen on ${opts.listen}: ${reason}`, { cause: err });
  }
  server.on("error", (err) => log.error({ err }, "status server error"));

  const address = formatAddress(server.address(), opts.listen);
  if (where.kind === "tcp" && !isLoopbackAddress(address)) {
    log.warn(
      { address },
      "status endpoint listens on a non-loopback address; it has no authentication",
    );
  }
  log.info({ address }, "status endpoint listening");

  let closing: Promise<void> | undefined;
  return {
    address,
    metrics,
    close() {
      closing ??= (async () => {
        teardown();
        for (const client of clients) client.res.end();
        clients.clear();
        metrics.setEventClients(0);
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const cut = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
        await closed;
        clearTimeout(cut);
        if (where.kind === "unix") await rm(where.path, { force: true });
      })();
      return closing;
    },
  };
}

/** The last reload as `/status` shows it. */
export interface ReloadSummary {
  ok: boolean;
  at: string;
  durationMs: number;
  /** What started it: `initial`, `file`, `signal` (SIGHUP), `forced` (`reload()`) or `resync`. */
  cause: ReloadResult["cause"];
  /** The located error, when the reload failed. */
  error?: string;
  code?: string;
  /** The snapshot version, when it succeeded. */
  version?: number;
  warnings?: readonly string[];
}

/** The body of `GET /status`. */
export interface StatusBody {
  /** Snapshot version. */
  version: number;
  /** Agents in the pool. */
  agents: number;
  configPath: string;
  /** A config has been applied (what `/readyz` says). */
  ready: boolean;
  lastReload: ReloadSummary | null;
  lastSuccess?: { at: string; version: number };
  /** The last reload attempts (at most 20), newest first. */
  recentReloads: readonly ReloadRecord[];
  /** With `--docker-sockets`: each agent's socket path and counts. */
  dockerSockets?: DockerSocketsStatus;
  /** Present while the file watcher cannot watch a folder (e.g. the inotify watch limit). */
  watchProblem?: WatchProblem;
}

function describeResult(result: ReloadResult): ReloadSummary {
  const common = {
    ok: result.ok,
    at: result.at,
    durationMs: result.durationMs,
    cause: result.cause,
  };
  if (!result.ok) return { ...common, error: result.error.message, code: result.error.code };
  return {
    ...common,
    version: result.version,
    ...(result.warnings.length > 0 ? { warnings: result.warnings } : {}),
  };
}
