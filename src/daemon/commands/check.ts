import { parseArgs } from "node:util";
import { verifyTls } from "../../agent/tls.js";
import { ConfigError, type ConfigIssue, formatIssue } from "../../config/errors.js";
import { type PreparedConfig, prepareConfig } from "../../config/load.js";
import { DAY_MS } from "../../time.js";
import { DEFAULT_CONFIG, DEFAULT_LISTEN } from "../defaults.js";
import {
  formatProbe,
  PROBE_DEFAULTS,
  PROBE_FAILED_EXIT,
  type ProbeResult,
  parseProbeTimeout,
  probeAgents,
} from "./check-probe.js";
import { type CommandIo, isUsageError, plural, table, usageError } from "./io.js";

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

interface CheckArgs {
  config?: string;
  "certs-dir"?: string;
  json?: boolean;
  help?: boolean;
  probe?: boolean;
  "probe-timeout"?: string;
  diff?: boolean;
  against?: string;
}

/** The command line of `check`, or the exit status when it is `--help` or wrong (then already written). */
function parseCheckArgs(
  argv: string[],
  io: CommandIo,
): { values: CheckArgs; probeTimeoutMs: number } | number {
  let values: CheckArgs;
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
    if (isUsageError(err)) return usageError(io, "agentpool", err.message, CHECK_USAGE);
    throw err;
  }
  if (values.help) {
    io.stdout.write(CHECK_USAGE);
    return 0;
  }
  const wrong = (message: string) => usageError(io, "agentpool", message, CHECK_USAGE);
  if (values.config === "") return wrong("--config needs a path");
  if (values["certs-dir"] === "") return wrong("--certs-dir needs a path");
  const probeTimeoutMs = parseProbeTimeout(values["probe-timeout"]);
  if (typeof probeTimeoutMs === "string") return wrong(probeTimeoutMs);
  if (values["probe-timeout"] !== undefined && !values.probe)
    return wrong("--probe-timeout goes with --probe");
  return { values, probeTimeoutMs };
}

/** Loads the config like a reload, then probes its agents when asked; a ConfigError becomes a failed report. */
async function checkConfig(
  configPath: string,
  certsDir: string | undefined,
  probe: { timeoutMs: number } | undefined,
): Promise<{ report: CheckReport; loaded: PreparedConfig["agents"] }> {
  try {
    const prepared = await prepareConfig(configPath, certsDir ? { certsDir } : {});
    const report: CheckReport = {
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
    if (probe) report.probe = await probeAgents(prepared.agents, probe);
    return { report, loaded: prepared.agents };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const issues = err.issues.map((i) => ({ ...i }));
    return { report: { ok: false, agents: [], warnings: [], issues }, loaded: [] };
  }
}

/**
 * `agentpool check`: loads the config exactly as a reload would (same
 * loader, same TLS checks) and reports. Returns the exit status.
 */
export async function checkCommand(argv: string[], io: CommandIo): Promise<number> {
  const parsed = parseCheckArgs(argv, io);
  if (typeof parsed === "number") return parsed;
  const { values, probeTimeoutMs } = parsed;
  const configPath = values.config ?? (process.env.AGENTPOOL_CONFIG || DEFAULT_CONFIG);
  const { report, loaded } = await checkConfig(
    configPath,
    values["certs-dir"],
    values.probe ? { timeoutMs: probeTimeoutMs } : undefined,
  );

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
  if (rows.length > 0) io.stdout.write(`${table([["NAME", "ADDR", "CERT EXPIRES"], ...rows])}\n`);
  for (const warning of report.warnings) io.stderr.write(`warning: ${warning}\n`);
  const count = report.agents.length;
  const warnings = report.warnings.length;
  io.stdout.write(
    `${configPath}: OK, ${count === 0 ? "no agents" : plural(count, "agent")}` +
      `${warnings > 0 ? `, ${plural(warnings, "warning")}` : ""}\n`,
  );
}

function writeIssues(io: CommandIo, configPath: string, issues: readonly ConfigIssue[]): void {
  for (const issue of issues) io.stderr.write(`${formatIssue(issue)}\n`);
  io.stderr.write(`${configPath}: invalid, ${plural(issues.length, "problem")}\n`);
}

function untilText(ms: number): string {
  if (ms <= 0) return "expired";
  const days = Math.floor(ms / DAY_MS);
  return days === 0 ? "in less than a day" : `in ${plural(days, "day")}`;
}
