import { resolve } from "node:path";
import {
  concat,
  map,
  merge,
  type Observable,
  of,
  ReplaySubject,
  Subject,
  type Subscription,
  tap,
} from "rxjs";
import { forgetConfig, prepareConfig } from "../config/load.js";
import { createLogger, type Logger } from "../log.js";
import { check, resolveOptions } from "../options.js";
import type { AgentPool } from "../pool/pool.js";
import {
  type Candidate,
  coalesce,
  isForced,
  prepareCandidate,
  skipUnchanged,
  swapInto,
  type Trigger,
} from "./pipeline.js";
import type { ReloadResult } from "./result.js";
import { DEFAULT_RESYNC_MS, ResyncTracker } from "./resync.js";
import { FileSource, type WatchProblem } from "./source.js";

export interface WatchConfigOptions {
  /** The config file. Messages name it as given here. */
  configPath: string;
  /** Where GoDoxy-style `host:port` agents' `<addr>.zip` bundles live. Default `../certs` from the config's directory. */
  certsDir?: string;
  /** Quiet time after the last file event before a reload starts. Default 10 ms. */
  debounceMs?: number;
  /** Default: a silent logger. */
  logger?: Logger;
  /**
   * Period of the resync: how often the identity (device, inode, size, mtime,
   * link target) of every file and link on the watched chains is compared
   * with what the last attempt read. A difference means a file event was
   * missed: it is logged as a warning and reloaded. Default 30 000 ms; 0 turns it off.
   */
  resyncMs?: number;
  /**
   * Called when an attempt turns out to be a reload (for systemd's
   * RELOADING=1): a forced one as its preparation starts, one caused by file
   * events once its files were read and found changed. File events that leave
   * every byte the same call neither hook, so systemd never sees them.
   */
  onAttemptStart?: () => void;
  /** Called when an attempt that {@link onAttemptStart} announced ends (for READY=1). */
  onAttemptEnd?: (result: ReloadResult) => void;
}

/** Smallest debounce that still merges the write pairs editors make (truncate + write, unlink + create). */
export const DEFAULT_DEBOUNCE_MS = 10;

const DEFAULTS = Object.freeze({ debounceMs: DEFAULT_DEBOUNCE_MS, resyncMs: DEFAULT_RESYNC_MS });

export interface ConfigWatcher {
  /**
   * The first load's result; rejects with its `ConfigError` when the first
   * load fails (or with an Error if the watcher is closed before).
   */
  readonly ready: Promise<ReloadResult>;
  /** One result per attempt; a new subscriber first gets the latest one. */
  readonly results$: Observable<ReloadResult>;
  /** The latest result, if any. */
  readonly lastResult: ReloadResult | undefined;
  /**
   * Forces an attempt even if no byte changed. `cause` is what the result
   * and the log line say: `forced` (the default), or `signal` for SIGHUP.
   */
  reload(cause?: "forced" | "signal"): void;
  /** Why the file watcher cannot promise to see every change right now, if it cannot. */
  readonly watchProblem: WatchProblem | undefined;
  /** Stops watching; the pool keeps its agents. */
  close(): Promise<void>;
}

/**
 * Keeps `pool` in sync with a config file: file events (and `reload()`) →
 * debounce → prepare (read, parse, validate, TLS; latest wins) → one
 * synchronous swap → one snapshot. A rejected file keeps the last good pool.
 */
export function watchConfig(pool: AgentPool, options: WatchConfigOptions): ConfigWatcher {
  // Long on purpose: this is the one place that wires the source, the pipeline
  // (its steps live in pipeline.ts), `ready`, the hooks and close() together.
  const opts = resolveOptions(
    options,
    DEFAULTS,
    {
      configPath: check.nonEmptyString,
      certsDir: check.string,
      debounceMs: check.nonNegativeMs,
      onAttemptStart: check.function,
      onAttemptEnd: check.function,
      resyncMs: (value) => {
        const wrong = check.nonNegativeMs(value);
        if (wrong === undefined) return undefined;
        return typeof value === "number" && value > 0
          ? wrong
          : "must be a number of milliseconds, 0 (off) or more";
      },
    },
    ["configPath"],
  );
  const debounceMs = opts.debounceMs;
  const logger = (opts.logger ?? createLogger("silent")).child({ module: "reload" });
  const resyncMs = opts.resyncMs;
  const configPath = opts.configPath;
  const absolutePath = resolve(configPath);

  const files = new FileSource(logger);
  const forced$ = new Subject<Trigger>();
  const results = new ReplaySubject<ReloadResult>(1);
  let lastResult: ReloadResult | undefined;
  let closed = false;

  const first = firstLoad();

  const resync = new ResyncTracker(resyncMs, absolutePath);

  const prepare = (signal: AbortSignal, trigger: Trigger) => {
    if (isForced(trigger.kind)) callHook(logger, "onAttemptStart", opts.onAttemptStart);
    resync.attemptStarted();
    return prepareConfig(configPath, {
      ...(opts.certsDir ? { certsDir: opts.certsDir } : {}),
      signal,
    });
  };

  // Watch what each candidate read (or tried to read): a TLS file it points
  // at, a missing file or folder that may appear later.
  const watchInputsOf = (candidate: Candidate) => {
    const inputs = candidate.ok ? [...candidate.config.inputs.keys()] : candidate.error.inputs;
    const read = [absolutePath, ...inputs];
    files
      .watchFiles(read)
      .catch((err: unknown) => logger.warn({ err }, "could not watch the config's files"));
    resync.attemptRead(read);
  };

  // The safety net under the watcher: a file event that never came (a lost
  // watch, a full inotify queue, the watch limit) still changes an identity.
  const resyncTick = () => {
    // A folder the kernel refused to watch (a limit since raised) is tried again.
    if (files.problem)
      files
        .watchFiles(resync.files)
        .catch((err: unknown) => logger.warn({ err }, "could not watch the config's files"));
    if (closed) return;
    const path = resync.missedChange();
    if (path === undefined) return;
    logger.warn(
      { path, resyncMs, watchProblem: files.problem?.code },
      `a file event was missed: ${path} changed and no event told of it; reloading`,
    );
    forced$.next({ kind: "resync", at: performance.now() });
  };
  const resyncTimer = everyPeriod(resyncMs, resyncTick, (err) =>
    logger.warn({ err }, "resync failed"),
  );

  const triggers$ = concat(
    of<Trigger>({ kind: "initial", at: performance.now() }),
    merge(
      files.events$.pipe(
        map((event): Trigger => {
          resync.eventSeen(event.at);
          return { kind: "file", at: event.at };
        }),
      ),
      forced$,
    ).pipe(coalesce(debounceMs)),
  );

  const subscription: Subscription = triggers$
    .pipe(
      prepareCandidate(prepare),
      tap(watchInputsOf),
      skipUnchanged(),
      // Only now is a file-caused attempt known to change something.
      tap((candidate) => {
        if (!isForced(candidate.trigger.kind))
          callHook(logger, "onAttemptStart", opts.onAttemptStart);
      }),
      swapInto(pool),
      tap((result) => logResult(logger, result)),
    )
    .subscribe({
      next: (result) => {
        lastResult = result;
        callHook(logger, "onAttemptEnd", opts.onAttemptEnd, result);
        results.next(result);
        if (result.ok) first.settle(result);
        else first.fail(result.error);
      },
      // Not expected: every step turns failures into values. If it happens,
      // the watcher is dead and says so instead of pretending to watch.
      error: (err: unknown) => {
        logger.fatal({ err }, "reload pipeline stopped");
        first.fail(err instanceof Error ? err : new Error(String(err)));
        results.error(err);
      },
    });

  // Watch the config file from the start, so an edit during the first load is not missed.
  files
    .watchFiles([absolutePath])
    .catch((err: unknown) => logger.warn({ err }, "could not watch the config file"));

  return {
    ready: first.ready,
    results$: results.asObservable(),
    get lastResult() {
      return lastResult;
    },
    reload(cause = "forced") {
      if (!closed) forced$.next({ kind: cause, at: performance.now() });
    },
    get watchProblem() {
      return files.problem;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(resyncTimer);
      subscription.unsubscribe();
      first.fail(new Error("the config watcher was closed before the first load"));
      forced$.complete();
      results.complete();
      await files.close();
      // Keys of agents no longer watched need not stay in memory.
      forgetConfig(absolutePath);
    },
  };
}

/** `ready`: settled by the first result (or failure) only; later calls do nothing. */
function firstLoad() {
  let settled = false;
  let settleReady!: (result: ReloadResult) => void;
  let failReady!: (error: Error) => void;
  const ready = new Promise<ReloadResult>((resolveReady, rejectReady) => {
    settleReady = resolveReady;
    failReady = rejectReady;
  });
  // A caller that never awaits `ready` must not see an unhandled rejection.
  ready.catch(() => {});
  return {
    ready,
    settle(result: ReloadResult) {
      if (settled) return;
      settled = true;
      settleReady(result);
    },
    fail(error: Error) {
      if (settled) return;
      settled = true;
      failReady(error);
    },
  };
}

/** Calls a caller's hook; one that throws is logged and must not stop the pipeline. */
function callHook<A extends unknown[]>(
  logger: Logger,
  name: string,
  fn: ((...args: A) => void) | undefined,
  ...args: A
): void {
  try {
    fn?.(...args);
  } catch (err) {
    logger.error({ err }, `${name} hook threw`);
  }
}

/** Runs `tick` every `periodMs` (none for 0) without keeping the process alive; a throw goes to `onError`. */
function everyPeriod(
  periodMs: number,
  tick: () => void,
  onError: (err: unknown) => void,
): NodeJS.Timeout | undefined {
  if (periodMs <= 0) return undefined;
  const timer = setInterval(() => {
    try {
      tick();
    } catch (err) {
      onError(err);
    }
  }, periodMs);
  timer.unref();
  return timer;
}

function logResult(logger: Logger, result: ReloadResult): void {
  const durationMs = Math.round(result.durationMs * 100) / 100;
  if (result.ok) {
    const line = {
      result: "success",
      cause: result.cause,
      version: result.version,
      durationMs,
      agents: result.agents,
      added: result.added.length,
      removed: result.removed.length,
      changed: result.changed.length,
      ...(result.warnings.length > 0 ? { warnings: result.warnings } : {}),
    };
    if (result.warnings.length > 0) logger.warn(line, "config loaded with warnings");
    else logger.info(line, "config loaded");
  } else {
    logger.error(
      {
        result: "failure",
        cause: result.cause,
        durationMs,
        code: result.error.code,
        error: result.error.message,
      },
      "config rejected; keeping the last good state",
    );
  }
}
