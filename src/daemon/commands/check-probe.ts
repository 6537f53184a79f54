import { Agent, type AgentConfig } from "../../agent/agent.js";
import { AgentError } from "../../agent/errors.js";
import type { AgentInfo } from "../../agent/protocol.js";
import { oneLine } from "../../agent/tls-errors.js";
import { check, resolveOptions } from "../../options.js";
import { plural, table } from "./io.js";

/** Options of {@link probeAgents}. */
export interface ProbeOptions {
  /** Bound on one agent's probe: TCP connect, TLS handshake and `/info`. Default 5 000 ms. */
  timeoutMs?: number;
  /** Most agents probed at once. Default 8. */
  concurrency?: number;
}

export const PROBE_DEFAULTS: Readonly<Required<ProbeOptions>> = Object.freeze({
  timeoutMs: 5_000,
  concurrency: 8,
});

/** `agentpool check --probe` exits with this when the config is valid but an agent failed its probe. */
export const PROBE_FAILED_EXIT = 4;

/** One agent's probe, as `check --probe --json` prints it; never any key material. */
export type ProbeResult =
  | { addr: string; name: string; ok: true; info: AgentInfo; durationMs: number }
  | { addr: string; name: string; ok: false; code: string; error: string; durationMs: number };

/** Reads `--probe-timeout`: a positive number of milliseconds, or the sentence saying why not. */
export function parseProbeTimeout(text: string | undefined): number | string {
  if (text === undefined) return PROBE_DEFAULTS.timeoutMs;
  const ms = Number(text);
  return Number.isFinite(ms) && ms > 0
    ? ms
    : `--probe-timeout takes a positive number of milliseconds, not "${text}"`;
}

async function probeOne(config: AgentConfig, timeoutMs: number): Promise<ProbeResult> {
  const name = config.name || config.addr;
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  // One socket, bounded like the probe, closed right after: this is a one-shot connection test.
  const agent = new Agent(config, {
    connections: 1,
    connectTimeoutMs: timeoutMs,
    closeTimeoutMs: 1_000,
  });
  try {
    const info = await agent.info({ timeoutMs });
    return { addr: config.addr, name, ok: true, info, durationMs: elapsed() };
  } catch (err) {
    const code = err instanceof AgentError ? err.code : "ERR_AGENT_REQUEST";
    const error = oneLine(err instanceof Error ? err.message : String(err), 400);
    return { addr: config.addr, name, ok: false, code, error, durationMs: elapsed() };
  } finally {
    await agent.close();
  }
}

/**
 * Connects to every agent once and asks for its `/info`, at most
 * `concurrency` at a time, each bounded by `timeoutMs`. Results come back in
 * the order of `configs`; a failing agent never stops the others.
 */
export async function probeAgents(
  configs: readonly AgentConfig[],
  options: ProbeOptions = {},
): Promise<ProbeResult[]> {
  const { timeoutMs, concurrency } = resolveOptions(options, PROBE_DEFAULTS, {
    timeoutMs: check.positiveMs,
    concurrency: check.positiveInteger,
  });
  const results = new Array<ProbeResult>(configs.length);
  let next = 0;
  const worker = async () => {
    while (next < configs.length) {
      const index = next++;
      results[index] = await probeOne(configs[index] as AgentConfig, timeoutMs);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, configs.length) }, worker));
  return results;
}

/** The probe results as a table, then one summary line. */
export function formatProbe(results: readonly ProbeResult[]): string {
  if (results.length === 0) return "probe: no agents to probe\n";
  const rows = results.map((r) => [
    r.ok ? "ok" : "FAILED",
    r.name,
    r.addr,
    r.ok
      ? `${r.info.name} ${r.info.version} (${r.info.runtime}), ${r.durationMs} ms`
      : `${r.code}: ${r.error}`,
  ]);
  const failed = results.filter((r) => !r.ok).length;
  const agents = plural(results.length, "agent");
  const summary =
    failed === 0 ? `probe: all ${agents} answered` : `probe: ${failed} of ${agents} failed`;
  return `${table([["PROBE", "NAME", "ADDR", "RESULT"], ...rows])}\n${summary}\n`;
}
