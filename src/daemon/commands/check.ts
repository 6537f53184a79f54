import { parseArgs } from "node:util";
import { verifyTls } from "../../agent/tls.js";
import { ConfigError, type ConfigIssue, formatIssue } from "../../config/errors.js";
import { type PreparedConfig, prepareConfig } from "../../config/load.js";
import { configJsonSchema } from "../../config/schema.js";
import { DEFAULT_CONFIG, DEFAULT_LISTEN } from "../defaults.js";
import {
  formatProbe,
  PROBE_DEFAULTS,
  PROBE_FAILED_EXIT,
  type ProbeResult,
  parseProbeTimeout,
  probeAgents,
} from "./check-probe.js";

/** Where the commands write; the CLI passes process.stdout and process.stderr. */
export interface CommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

const CHECK_USAGE = `Usage: agentpool check [-c, --config PATH] [--certs-dir DIR] [--probe [--probe-timeout MS]] [--json]
                       [--diff [--against HOST:PORT|SOCKET]]

Validates config.yml and the TLS files it names, like a reload would.
Exit status: 0 valid (warnings allowed), 1 invalid, 2 usage error,
${PROBE_FAILED_EXIT} valid but an agent failed its --probe, 3 (--diff) the daemon cannot be reached.

  -c, --config PATH    config file (env AGENTPOOL_CONFIG; default config/config.yml)
      --certs-dir DIR  where <addr>.zip bundles live (default: ../certs from the config's folder)
      --probe          then connect to every agent once (${PROBE_DEFAULTS.concurrency} at a time) and print
                       its /info, or which side refused the TLS handshake and why
      --probe-timeout MS
                       bound on each agent's probe, connect and TLS included (default ${PROBE_DEFAULTS.timeoutMs})
      --json           print {ok, agents, warnings, issues, probe?} as JSON on stdout
      --diff           then ask the running daemon and print what saving the file
                       would change: + added, - removed, ~ changed agents
      --against ADDR   the daemon's status endpoint for --diff
                       (default: $AGENTPOOL_LISTEN or ${DEFAULT_LISTEN})
  -h, --help           this text
`;

const SCHEMA_USAGE = `Usage: agentpool schema

Prints the JSON Schema of config.yml. Save it next to config.yml and start the
file with "# yaml-language-server: $schema=./agentpool.schema.json" so editors
check it as you type.
`;

const DAY_MS = 86_400_000;

/** One agent as `check --json` shows it: never any key material. */
export interface CheckedAgent {
  addr: string;
  name: string;
  /** Expiry of the client certificate, ISO 8601. */
  certNotAfter: string;
}

/** What `check --json` prints. */
export interface CheckReport {
  ok: boolean;
  agents: CheckedAgent[];
  warnings: string[];
  issues: ConfigIssue[];
  /** With `--probe` on a valid config: one result per agent. */
  probe?: ProbeResult[];
}

function usageError(io: CommandIo, message: string, usage: string): number {
  io.stderr.write(`agentpool: ${message}\n\n${usage}`);
  return 2;
}

function isParseArgsError(err: unknown): err is Error {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("ERR_PARSE_ARGS");
}

/**
 * `agentpool check`: loads the config exactly as a reload would (same
 * loader, same TLS checks) and reports. Returns the exit status.
 */
export async function checkCommand(argv: string[], io: CommandIo): Promise<number> {
  let values: {
    config?: string;
    "certs-dir"?: string;
    json?: boolean;
    help?: boolean;
    probe?: boolean;
    "probe-timeout"?: string;
    diff?: boolean;
    against?: string;
  };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: "string", short: "c" },
        "certs-dir": { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        probe: { type: "boolean" },
        "probe-timeout": { type: "string" },
        diff: { type: "boolean" },
        against: { type: "string" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    if (isParseArgsError(err)) return usageError(io, err.message, CHECK_USAGE);
    throw err;
  }
  if (values.help) {
    io.stdout.write(CHECK_USAGE);
    return 0;
  }
  if (values.config === "") return usageError(io, "--config needs a path", CHECK_USAGE);
  if (values["certs-dir"] === "") return usageError(io, "--certs-dir needs a path", CHECK_USAGE);
  const probeTimeoutMs = parseProbeTimeout(values["probe-timeout"]);
  if (typeof probeTimeoutMs === "string") return usageError(io, probeTimeoutMs, CHECK_USAGE);
  if (values["probe-timeout"] !== undefined && !values.probe)
    return usageError(io, "--probe-timeout goes with --probe", CHECK_USAGE);

  const configPath = values.config ?? (process.env.AGENTPOOL_CONFIG || DEFAULT_CONFIG);
  const certsDir = values["certs-dir"];
  let report: CheckReport;
  let loaded: PreparedConfig["agents"] = [];
  try {
    const prepared = await prepareConfig(configPath, certsDir ? { certsDir } : {});
    loaded = prepared.agents;
    report = {
      ok: true,
      agents: prepared.agents.map((agent) => ({
        addr: agent.addr,
        name: agent.name ?? agent.addr,
        // Already verified by the loader; the frozen tls object hits verifyTls's cache.
        certNotAfter: verifyTls(agent.addr, agent.tls).certNotAfter.toISOString(),
      })),
      warnings: [...prepared.warnings],
      issues: [],
    };
    if (values.probe)
      report.probe = await probeAgents(prepared.agents, { timeoutMs: probeTimeoutMs });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    report = { ok: false, agents: [], warnings: [], issues: err.issues.map((i) => ({ ...i })) };
  }

  if (values.diff && report.ok) {
    const { runDiff, resolveAgainst } = await import("./check-diff.js");
    const against = resolveAgainst(values.against);
    if (report.probe && !values.json) io.stdout.write(formatProbe(report.probe));
    const code = await runDiff({
      io,
      configPath,
      report,
      agents: loaded,
      against,
      json: !!values.json,
    });
    return code === 0 && report.probe?.some((result) => !result.ok) ? PROBE_FAILED_EXIT : code;
  }
  if (values.json) {
    io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else if (report.ok) {
    writeAgents(io, configPath, report);
    if (report.probe) io.stdout.write(formatProbe(report.probe));
  } else {
    writeIssues(io, configPath, report.issues);
  }
  if (report.probe?.some((result) => !result.ok)) return PROBE_FAILED_EXIT;
  return report.ok ? 0 : 1;
}

function writeAgents(io: CommandIo, configPath: string, report: CheckReport): void {
  const now = Date.now();
  const rows = report.agents.map((agent) => [
    agent.name,
    agent.addr,
    `${agent.certNotAfter} (${untilText(Date.parse(agent.certNotAfter) - now)})`,
  ]);
  if (rows.length > 0) io.stdout.write(table(["NAME", "ADDR", "CERT EXPIRES"], rows));
  for (const warning of report.warnings) io.stderr.write(`warning: ${warning}\n`);
  const count = report.agents.length;
  const warnings = report.warnings.length;
  io.stdout.write(
    `${configPath}: OK, ${count === 0 ? "no agents" : `${count} agent${count === 1 ? "" : "s"}`}` +
      `${warnings > 0 ? `, ${warnings} warning${warnings === 1 ? "" : "s"}` : ""}\n`,
  );
}

function writeIssues(io: CommandIo, configPath: string, issues: readonly ConfigIssue[]): void {
  for (const issue of issues) io.stderr.write(`${formatIssue(issue)}\n`);
  io.stderr.write(
    `${configPath}: invalid, ${issues.length} problem${issues.length === 1 ? "" : "s"}\n`,
  );
}

function untilText(ms: number): string {
  if (ms <= 0) return "expired";
  const days = Math.floor(ms / DAY_MS);
  return days === 0 ? "in less than a day" : `in ${days} day${days === 1 ? "" : "s"}`;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ");
  return `${[header, ...rows].map(line).join("\n")}\n`;
}

/** `agentpool schema`: prints the JSON Schema of config.yml. Returns the exit status. */
export async function schemaCommand(argv: string[], io: CommandIo): Promise<number> {
  let help: boolean | undefined;
  try {
    ({
      values: { help },
    } = parseArgs({
      args: argv,
      options: { help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    if (isParseArgsError(err)) return usageError(io, err.message, SCHEMA_USAGE);
    throw err;
  }
  if (help) {
    io.stdout.write(SCHEMA_USAGE);
    return 0;
  }
  io.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  return 0;
}
