import { config as rxjsConfig } from "rxjs";
import { ConfigError } from "../config/errors.js";
import { type DockerSockets, serveDockerSockets } from "../consumers/docker-sockets/index.js";
import { createLogger, type Logger, type LogLevel } from "../log.js";
import { type LogFormat, prettyDestination } from "../log-pretty.js";
import { AgentPool } from "../pool/pool.js";
import type { ReloadResult } from "../reload/result.js";
import { type ConfigWatcher, watchConfig } from "../reload/watch-config.js";
import { claimEarlySignals } from "./early-signals.js";
import { EXIT } from "./exit-codes.js";
import { watchForeignExit } from "./exit-guard.js";
import { startModules } from "./modules.js";
import { createNotifier } from "./notify.js";
import type { StatusServer } from "./status/server.js";

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
  stderr: NodeJS.WritableStream;
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

const AGENT_DRAIN_MS = 5_000;

function statusLine(pool: AgentPool, result: ReloadResult | undefined): string {
  const agents = `${pool.size} agent${pool.size === 1 ? "" : "s"}, snapshot ${pool.snapshot.version}`;
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
  let ready = false;
  const notifier = createNotifier(logger);
  const unwatchExit = watchForeignExit(logger, notifier);
  const shutdownController = new AbortController();
  // A subscriber that throws (a --module, typically) is logged, never fatal.
  const previousOnUnhandledError = rxjsConfig.onUnhandledError;
  rxjsConfig.onUnhandledError = (err) => logger.error({ err }, "a snapshot subscriber threw");
  const onUncaught = (err: unknown) =>
    logger.error({ err }, "uncaught error (in a module?); the daemon goes on");

  // Signals are handled from the first moment: SIGHUP's default action would
  // kill the process, and a SIGTERM during start-up must still exit cleanly.
  let watcher: ConfigWatcher | undefined;
  let stopRequest: { signal?: NodeJS.Signals; code: number } | undefined;
  let onStopRequest: (() => void) | undefined;
  const requestStop = (signal?: NodeJS.Signals, code = 0) => {
    stopRequest ??= { ...(signal ? { signal } : {}), code };
    onStopRequest?.();
  };
  const onTerm = (signal: NodeJS.Signals) => requestStop(signal);
  // A SIGHUP before the first load is applied once it is done.
  let hupBeforeReady = false;
  const onHup = () => {
    if (!ready) {
      hupBeforeReady = true;
      logger.info("SIGHUP during start-up: reloading once the first load is done");
      return;
    }
    logger.info("SIGHUP: reloading");
    watcher?.reload("signal");
  };
  process.on("SIGHUP", onHup);
  process.on("SIGTERM", onTerm);
  process.on("SIGINT", onTerm);
  process.on("uncaughtException", onUncaught);
  process.on("unhandledRejection", onUncaught);
  const stopRequested = new Promise<void>((resolve) => {
    onStopRequest = resolve;
  });
  for (const signal of claimEarlySignals()) {
    if (signal === "SIGHUP") hupBeforeReady = true;
    else requestStop(signal);
  }
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
  let status: StatusServer | undefined;
  let dockerSockets: DockerSockets | undefined;

  const cleanup = async () => {
    shutdownController.abort();
    await watcher?.close();
    await status?.close();
    await dockerSockets?.close();
    await Promise.race([
      Promise.allSettled(pool.list().map((agent) => agent.close())),
      new Promise((done) => setTimeout(done, AGENT_DRAIN_MS).unref()),
    ]);
    notifier.close();
    unwatchExit();
    process.off("SIGHUP", onHup);
    process.off("SIGTERM", onTerm);
    process.off("SIGINT", onTerm);
    process.off("uncaughtException", onUncaught);
    process.off("unhandledRejection", onUncaught);
    rxjsConfig.onUnhandledError = previousOnUnhandledError;
  };

  try {
    const started = watchConfig(pool, {
      configPath: options.configPath,
      ...(options.certsDir ? { certsDir: options.certsDir } : {}),
      ...(options.debounceMs !== undefined ? { debounceMs: options.debounceMs } : {}),
      ...(options.resyncMs !== undefined ? { resyncMs: options.resyncMs } : {}),
      logger,
      onAttemptStart: () => {
        if (ready) notifier.reloading();
      },
      onAttemptEnd: (result) => {
        if (ready) notifier.ready(statusLine(pool, result));
      },
    });
    watcher = started;
    if (options.dockerSockets) {
      dockerSockets = await serveDockerSockets(pool, options.dockerSockets, {
        logger,
        ...(options.dockerSocketGroup ? { group: options.dockerSocketGroup } : {}),
      });
    }
    if (options.listen !== "off") {
      // Loaded only when serving: prom-client and the server cost start-up time.
      const { startStatusServer } = await import("./status/server.js");
      status = await startStatusServer({
        listen: options.listen,
        pool,
        results$: started.results$,
        watchProblem: () => started.watchProblem,
        configPath: options.configPath,
        logger,
        ...(dockerSockets ? { dockerSockets } : {}),
      });
    }
    // A module that never finishes starting must not hold back READY=1 nor a SIGTERM.
    await Promise.race([
      startModules(options.modules, {
        pool,
        logger,
        signal: shutdownController.signal,
        ...(options.moduleTimeoutMs !== undefined ? { timeoutMs: options.moduleTimeoutMs } : {}),
      }),
      stopRequested,
    ]);
    await Promise.race([started.ready, stopRequested]);
  } catch (err) {
    const message =
      err instanceof ConfigError
        ? `config rejected:\n${err.message}`
        : `cannot start: ${err instanceof Error ? err.message : String(err)}`;
    options.stderr.write(`agentpool: ${message}\n`);
    logger.fatal({ err: err instanceof ConfigError ? err.message : err }, "start-up failed");
    await cleanup();
    return err instanceof ConfigError ? EXIT.invalidConfig : EXIT.crash;
  }
  const running = watcher;

  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      const { signal, code } = stopRequest ?? { code: 0 };
      notifier.stopping();
      logger.info({ signal }, "shutting down");
      const bound = setTimeout(() => {
        logger.error("shutdown took too long; exiting anyway");
        resolveExit(code);
      }, options.shutdownTimeoutMs ?? 10_000);
      bound.unref();
      cleanup()
        .catch((err: unknown) => logger.error({ err }, "error during shutdown"))
        .finally(() => {
          clearTimeout(bound);
          logger.info("stopped");
          resolveExit(code);
        });
    };
    onStopRequest = stop;
    if (stopRequest) {
      stop();
      return;
    }
    // The watcher only errors if its pipeline died: exit, and let systemd restart us.
    running.results$.subscribe({ error: () => requestStop(undefined, EXIT.crash) });
    ready = true;
    notifier.ready(statusLine(pool, running.lastResult));
    logger.info({ agents: pool.size, version: pool.snapshot.version }, "ready");
    if (hupBeforeReady) {
      logger.info("SIGHUP (received during start-up): reloading");
      running.reload("signal");
    }
    options.onReady?.({
      pool,
      watcher: running,
      statusAddress: status?.address,
      logger,
      stop: () => requestStop(),
    });
  });
}
