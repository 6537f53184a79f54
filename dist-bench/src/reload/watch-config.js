import { resolve } from "node:path";
import { concat, map, merge, of, ReplaySubject, Subject, tap, } from "rxjs";
import { prepareConfig } from "../config/load.js";
import { createLogger } from "../log.js";
import { coalesce, prepareCandidate, skipUnchanged, swapInto } from "./pipeline.js";
import { FileSource } from "./source.js";
/** Smallest debounce that still merges the write pairs editors make (truncate + write, unlink + create). */
export const DEFAULT_DEBOUNCE_MS = 20;
/**
 * Keeps `pool` in sync with a config file: file events (and `reload()`) →
 * debounce → prepare (read, parse, validate, TLS; latest wins) → one
 * synchronous swap → one snapshot. A rejected file keeps the last good pool.
 */
export function watchConfig(pool, options) {
    const debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
    if (!Number.isFinite(debounceMs) || debounceMs < 0)
        throw new RangeError("debounceMs must be a number of milliseconds, 0 or more");
    if (typeof options.configPath !== "string" || options.configPath === "")
        throw new TypeError("configPath is required");
    const logger = (options.logger ?? createLogger("silent")).child({ module: "reload" });
    const configPath = options.configPath;
    const absolutePath = resolve(configPath);
    const files = new FileSource(logger);
    const forced$ = new Subject();
    const results = new ReplaySubject(1);
    let lastResult;
    let lastGoodInputs = [];
    let closed = false;
    let settleReady;
    let failReady;
    const ready = new Promise((resolveReady, rejectReady) => {
        settleReady = resolveReady;
        failReady = rejectReady;
    });
    // A caller that never awaits `ready` must not see an unhandled rejection.
    ready.catch(() => { });
    const prepare = (signal) => {
        options.onAttemptStart?.();
        return prepareConfig(configPath, {
            ...(options.certsDir ? { certsDir: options.certsDir } : {}),
            signal,
        });
    };
    const fileTriggers$ = files.events$.pipe(map((event) => ({ kind: "file", at: event.at })));
    const triggers$ = concat(of({ kind: "initial", at: performance.now() }), merge(fileTriggers$, forced$).pipe(coalesce(debounceMs)));
    const watchInputs = (result, inputs) => {
        if (result.ok)
            lastGoodInputs = inputs;
        // Also watch what a rejected file points at, so creating a missing TLS file is noticed.
        void files
            .watchFiles([absolutePath, ...lastGoodInputs, ...inputs])
            .catch((err) => logger.warn({ err }, "could not watch the config's files"));
    };
    let inputsOfLastCandidate = [];
    const subscription = triggers$
        .pipe(prepareCandidate(prepare), tap((candidate) => {
        inputsOfLastCandidate = candidate.ok
            ? [...candidate.config.inputs.keys()]
            : candidate.error.inputs;
    }), skipUnchanged(() => options.onAttemptEnd?.(undefined)), swapInto(pool), tap((result) => logResult(logger, result)))
        .subscribe({
        next: (result) => {
            lastResult = result;
            watchInputs(result, inputsOfLastCandidate);
            options.onAttemptEnd?.(result);
            results.next(result);
            if (result.cause === "initial") {
                if (result.ok)
                    settleReady(result);
                else
                    failReady(result.error);
            }
        },
        error: (err) => logger.error({ err }, "reload pipeline stopped"),
    });
    // Watch the config file from the start, so an edit during the first load is not missed.
    void files
        .watchFiles([absolutePath])
        .catch((err) => logger.warn({ err }, "could not watch the config file"));
    return {
        ready,
        results$: results.asObservable(),
        get lastResult() {
            return lastResult;
        },
        reload() {
            if (!closed)
                forced$.next({ kind: "forced", at: performance.now() });
        },
        async close() {
            if (closed)
                return;
            closed = true;
            subscription.unsubscribe();
            forced$.complete();
            results.complete();
            await files.close();
        },
    };
}
function logResult(logger, result) {
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
        if (result.warnings.length > 0)
            logger.warn(line, "config loaded with warnings");
        else
            logger.info(line, "config loaded");
    }
    else {
        logger.error({
            result: "failure",
            cause: result.cause,
            durationMs,
            code: result.error.code,
            error: result.error.message,
        }, "config rejected; keeping the last good state");
    }
}
