import type { IncomingMessage, ServerResponse } from "node:http";
import {
  type DockerSocketsSource,
  dockerSocketsStatus,
} from "../../consumers/docker-sockets/status.js";
import { type Logger, logProblem } from "../../log.js";
import type { AgentPool } from "../../pool/pool.js";
import type { WatchProblem } from "../../reload/source.js";
import type { EventStream } from "./events.js";
import type { Metrics } from "./metrics.js";
import { STATUS_PAGE_PATHS, statusPageRoutes } from "./page/route.js";
import type { InfoProber } from "./prober.js";
import type { ReloadReadModel } from "./reloads.js";
import { send, sendJson, sendText } from "./reply.js";
import { agentRow } from "./views.js";

/** Answers one request; the dispatcher has already checked the path and the method. */
export type Route = (req: IncomingMessage, res: ServerResponse) => void;

/** Every path the status endpoint answers, as the 404 answer lists them. */
export const ENDPOINTS = Object.freeze([
  ...STATUS_PAGE_PATHS,
  ...(["/healthz", "/readyz", "/agents", "/status", "/metrics", "/events"] as const),
]);

/** What the routes read from. */
export interface RouteSources {
  pool: AgentPool;
  configPath: string;
  log: Logger;
  metrics: Metrics;
  prober: InfoProber;
  reloads: ReloadReadModel;
  events: EventStream;
  dockerSockets: DockerSocketsSource | undefined;
  watchProblem: (() => WatchProblem | undefined) | undefined;
}

/** Every endpoint of the status server, each in one line or a few. */
export function statusRoutes(from: RouteSources): Record<(typeof ENDPOINTS)[number], Route> {
  const { pool, configPath, log, metrics, prober, reloads, events, dockerSockets } = from;
  return {
    "/healthz": (_req, res) => sendText(res, 200, "ok"),
    "/readyz": (_req, res) => {
      const { status, text } = reloads.readiness();
      sendText(res, status, text);
    },
    "/agents": (_req, res) =>
      sendJson(
        res,
        200,
        pool.snapshot.agents.map((agent) => agentRow(agent, prober.get(agent.addr), dockerSockets)),
      ),
    "/status": (_req, res) => {
      const body = reloads.statusBody(pool.snapshot, configPath);
      if (dockerSockets) body.dockerSockets = dockerSocketsStatus(dockerSockets);
      const watchProblem = from.watchProblem?.();
      if (watchProblem) body.watchProblem = watchProblem;
      const stoppedLog = logProblem();
      if (stoppedLog) body.logProblem = stoppedLog;
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
    "/events": (req, res) => events.open(req, res, pool.snapshot),
    ...statusPageRoutes,
  };
}

/**
 * The request handler: 404 (listing the endpoints) for an unknown path, 405
 * for anything but GET and HEAD, 500 when a route throws (logged).
 */
export function dispatch(
  routes: Readonly<Record<string, Route>>,
  log: Logger,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0] as string;
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (!route) return sendJson(res, 404, { error: `no endpoint ${path}`, endpoints: ENDPOINTS });
    if (req.method !== "GET" && req.method !== "HEAD") {
      const error = `method ${req.method} not allowed on ${path}`;
      return sendJson(res, 405, { error, allow: ["GET", "HEAD"] }, { allow: "GET, HEAD" });
    }
    try {
      route(req, res);
    } catch (err) {
      log.error({ err, path }, "status request failed");
      if (!res.headersSent) sendText(res, 500, "internal error");
      else res.destroy();
    }
  };
}
