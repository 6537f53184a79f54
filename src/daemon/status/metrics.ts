import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { AgentInfo } from "../../agent/protocol.js";
import { check, resolveOptions } from "../../options.js";
import type { PoolSnapshot } from "../../pool/snapshot.js";
import type { ReloadResult } from "../../reload/result.js";
import { reportedLabel } from "./label.js";

/** What the info prober knows about one agent, as far as metrics care. */
export interface AgentInfoState {
  /** The agent's name in the pool (not the name it reports). */
  name: string;
  /** Set once a probe succeeded. */
  info?: AgentInfo;
  /** Set while the latest probe failed. */
  error?: string;
}

/**
 * The daemon's Prometheus metrics, in a registry of their own (never prom-client's
 * global default registry), so several daemons can live in one process.
 *
 * Names are stable and documented in the README:
 *
 * | metric | type | meaning |
 * |---|---|---|
 * | `agentpool_agents` | gauge | agents in the current snapshot |
 * | `agentpool_snapshot_version` | gauge | version of the current snapshot |
 * | `agentpool_reloads_total{result}` | counter | reload attempts, `result` = `success` or `failure` |
 * | `agentpool_reload_resync_total` | counter | reload attempts the resync started (a file event was missed) |
 * | `agentpool_config_last_reload_successful` | gauge | 1 when the latest attempt succeeded, else 0 |
 * | `agentpool_config_last_reload_success_timestamp_seconds` | gauge | Unix time of the latest successful attempt |
 * | `agentpool_reload_duration_seconds` | histogram | duration of each attempt |
 * | `agentpool_agent_info{addr,name,version,runtime}` | gauge | 1 per agent whose `/info` is known |
 * | `agentpool_agent_info_probe_success{addr,name}` | gauge | 1 when the latest `/info` probe succeeded, 0 when it failed |
 * | `agentpool_events_clients` | gauge | connected `/events` clients |
 * | `agentpool_docker_socket_requests_total{addr,name}` | counter | requests on the agent's docker socket (`--docker-sockets`) |
 * | `agentpool_docker_socket_open_streams{addr,name}` | gauge | answers streaming and upgraded streams open on it |
 *
 * Process metrics use prom-client's standard, unprefixed names (`process_*`,
 * `nodejs_*`), so stock Node.js dashboards work unchanged; only the three
 * `nodejs_active_{handles,requests,resources}_total` gauges are left out
 * (promtool rejects a gauge named `_total`): sum the per-`type` gauge instead.
 */
export interface Metrics {
  readonly registry: Registry;
  /** Records one reload attempt. Call once per result. */
  observe(result: ReloadResult): void;
  /** Records the pool's current snapshot. */
  setSnapshot(snapshot: PoolSnapshot): void;
  /** Records what is known about an agent's `/info`; `undefined` forgets the agent. */
  setAgentInfo(addr: string, state: AgentInfoState | undefined): void;
  /** Records how many `/events` clients are connected. */
  setEventClients(count: number): void;
}

/** Options of {@link createMetrics}; all optional. */
export interface MetricsOptions {
  /** Also export prom-client's default process metrics. Default true. */
  processMetrics?: boolean;
}

const DEFAULTS: Readonly<Required<MetricsOptions>> = Object.freeze({ processMetrics: true });

/**
 * Reloads take from about a millisecond (a few agents, TLS files cached by the
 * OS) to seconds (a slow disk or network file system), so the buckets span 1 ms … 5 s.
 */
export const RELOAD_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
]);

/** prom-client's default gauges whose `_total` names break the exposition-format lint. */
const LINT_FAILING_PROCESS_METRICS = Object.freeze([
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
  "nodejs_active_resources_total",
]);

/** Creates the metrics of one daemon, in a fresh {@link Registry}. */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  // Long on purpose: every metric family is declared here, one after the other,
  // so their names, help texts and labels can be read (and linted) together.
  const resolved = resolveOptions(options, DEFAULTS, { processMetrics: check.boolean });

  const registry = new Registry();
  const registers = [registry];

  const agents = new Gauge({
    name: "agentpool_agents",
    help: "Number of agents in the pool's current snapshot.",
    registers,
  });
  const snapshotVersion = new Gauge({
    name: "agentpool_snapshot_version",
    help: "Version of the pool's current snapshot; grows by one per published snapshot.",
    registers,
  });
  const reloads = new Counter({
    name: "agentpool_reloads_total",
    help: "Config reload attempts, by result (success or failure).",
    labelNames: ["result"] as const,
    registers,
  });
  const resyncReloads = new Counter({
    name: "agentpool_reload_resync_total",
    help: "Reload attempts the periodic resync started because a file event was missed.",
    registers,
  });
  const lastSuccessful = new Gauge({
    name: "agentpool_config_last_reload_successful",
    help: "Whether the latest config reload attempt succeeded (1) or was rejected (0).",
    registers,
  });
  const lastSuccessTime = new Gauge({
    name: "agentpool_config_last_reload_success_timestamp_seconds",
    help: "Unix time of the latest successful config reload.",
    registers,
  });
  const duration = new Histogram({
    name: "agentpool_reload_duration_seconds",
    help: "Duration of config reload attempts (read, parse, validate, load TLS, swap), successful or not.",
    buckets: [...RELOAD_DURATION_BUCKETS],
    registers,
  });
  const agentInfo = new Gauge({
    name: "agentpool_agent_info",
    help: "Always 1, for each agent whose /info answer is known; labels carry what it reported.",
    labelNames: ["addr", "name", "version", "runtime"] as const,
    registers,
  });
  const probeSuccess = new Gauge({
    name: "agentpool_agent_info_probe_success",
    help: "Whether the latest /info probe of the agent succeeded (1) or failed (0).",
    labelNames: ["addr", "name"] as const,
    registers,
  });
  const eventClients = new Gauge({
    name: "agentpool_events_clients",
    help: "Clients connected to the /events stream.",
    registers,
  });

  // Both series exist from the start, so rate() and alerts see a 0 rather than nothing.
  reloads.inc({ result: "success" }, 0);
  reloads.inc({ result: "failure" }, 0);
  eventClients.set(0);

  if (resolved.processMetrics) {
    collectDefaultMetrics({ register: registry });
    // prom-client exports these three as gauges named `_total`, which
    // `promtool check metrics` rejects (https://github.com/prometheus/client_js/issues/283).
    // Each is the sum of the per-type gauge kept next to it: sum(nodejs_active_handles).
    for (const name of LINT_FAILING_PROCESS_METRICS) registry.removeSingleMetric(name);
  }

  // Label sets currently exported per agent, so a change or removal can drop the old series.
  const infoLabels = new Map<
    string,
    { addr: string; name: string; version: string; runtime: string }
  >();
  const probeLabels = new Map<string, { addr: string; name: string }>();

  return {
    registry,
    observe(result) {
      reloads.inc({ result: result.ok ? "success" : "failure" });
      if (result.cause === "resync") resyncReloads.inc();
      duration.observe(Math.max(0, result.durationMs) / 1000);
      lastSuccessful.set(result.ok ? 1 : 0);
      if (result.ok) {
        const at = Date.parse(result.at);
        lastSuccessTime.set((Number.isNaN(at) ? Date.now() : at) / 1000);
      }
    },
    setSnapshot(snapshot) {
      agents.set(snapshot.agents.length);
      snapshotVersion.set(snapshot.version);
    },
    setAgentInfo(addr, state) {
      const oldInfo = infoLabels.get(addr);
      if (oldInfo) agentInfo.remove(oldInfo);
      infoLabels.delete(addr);
      const oldProbe = probeLabels.get(addr);
      if (oldProbe) probeSuccess.remove(oldProbe);
      probeLabels.delete(addr);
      if (!state) return;

      if (state.info) {
        const labels = {
          addr,
          name: state.name,
          version: reportedLabel(state.info.version),
          runtime: state.info.runtime,
        };
        agentInfo.set(labels, 1);
        infoLabels.set(addr, labels);
      }
      if (state.info || state.error !== undefined) {
        const labels = { addr, name: state.name };
        probeSuccess.set(labels, state.error === undefined ? 1 : 0);
        probeLabels.set(addr, labels);
      }
    },
    setEventClients(count) {
      eventClients.set(count);
    },
  };
}
