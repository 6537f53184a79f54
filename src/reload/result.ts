import type { ConfigError } from "../config/errors.js";

/**
 * What started an attempt: start-up (`initial`, also every attempt until one
 * succeeded), a file event (`file`), SIGHUP (`signal`), `reload()` (`forced`),
 * or the periodic resync finding a change no file event told of (`resync`).
 */
export type ReloadCause = "initial" | "file" | "signal" | "forced" | "resync";

/** The outcome of one reload attempt. */
export type ReloadResult = ReloadSuccess | ReloadFailure;

export interface ReloadSuccess {
  ok: true;
  /** Version of the snapshot the swap published (unchanged when the pool already matched). */
  version: number;
  /** Preparation plus swap, from the end of the debounce. */
  durationMs: number;
  added: readonly string[];
  removed: readonly string[];
  changed: readonly string[];
  /** Number of agents in the pool after the swap. */
  agents: number;
  /** Warnings the loader raised for the accepted file. */
  warnings: readonly string[];
  /** "initial" until the first load succeeded; after it, what started the attempt. */
  cause: ReloadCause;
  /** ISO time the attempt finished. */
  at: string;
  timings: ReloadTimings;
}

/** Where the time of one reload went, in milliseconds. */
export interface ReloadTimings {
  /** From the first file event of the burst to the end of the debounce. */
  waitMs: number;
  /** Read, parse, validate, load TLS material. */
  prepareMs: number;
  /** The synchronous swap: removeAll, re-adds, snapshot. */
  swapMs: number;
}

export interface ReloadFailure {
  ok: false;
  error: ConfigError;
  durationMs: number;
  cause: ReloadCause;
  at: string;
  timings: Omit<ReloadTimings, "swapMs">;
}
