import { ConfigError } from "../config/errors.js";
import { type DockerSockets, serveDockerSockets } from "../consumers/docker-sockets/index.js";
import { createLogger, type Logger, type LogLevel } from "../log.js";
import { type LogFormat, prettyDestination } from "../log-pretty.js";
import { AgentPool } from "../pool/pool.js";
import type { ReloadResult } from "../reload/result.js";
import { type ConfigWatcher, watchConfig } from "../reload/watch-config.js";
import { plural } from "./commands/io.js";
import { claimEarlySignals } from "./early-signals.js";
import { EXIT, StartupError } from "./exit-codes.js";
import { DaemonLifecycle, type StopReason } from "./lifecycle.js";
import { startModules } from "./modules.js";
import { createNotifier, type Notifier } from "./notify.js";
import { installProcessHooks } from "./process-hooks.js";
import type { StatusServer } from "./status/server.js";
import { terminalHungUp } from "./terminal.js";

export interface RunOptions {
  configPath: string;
  /** `HOST:PORT`, a unix socket path, or `off`. */
  listen: string;
  certsDir?: string;
  debounceMs?: number;
  /** Period of the resync safety net; 0 turns it off. Default 30 000 ms. */
  resyncMs?: number;
  logLevel: LogLevel;
  /** `pretty`: one human line per event (for a terminal). Default `json` (NDJSON). */
  logFormat?: LogFormat;
  modules: readonly string[];
  /** How long each `--module` may take to load and start before it is left behind. Default 10 000 ms. */
  moduleTimeoutMs?: number;
  /** `--docker-sockets DIR`: serve each agent as `DIR/<name>.sock`. */
  dockerSockets?: string;
  /** `--docker-socket-group NAME`: sockets 0660 (folder 0750) for that group. */
  dockerSocketGroup?: string;
  /** Bound on the whole shutdown (draining agent connections included). Default 10 000 ms. */
  shutdownTimeoutMs?: number;
  /** Where human-readable start-up errors go. */
  stderr: { write(text: string): unknown };
  /** Called once the daemon is ready (the first load applied, the status listener up). */
  onReady?: (daemon: RunningDaemon) => void;
}

export interface RunningDaemon {
  pool: AgentPool;
  watcher: ConfigWatcher;
  statusAddress: string | undefined;
  logger: Logger;
  /** Starts a graceful shutdown; the promise `runDaemon` returned then settles. */
  stop(): void;
}

/** Retired agents' connections get this long to drain on shutdown. */
const AGENT_DRAIN_MS = 5_000;
/** Default bound on the whole shutdown (see {@link RunOptions.shutdownTimeoutMs}). */
const SHUTDOWN_TIMEOUT_MS = 10_000;

function statusLine(pool: AgentPool, result: ReloadResult | undefined): string {
  const agents = `${plural(pool.size, "agent")}, snapshot ${pool.snapshot.version}`;
  if (!result || result.ok) return agents;
  return `${agents}; last reload failed: ${result.error.message.split("\n")[0]}`;
}

/**
 * The daemon: loads the config (exit 1 if it cannot; other start-up failures
 * exit 70, see {@link EXIT}), serves status, applies
 * every later edit, reloads on SIGHUP and shuts down gracefully on SIGTERM or
 * SIGINT. Resolves with the process exit code.
 */
export async function runDaemon(options: RunOptions): Promise<number> {
  const logger = createLogger(
    options.logLevel,
    options.logFormat === "pretty" ? await prettyDestination() : undefined,
  );
  const notifier = createNotifier(logger);
  const life = new DaemonLifecycle();
  const shutdownController = new AbortController();
  // Filled as each part comes up, so that cleanup closes what started.
  const parts: Parts = {};
  const removeHooks = takeOverProcess(logger, notifier, life, parts);
  logger.info(
    {
      configPath: options.configPath,
      listen: options.listen,
      modules: options.modules.length,
      node: process.version,
    },
    "starting",
  );

  const pool = new AgentPool({
    onCloseError: (err, addr) =>
      logger.warn({ err, addr }, "closing a retired agent's connections failed"),
  });
  const cleanup = async () => {
    shutdownController.abort();
    await parts.watcher?.close();
    await parts.status?.close();
    await parts.dockerSockets?.close();
    await Promise.race([
      Promise.allSettled(pool.list().map((agent) => agent.close())),
      new Promise((done) => setTimeout(done, AGENT_DRAIN_MS).unref()),
    ]);
    notifier.close();
    removeHooks();
  };

  let watcher: ConfigWatcher;
  try {
    watcher = await startParts(parts, {
      options,
      pool,
      life,
      notifier,
      logger,
      signal: shutdownController.signal,
    });
    await Promise.race([watcher.ready, life.stopRequested]);
  } catch (err) {
    return failedStart(err, { stderr: options.stderr, logger, cleanup });
  }

  if (!life.stopReason) {
    // The watcher only errors if its pipeline died: exit, and let systemd restart us.
    watcher.results$.subscribe({ error: () => life.requestStop({ code: EXIT.crash }) });
    const reloadNow = life.markRunning();
    notifier.ready(statusLine(pool, watcher.lastResult));
    logger.info({ agents: pool.size, version: pool.snapshot.version }, "ready");
    if (reloadNow) {
      logger.info("SIGHUP (received during start-up): reloading");
      watcher.reload("signal");
    }
    options.onReady?.({
      pool,
      watcher,
      statusAddress: parts.status?.address,
      logger,
      stop: () => life.requestStop({ code: EXIT.ok }),
    });
  }
  const reason = await life.stopRequested;
  life.markStopping();
  return shutDown(reason, {
    logger,
    notifier,
    cleanup,
    timeoutMs: options.shutdownTimeoutMs ?? SHUTDOWN_TIMEOUT_MS,
  });
}

/**
 * Installs the process-wide hooks (SIGHUP reloads, SIGTERM and SIGINT stop)
 * and takes over the signals the CLI recorded before they were on. A SIGHUP
 * before the daemon runs is kept for later. Returns the one disposer.
 */
function takeOverProcess(
  logger: Logger,
  notifier: Notifier,
  life: DaemonLifecycle,
  parts: Parts,
): () => void {
  const removeHooks = installProcessHooks(logger, notifier, {
    reload: () => {
      // A SIGHUP from the kernel, not from an operator: the session is over.
      if (terminalHungUp()) {
        logger.warn("SIGHUP: the terminal the daemon was started on hung up; stopping");
        life.requestStop({ signal: "SIGHUP", code: EXIT.ok });
        return;
      }
      if (life.phase !== "running") {
        life.deferReload();
        logger.info("SIGHUP during start-up: reloading once the first load is done");
        return;
      }
      logger.info("SIGHUP: reloading");
      parts.watcher?.reload("signal");
    },
    stop: (signal) => life.requestStop({ signal, code: EXIT.ok }),
  });
  for (const signal of claimEarlySignals()) {
    if (signal === "SIGHUP" && !terminalHungUp()) life.deferReload();
    else life.requestStop({ signal, code: EXIT.ok });
  }
  return removeHooks;
}

/** What the daemon runs besides the pool; each is set once it has started. */
interface Parts {
  watcher?: ConfigWatcher;
  dockerSockets?: DockerSockets;
  status?: StatusServer;
}

/**
 * Starts the watcher, the docker sockets, the status endpoint and the modules,
 * in that order, into `parts`; returns the watcher.
 */
async function startParts(
  parts: Parts,
  deps: {
    options: RunOptions;
    pool: AgentPool;
    life: DaemonLifecycle;
    notifier: Notifier;
    logger: Logger;
    signal: AbortSignal;
  },
): Promise<ConfigWatcher> {
  const { options, pool, life, notifier, logger, signal } = deps;
  const watcher = watchConfig(pool, {
    configPath: options.configPath,
    ...(options.certsDir ? { certsDir: options.certsDir } : {}),
    ...(options.debounceMs !== undefined ? { debounceMs: options.debounceMs } : {}),
    ...(options.resyncMs !== undefined ? { resyncMs: options.resyncMs } : {}),
    logger,
    // Only reloads after start-up are told to systemd; the first load ends in READY=1.
    onAttemptStart: () => {
      if (life.phase === "running") notifier.reloading();
    },
    onAttemptEnd: (result) => {
      if (life.phase === "running") notifier.ready(statusLine(pool, result));
    },
  });
  parts.watcher = watcher;
  if (options.dockerSockets) {
    parts.dockerSockets = await serveDockerSockets(pool, options.dockerSockets, {
      logger,
      ...(options.dockerSocketGroup ? { group: options.dockerSocketGroup } : {}),
    }).catch((err: unknown) => {
      // A folder or group that cannot be used is fixed on the command line, not by a restart.
      throw new StartupError(
        `--docker-sockets: ${err instanceof Error ? err.message : String(err)}`,
        EXIT.usage,
        { cause: err },
      );
    });
  }
  if (options.listen !== "off") {
    // Loaded only when serving: prom-client and the server cost start-up time.
    const { startStatusServer } = await import("./status/server.js");
    parts.status = await startStatusServer({
      listen: options.listen,
      pool,
      results$: watcher.results$,
      watchProblem: () => watcher.watchProblem,
      configPath: options.configPath,
      logger,
      ...(parts.dockerSockets ? { dockerSockets: parts.dockerSockets } : {}),
    });
  }
  // A module that never finishes starting must not hold back READY=1 nor a SIGTERM.
  await Promise.race([
    startModules(options.modules, {
      pool,
      logger,
      signal,
      ...(options.moduleTimeoutMs !== undefined ? { timeoutMs: options.moduleTimeoutMs } : {}),
    }),
    life.stopRequested,
  ]);
  return watcher;
}

/** Start-up failed: one human sentence on stderr, one fatal log line, everything closed. */
async function failedStart(
  err: unknown,
  {
    stderr,
    logger,
    cleanup,
  }: { stderr: RunOptions["stderr"]; logger: Logger; cleanup: () => Promise<void> },
): Promise<number> {
  const message =
    err instanceof ConfigError
      ? `config rejected:\n${err.message}`
      : `cannot start: ${err instanceof Error ? err.message : String(err)}`;
  stderr.write(`agentpool: ${message}\n`);
  // Errors that explain themselves (ours, or a system error with a code such
  // as EADDRINUSE) are logged as their sentence; only an unknown error, a
  // bug, keeps its stack.
  const codeOf = (e: unknown) => (e as { code?: unknown } | undefined)?.code;
  const code = codeOf(err) ?? codeOf((err as { cause?: unknown } | undefined)?.cause);
  const explained = err instanceof ConfigError || typeof code === "string";
  logger.fatal(
    explained
      ? { error: message.replace(/\s*\n\s*/g, " "), ...(typeof code === "string" ? { code } : {}) }
      : { err },
    "start-up failed",
  );
  await cleanup();
  if (err instanceof ConfigError) return EXIT.invalidConfig;
  return err instanceof StartupError ? err.exitCode : EXIT.crash;
}

/** Tells systemd, closes everything within `timeoutMs`, and resolves with the reason's exit status. */
function shutDown(
  { signal, code }: StopReason,
  parts: { logger: Logger; notifier: Notifier; cleanup: () => Promise<void>; timeoutMs: number },
): Promise<number> {
  const { logger, notifier, cleanup, timeoutMs } = parts;
  return new Promise<number>((resolveExit) => {
    notifier.stopping();
    logger.info({ signal }, "shutting down");
    const bound = setTimeout(() => {
      logger.error("shutdown took too long; exiting anyway");
      resolveExit(code);
    }, timeoutMs);
    bound.unref();
    cleanup()
      .catch((err: unknown) => logger.error({ err }, "error during shutdown"))
      .finally(() => {
        clearTimeout(bound);
        logger.info("stopped");
        resolveExit(code);
      });
  });
}
