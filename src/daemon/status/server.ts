import { createServer } from "node:http";
import type { Observable, Subscription } from "rxjs";
import {
  type DockerSocketsSource,
  registerDockerSocketMetrics,
} from "../../consumers/docker-sockets/status.js";
import type { Logger } from "../../log.js";
import { check, resolveOptions } from "../../options.js";
import type { AgentPool } from "../../pool/pool.js";
import type { PoolSnapshot } from "../../pool/snapshot.js";
import type { ReloadResult } from "../../reload/result.js";
import type { WatchProblem } from "../../reload/source.js";
import { EventStream, sseFrame } from "./events.js";
import { closeGracefully, isLoopbackAddress, listenOn, parseListen } from "./listen.js";
import { createMetrics, type Metrics } from "./metrics.js";
import { createInfoProber, type InfoChange, type InfoProber } from "./prober.js";
import { createReloadReadModel, type ReloadReadModel } from "./reloads.js";
import { dispatch, statusRoutes } from "./routes.js";

/*
 * The status endpoint's wiring only: its routes are in routes.ts, where it
 * listens in listen.ts, `/events` in events.ts, the JSON shapes in views.ts,
 * what it knows of reloads in reloads.ts, the page in page/.
 */

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

const DEFAULTS = Object.freeze({
  heartbeatMs: 15_000,
  maxClientBufferBytes: 1024 * 1024,
});

function resolve(options: StatusServerOptions) {
  const resolved = resolveOptions(
    options,
    DEFAULTS,
    {
      pool: check.agentPool,
      results$: (value) =>
        check.observable(value) === undefined
          ? undefined
          : "must be an Observable of reload results",
      configPath: check.string,
      heartbeatMs: check.positiveMs,
      maxClientBufferBytes: check.positiveBytes,
    },
    ["pool", "results$", "configPath", "logger"],
  );
  return { ...resolved, address: parseListen(resolved.listen) };
}

/**
 * Starts the status endpoint: `/healthz`, `/readyz`, `/agents`, `/status`,
 * `/metrics` and `/events` (Server-Sent Events) over plain HTTP, GET and HEAD
 * only. Resolves once listening; rejects with one sentence when the options
 * are invalid or the address cannot be bound.
 */
export async function startStatusServer(options: StatusServerOptions): Promise<StatusServer> {
  const opts = resolve(options);
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
  const reloads = createReloadReadModel();
  const events = new EventStream({
    ...opts,
    log,
    onClientCount: (n) => metrics.setEventClients(n),
  });
  const subscriptions = follow(opts.results$, pool, prober, { log, metrics, reloads, events });

  const routes = statusRoutes({
    pool,
    configPath,
    log,
    metrics,
    prober,
    reloads,
    events,
    dockerSockets: opts.dockerSockets,
    watchProblem: opts.watchProblem,
  });
  const server = createServer(dispatch(routes, log));

  const teardown = () => {
    for (const subscription of subscriptions) subscription.unsubscribe();
    if (ownProber) prober.close();
  };
  let address: string;
  try {
    address = await listenOn(server, where, opts.listen);
  } catch (err) {
    events.close();
    teardown();
    throw err;
  }
  server.on("error", (err) => log.error({ err }, "status server error"));
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
        events.close();
        await closeGracefully(server, where);
      })();
      return closing;
    },
  };
}

interface Followers {
  log: Logger;
  metrics: Metrics;
  reloads: ReloadReadModel;
  events: EventStream;
}

/** Feeds metrics, the read model and `/events` from the pool, the reload results and the prober. */
function follow(
  results$: Observable<ReloadResult>,
  pool: AgentPool,
  prober: InfoProber,
  { log, metrics, reloads, events }: Followers,
): Subscription[] {
  // A bug in one follower is logged; it must not end the subscription.
  const guard =
    <T>(what: string, fn: (value: T) => void) =>
    (value: T) => {
      try {
        fn(value);
      } catch (err) {
        log.error({ err }, `status endpoint could not follow ${what}`);
      }
    };
  const snapshots = pool.snapshots$.subscribe(
    guard("a snapshot", (snapshot: PoolSnapshot) => {
      metrics.setSnapshot(snapshot);
      events.broadcast(() => events.snapshotFrame(snapshot));
    }),
  );
  const results = results$.subscribe({
    next: guard("a reload result", (result: ReloadResult) => {
      metrics.observe(result);
      const record = reloads.follow(result);
      events.broadcast(() => sseFrame("reload", record));
      if (!result.ok) {
        events.broadcast(() =>
          sseFrame("reload-error", { at: result.at, error: result.error.message }),
        );
      }
    }),
    error: (err: unknown) => log.error({ err }, "reload results stream failed"),
  });
  for (const entry of prober.entries()) metrics.setAgentInfo(entry.addr, entry);
  const infos = prober.changes$.subscribe(
    guard("an info change", ({ addr, entry }: InfoChange) => {
      metrics.setAgentInfo(addr, entry);
      events.broadcast(() => sseFrame("agent-info", { addr }));
    }),
  );
  return [snapshots, results, infos];
}
