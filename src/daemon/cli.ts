#!/usr/bin/env node
// First: signals are recorded from here on, before the heavy imports load.
import "./record-signals.js";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { LogLevel } from "../log.js";
import { LOG_FORMATS, type LogFormat, resolveLogFormat } from "../log-pretty.js";
import { MAX_TIMER_MS } from "../options.js";
import { isUsageError, UsageError, usageError } from "./commands/io.js";
import { DEFAULT_CONFIG, DEFAULT_LISTEN } from "./defaults.js";
import { releaseEarlySignals } from "./early-signals.js";
import { exitWhenFlushed } from "./exit.js";
import { EXIT } from "./exit-codes.js";
import { releaseTerminalOnExit } from "./terminal.js";

const USAGE = `Usage: agentpool <command> [options]

Commands:
  run      keep the pool in sync with the config file (the daemon)
  check    validate a config file like a reload would; exit 0 valid, 1 invalid
           (--probe: then connect to each agent, exit 4 if one fails;
            --diff: then show what the running daemon would change)
  schema   print the JSON Schema of config.yml
  status   ask a running daemon how it is doing
  demo     start two local demo agents and run the daemon on a config for them

Run options:
  -c, --config PATH        config file (env AGENTPOOL_CONFIG; default config/config.yml)
      --listen ADDR        status endpoint: HOST:PORT, a unix socket path, or off
                           (env AGENTPOOL_LISTEN; default 127.0.0.1:9410)
      --certs-dir DIR      where <addr>.zip bundles live (default: ../certs from the config's folder)
      --debounce MS        quiet time after a file event before reloading (default 10)
      --resync MS          re-check the watched files this often, reloading with a
                           warning if an event was missed (default 30000; 0 = off)
      --log-level LEVEL    fatal, error, warn, info, debug, trace or silent (default info)
      --log-format FORMAT  json or pretty (default: pretty on a terminal, json otherwise)
      --module FILE        an ES module whose default export gets { pool, logger, signal }; repeatable
      --module-timeout MS  how long a module may take to load and start before the daemon
                           reports it and goes on without waiting (default 10000)
      --docker-sockets DIR serve each agent's Docker API as DIR/<name>.sock (each is root on that host)
      --docker-socket-group NAME  sockets 0660 for this group (default 0600, the daemon's user only)
  -h, --help               this text
  -v, --version            the version
`;

const LOG_LEVELS = new Set(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

/**
 * A flag's number of milliseconds, 0 or more, at most what Node's timers keep
 * (a larger one would fire after 1 ms). Undefined when the flag is not given.
 */
function millisecondsFlag(flag: string, raw: string | undefined, zero = ""): number | undefined {
  if (raw === undefined) return undefined;
  const ms = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(ms) || ms < 0 || ms > MAX_TIMER_MS) {
    throw new UsageError(
      `${flag} takes a number of milliseconds from 0${zero} to ${MAX_TIMER_MS}, not ${JSON.stringify(raw.slice(0, 40))}`,
    );
  }
  return ms;
}

async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: "string", short: "c" },
      listen: { type: "string" },
      "certs-dir": { type: "string" },
      debounce: { type: "string" },
      resync: { type: "string" },
      "log-level": { type: "string" },
      "log-format": { type: "string" },
      module: { type: "string", multiple: true },
      "module-timeout": { type: "string" },
      "docker-sockets": { type: "string" },
      "docker-socket-group": { type: "string" },
    },
    strict: true,
    allowPositionals: false,
  });
  const debounceMs = millisecondsFlag("--debounce", values.debounce);
  const moduleTimeoutMs = millisecondsFlag("--module-timeout", values["module-timeout"]);
  const resyncMs = millisecondsFlag("--resync", values.resync, " (0 = off)");
  const logLevel = values["log-level"] || process.env.AGENTPOOL_LOG_LEVEL || "info";
  if (!LOG_LEVELS.has(logLevel))
    throw new UsageError(`--log-level must be one of ${[...LOG_LEVELS].join(", ")}`);
  const logFormat = values["log-format"] as LogFormat | undefined;
  if (logFormat !== undefined && !LOG_FORMATS.includes(logFormat))
    throw new UsageError(`--log-format must be one of ${LOG_FORMATS.join(", ")}`);
  if (values["docker-socket-group"] && !values["docker-sockets"])
    throw new UsageError("--docker-socket-group needs --docker-sockets DIR");
  const { runDaemon } = await import("./run.js");
  return runDaemon({
    logFormat: resolveLogFormat(logFormat),
    configPath: values.config || process.env.AGENTPOOL_CONFIG || DEFAULT_CONFIG,
    listen: values.listen || process.env.AGENTPOOL_LISTEN || DEFAULT_LISTEN,
    ...(values["certs-dir"] ? { certsDir: values["certs-dir"] } : {}),
    ...(debounceMs !== undefined ? { debounceMs } : {}),
    ...(resyncMs !== undefined ? { resyncMs } : {}),
    logLevel: logLevel as LogLevel,
    modules: values.module ?? [],
    ...(moduleTimeoutMs !== undefined ? { moduleTimeoutMs } : {}),
    ...(values["docker-sockets"] ? { dockerSockets: values["docker-sockets"] } : {}),
    ...(values["docker-socket-group"] ? { dockerSocketGroup: values["docker-socket-group"] } : {}),
    stderr: process.stderr,
  });
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const io = { stdout: process.stdout, stderr: process.stderr };
  if (command !== "run") releaseEarlySignals();
  try {
    switch (command) {
      case "run":
        return await run(rest);
      case "check":
        return await (await import("./commands/check.js")).checkCommand(rest, io);
      case "schema":
        return await (await import("./commands/schema.js")).schemaCommand(rest, io);
      case "status":
        return await (await import("./commands/status.js")).statusCommand(rest, io);
      case "demo":
        return await (await import("./commands/demo.js")).demoCommand(rest, io);
      case "-v":
      case "--version":
        io.stdout.write(`${version()}\n`);
        return 0;
      case undefined:
        io.stderr.write(USAGE);
        return 2;
      case "-h":
      case "--help":
      case "help":
        io.stdout.write(USAGE);
        return 0;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (isUsageError(err)) return usageError(io, "agentpool", err.message, USAGE);
    throw err;
  }
}

releaseTerminalOnExit();

// An error no command turned into an exit status is a crash: 70, not Node's 1,
// which means "invalid config" to the unit's RestartPreventExitStatus=.
const exitCode = await main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`agentpool: internal error: ${err instanceof Error ? err.stack : err}\n`);
  return EXIT.crash;
});
exitWhenFlushed(exitCode);
