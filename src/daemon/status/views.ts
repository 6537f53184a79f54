import { type Agent, tlsIdentityOf } from "../../agent/agent.js";
import type { TlsIdentity } from "../../agent/tls.js";
import {
  type DockerSocketsSource,
  type DockerSocketsStatus,
  dockerSocketFields,
} from "../../consumers/docker-sockets/status.js";
import type { LogProblem } from "../../log.js";
import type { PoolSnapshot } from "../../pool/snapshot.js";
import type { ReloadResult } from "../../reload/result.js";
import type { WatchProblem } from "../../reload/source.js";
import type { ReloadRecord } from "./history.js";
import type { InfoEntry } from "./prober.js";

/*
 * The JSON the status endpoint answers with: public fields only, never key
 * material. `agentpool status` reads these shapes back (type imports only,
 * so the command loads none of the server).
 */

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
  /** Present once stdout failed and the log was dropped (see `stdoutDestination`). */
  logProblem?: LogProblem;
}

/** One element of `GET /agents`: the agent, what its latest `/info` probe said, its certificates' fingerprints. */
export interface AgentRow {
  addr: string;
  name: string;
  dockerHost: string;
  version?: string;
  runtime?: string;
  /** The latest probe's error message, while probes fail. */
  infoError?: string;
  infoErrorCode?: string;
  /** ISO time of the latest probe's outcome, and since when probes have had it. */
  infoAt?: string;
  infoSince?: string;
  tls: TlsIdentity;
  /** With `--docker-sockets`: the agent's socket (null while it has none) and its counts. */
  dockerSocket?: string | null;
  dockerRequests?: number;
  dockerOpenStreams?: number;
  dockerSocketError?: string;
}

/** The `/events` snapshot frame's data. */
export function snapshotView(snapshot: PoolSnapshot) {
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

/** An agent as `/agents` lists it, with its prober entry and docker socket when there are. */
export function agentRow(
  agent: Agent,
  entry: InfoEntry | undefined,
  dockerSockets: DockerSocketsSource | undefined,
): AgentRow {
  return {
    ...agent.toJSON(),
    ...(entry?.info ? { version: entry.info.version, runtime: entry.info.runtime } : {}),
    ...(entry?.error !== undefined ? { infoError: entry.error } : {}),
    ...(entry?.errorCode !== undefined ? { infoErrorCode: entry.errorCode } : {}),
    ...(entry ? { infoAt: entry.at, infoSince: entry.since } : {}),
    tls: tlsIdentityOf(agent),
    ...dockerSocketFields(dockerSockets, agent.addr),
  };
}

/** A reload result as `/status` shows it in `lastReload`. */
export function reloadSummary(result: ReloadResult): ReloadSummary {
  const common = {
    ok: result.ok,
    at: result.at,
    durationMs: Math.round(result.durationMs * 100) / 100,
    cause: result.cause,
  };
  if (!result.ok) return { ...common, error: result.error.message, code: result.error.code };
  return {
    ...common,
    version: result.version,
    ...(result.warnings.length > 0 ? { warnings: result.warnings } : {}),
  };
}
