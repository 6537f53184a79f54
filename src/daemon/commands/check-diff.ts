import type { AgentConfig } from "../../agent/agent.js";
import { type TlsIdentity, verifyTls } from "../../agent/tls.js";
import { DEFAULT_LISTEN } from "../defaults.js";
import { type ListenAddress, parseListen } from "../status/listen.js";
import type { CheckReport } from "./check.js";
import { type CommandIo, plural } from "./io.js";
import { getJson } from "./status.js";

/** Exit status of `check --diff` when the daemon cannot be asked (as `agentpool status`). */
export const DIFF_UNREACHABLE = 3;

const TIMEOUT_MS = 5_000;

/** One agent as the diff compares it: public fields and fingerprints, never key material. */
export interface DiffAgent {
  addr: string;
  name: string;
  /** Absent when the daemon does not report fingerprints (then TLS is not compared). */
  tls?: TlsIdentity;
}

/** A field of an agent that saving the file would change. */
export interface FieldChange<T> {
  from: T;
  to: T;
}

/** An agent that stays at its addr but changes its name or TLS material. */
export interface ChangedAgent {
  addr: string;
  name: string;
  changes: {
    name?: FieldChange<string>;
    cert?: FieldChange<string>;
    ca?: FieldChange<readonly string[]>;
  };
}

/** What saving the file would do to the running daemon's pool, keyed by addr (as a reload is). */
export interface AgentDiff {
  added: DiffAgent[];
  removed: DiffAgent[];
  changed: ChangedAgent[];
  unchanged: number;
  /** False when the daemon reports no TLS fingerprints: a rotation would not show. */
  tlsCompared: boolean;
}

/** What `check --diff --json` prints. */
export interface DiffReport extends CheckReport {
  /** The daemon asked. */
  against: string;
  /** Whether the daemon answered. */
  reachable: boolean;
  /** Why it could not be asked. */
  error?: string;
  diff?: AgentDiff;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((value, i) => value === b[i]);
}

/**
 * Compares the agents of the file with those the daemon runs, by addr, like a
 * reload: a new addr is added, a missing one removed, and the same addr with
 * another name or other certificates is changed. Pure.
 */
export function diffAgents(file: readonly DiffAgent[], running: readonly DiffAgent[]): AgentDiff {
  const before = new Map(running.map((agent) => [agent.addr, agent]));
  const after = new Set(file.map((agent) => agent.addr));
  const tlsCompared = running.every((agent) => agent.tls !== undefined);
  const diff: AgentDiff = { added: [], removed: [], changed: [], unchanged: 0, tlsCompared };
  for (const agent of file) {
    const old = before.get(agent.addr);
    if (!old) {
      diff.added.push(agent);
      continue;
    }
    const changes: ChangedAgent["changes"] = {};
    if (old.name !== agent.name) changes.name = { from: old.name, to: agent.name };
    if (old.tls && agent.tls) {
      if (old.tls.certSha256 !== agent.tls.certSha256)
        changes.cert = { from: old.tls.certSha256, to: agent.tls.certSha256 };
      if (!sameList(old.tls.caSha256, agent.tls.caSha256))
        changes.ca = { from: old.tls.caSha256, to: agent.tls.caSha256 };
    }
    if (Object.keys(changes).length > 0)
      diff.changed.push({ addr: agent.addr, name: agent.name, changes });
    else diff.unchanged++;
  }
  for (const agent of running) if (!after.has(agent.addr)) diff.removed.push(agent);
  return diff;
}

function isAgentList(body: unknown): body is DiffAgent[] {
  return (
    Array.isArray(body) &&
    body.every(
      (a) =>
        a &&
        typeof a.addr === "string" &&
        typeof a.name === "string" &&
        (a.tls === undefined ||
          (typeof a.tls.certSha256 === "string" && Array.isArray(a.tls.caSha256))),
    )
  );
}

/** Resolves `--against`: the flag, else `AGENTPOOL_LISTEN`, else the daemon's default address. */
export function resolveAgainst(flag: string | undefined, env = process.env): string {
  return flag || env.AGENTPOOL_LISTEN || DEFAULT_LISTEN;
}

/**
 * The `--diff` half of `agentpool check`, for a file that already passed: asks
 * the daemon at `against` for `/agents` and prints what saving the file would
 * change. Returns the exit status: 0, 2 for an unusable address, 3 when the
 * daemon cannot be reached.
 */
export async function runDiff(options: {
  io: CommandIo;
  configPath: string;
  report: CheckReport;
  agents: readonly AgentConfig[];
  against: string;
  json: boolean;
}): Promise<number> {
  const { io, report, against, json } = options;
  let where: ListenAddress;
  try {
    if (against === "off")
      throw new TypeError("--against needs the daemon's status address, not off.");
    where = parseListen(against);
  } catch (err) {
    io.stderr.write(`agentpool check: ${(err as Error).message}\n`);
    return 2;
  }
  const file: DiffAgent[] = options.agents.map((agent) => ({
    addr: agent.addr,
    name: agent.name || agent.addr,
    // Verified by the loader already; the frozen tls object hits verifyTls's cache.
    tls: verifyTls(agent.addr, agent.tls).identity,
  }));

  let running: unknown;
  try {
    running = await getJson(where, "/agents", TIMEOUT_MS);
    if (!isAgentList(running)) throw new Error("its /agents is not an agentpool agent list");
  } catch (err) {
    const reason = (err as Error).message;
    if (json) {
      const body: DiffReport = { ...report, against, reachable: false, error: reason };
      io.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
    }
    io.stderr.write(
      `agentpool check: ${options.configPath} is valid, but the daemon at ${against} cannot be reached: ${reason}\n` +
        "  Is it running? Point --against at its --listen address (HOST:PORT or a socket path).\n",
    );
    return DIFF_UNREACHABLE;
  }

  const diff = diffAgents(file, running as DiffAgent[]);
  if (json) {
    const body: DiffReport = { ...report, against, reachable: true, diff };
    io.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
  } else {
    io.stdout.write(renderDiff(options.configPath, against, diff));
    for (const warning of report.warnings) io.stderr.write(`warning: ${warning}\n`);
  }
  return 0;
}

const short = (fingerprint: string) => `${fingerprint.slice(0, 23)}…`;
const shortList = (list: readonly string[]) => list.map(short).join(", ") || "(none)";

/** The plan, like `terraform plan`: `+` added, `-` removed, `~` changed, then a summary line. */
export function renderDiff(configPath: string, against: string, diff: AgentDiff): string {
  const lines = [`${configPath} against the daemon at ${against}:`, ""];
  const width = Math.max(
    0,
    ...[...diff.added, ...diff.removed, ...diff.changed].map((agent) => agent.name.length),
  );
  for (const agent of diff.added) lines.push(`  + ${agent.name.padEnd(width)}  ${agent.addr}`);
  for (const agent of diff.removed) lines.push(`  - ${agent.name.padEnd(width)}  ${agent.addr}`);
  for (const agent of diff.changed) {
    lines.push(`  ~ ${agent.name.padEnd(width)}  ${agent.addr}`);
    const { name, cert, ca } = agent.changes;
    if (name) lines.push(`      name: ${JSON.stringify(name.from)} -> ${JSON.stringify(name.to)}`);
    if (cert) lines.push(`      client certificate: ${short(cert.from)} -> ${short(cert.to)}`);
    if (ca) lines.push(`      CA: ${shortList(ca.from)} -> ${shortList(ca.to)}`);
  }
  const total = diff.added.length + diff.removed.length + diff.changed.length;
  if (total === 0) {
    lines.push(`  No changes: the daemon already runs these ${plural(diff.unchanged, "agent")}.`);
  } else {
    lines.push(
      "",
      `Saving this file would add ${diff.added.length}, remove ${diff.removed.length} and change ${plural(diff.changed.length, "agent")}; ${diff.unchanged} unchanged.`,
    );
  }
  if (!diff.tlsCompared)
    lines.push("(TLS material not compared: the daemon does not report certificate fingerprints.)");
  return `${lines.join("\n")}\n`;
}
