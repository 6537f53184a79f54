import {
  asyncScheduler,
  buffer,
  catchError,
  debounceTime,
  defer,
  delay,
  EMPTY,
  filter,
  finalize,
  from,
  type MonoTypeOperatorFunction,
  map,
  type OperatorFunction,
  type SchedulerLike,
  share,
  switchMap,
  tap,
} from "rxjs";
import { digestFiles } from "../config/digest.js";
import { ConfigError } from "../config/errors.js";
import type { PreparedConfig } from "../config/load.js";
import type { AgentPool } from "../pool/pool.js";
import type { ReloadResult } from "./result.js";

/**
 * Why an attempt starts: start-up, a file event, a forced reload (`reload()`,
 * or SIGHUP: `signal`), or the periodic resync finding a change no event told of.
 */
export type TriggerKind = "initial" | "file" | "forced" | "signal" | "resync";

/** Forced attempts go through even when no byte changed. */
export const isForced = (kind: TriggerKind): boolean => kind === "forced" || kind === "signal";

export interface Trigger {
  kind: TriggerKind;
  /** `performance.now()` of the first event of the burst. */
  at: number;
}

/** A prepared candidate, or why it was rejected; not yet applied. */
export type Candidate =
  | {
      ok: true;
      trigger: Trigger;
      started: number;
      prepareMs: number;
      digest: string;
      config: PreparedConfig;
    }
  | {
      ok: false;
      trigger: Trigger;
      started: number;
      prepareMs: number;
      digest: string;
      error: ConfigError;
    };

/**
 * Bursts of triggers become one: waits until `debounceMs` pass without a new
 * one. The merged trigger keeps the time of the first event (for latency) and
 * is forced if any trigger in the burst was; a file event outranks a resync.
 */
export function coalesce(
  debounceMs: number,
  scheduler: SchedulerLike = asyncScheduler,
): MonoTypeOperatorFunction<Trigger> {
  return (source) =>
    source.pipe(share(), (shared) =>
      shared.pipe(
        buffer(shared.pipe(debounceTime(debounceMs, scheduler))),
        filter((burst) => burst.length > 0),
        map((burst): Trigger => {
          // A loop, not Math.min(...burst): a burst can hold many thousand events.
          let at = Number.POSITIVE_INFINITY;
          let forced: TriggerKind | undefined;
          let file = false;
          for (const trigger of burst) {
            if (trigger.at < at) at = trigger.at;
            if (forced === undefined && isForced(trigger.kind)) forced = trigger.kind;
            if (trigger.kind === "file") file = true;
          }
          return { kind: forced ?? (file ? "file" : (burst[0] as Trigger).kind), at };
        }),
      ),
    );
}

/**
 * How long a rejection caused by a file event waits before it is reported.
 * Writers that truncate, then write (most `writeFile`s) leave an empty or
 * partial file between two events; under load those can be further apart
 * than the debounce. Accepted files are applied at once.
 */
export const REJECTION_GRACE_MS = 100;

/**
 * Reads, parses and validates the config for each trigger. A newer trigger
 * cancels the preparation of an older one (latest wins). A rejected config
 * becomes a value, so the stream of triggers lives on.
 */
export function prepareCandidate(
  prepare: (signal: AbortSignal, trigger: Trigger) => Promise<PreparedConfig>,
  failureGraceMs = REJECTION_GRACE_MS,
): OperatorFunction<Trigger, Candidate> {
  return (triggers) =>
    defer(() => {
      // A forced attempt cut short by a newer trigger hands its force on:
      // otherwise a SIGHUP followed by an event with unchanged bytes is lost.
      let forcedPending: TriggerKind | undefined;
      return triggers.pipe(
        map((trigger): Trigger => {
          if (isForced(trigger.kind)) forcedPending = trigger.kind;
          else if (trigger.kind === "initial") forcedPending = undefined;
          return forcedPending ? { ...trigger, kind: forcedPending } : trigger;
        }),
        switchMap((trigger) =>
          defer(() => {
            const controller = new AbortController();
            const started = performance.now();
            return from(prepare(controller.signal, trigger)).pipe(
              map(
                (config): Candidate => ({
                  ok: true,
                  trigger,
                  started,
                  prepareMs: performance.now() - started,
                  digest: config.digest,
                  config,
                }),
              ),
              catchError((err: unknown) => {
                if (controller.signal.aborted) return EMPTY;
                const error =
                  err instanceof ConfigError
                    ? err
                    : new ConfigError(
                        "ERR_CONFIG_INVALID",
                        [{ file: "config", message: `unexpected error: ${String(err)}` }],
                        { cause: err },
                      );
                // A save caught half-way (truncated, not yet written) fails;
                // its next event, within the grace, cancels the rejection.
                const grace = trigger.kind === "file" ? failureGraceMs : 0;
                return from(digestFiles(error.inputs)).pipe(
                  delay(grace),
                  map(
                    (digest): Candidate => ({
                      ok: false,
                      trigger,
                      started,
                      prepareMs: performance.now() - started,
                      digest,
                      error,
                    }),
                  ),
                );
              }),
              tap(() => {
                forcedPending = undefined;
              }),
              // A newer trigger unsubscribes: abort the reads still under way.
              finalize(() => controller.abort()),
            );
          }),
        ),
      );
    });
}

/**
 * Drops candidates whose files hold the same bytes as the previous attempt's,
 * with the same outcome: that is not a change. Forced and initial attempts
 * always go through; file- and resync-caused ones only with a change. A rejected candidate's digest is taken after it failed,
 * so it may already reflect a later write; its outcome (and message) is
 * compared too, or a good file arriving just then would be dropped.
 */
export function skipUnchanged(
  onSkip?: (candidate: Candidate) => void,
): MonoTypeOperatorFunction<Candidate> {
  return (source) =>
    defer(() => {
      let previous: string | undefined;
      return source.pipe(
        filter((candidate) => {
          const key = `${candidate.digest}:${candidate.ok ? "ok" : candidate.error.message}`;
          const skip =
            key === previous &&
            !isForced(candidate.trigger.kind) &&
            candidate.trigger.kind !== "initial";
          previous = key;
          if (skip) onSkip?.(candidate);
          return !skip;
        }),
      );
    });
}

/**
 * Applies an accepted candidate to the pool in one synchronous batch —
 * `removeAll()` then `add()` for each agent — which publishes exactly one
 * snapshot. A rejected candidate leaves the pool untouched. This is the only
 * place a reload changes the pool.
 */
export function swapInto(pool: AgentPool): OperatorFunction<Candidate, ReloadResult> {
  return (source) =>
    defer(() => {
      let loaded = false;
      return source.pipe(
        map((candidate): ReloadResult => {
          // The snapshot's cause is the pool's (SPEC §3); the result tells why.
          const snapshotCause = loaded ? "reload" : "initial";
          const cause = loaded ? candidate.trigger.kind : "initial";
          const waitMs = Math.max(0, candidate.started - candidate.trigger.at);
          if (!candidate.ok) {
            return {
              ok: false,
              error: candidate.error,
              durationMs: candidate.prepareMs,
              cause,
              at: new Date().toISOString(),
              timings: { waitMs, prepareMs: candidate.prepareMs },
            };
          }
          const before = pool.snapshot.version;
          const swapStarted = performance.now();
          try {
            pool.batch(
              () => {
                pool.removeAll();
                for (const agent of candidate.config.agents) pool.add(agent);
              },
              { cause: snapshotCause },
            );
          } catch (err) {
            // The loader validated everything; an agent refusing now is a bug
            // to report, and the batch already put the pool back.
            const error = new ConfigError(
              "ERR_CONFIG_INVALID",
              [
                {
                  file: candidate.config.configPath,
                  message: err instanceof Error ? err.message : String(err),
                },
              ],
              { cause: err },
            );
            return {
              ok: false,
              error,
              durationMs: performance.now() - candidate.started,
              cause,
              at: new Date().toISOString(),
              timings: { waitMs, prepareMs: candidate.prepareMs },
            };
          }
          const swapMs = performance.now() - swapStarted;
          loaded = true;
          const snapshot = pool.snapshot;
          const published = snapshot.version !== before;
          return {
            ok: true,
            version: snapshot.version,
            durationMs: performance.now() - candidate.started,
            added: published ? snapshot.added : [],
            removed: published ? snapshot.removed : [],
            changed: published ? snapshot.changed : [],
            agents: snapshot.agents.length,
            warnings: candidate.config.warnings,
            cause,
            at: new Date().toISOString(),
            timings: { waitMs, prepareMs: candidate.prepareMs, swapMs },
          };
        }),
      );
    });
}
