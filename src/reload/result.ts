import type { ConfigError } from "../config/errors.js";

/** The outcome of one reload attempt. */
export type ReloadResult = ReloadSuccess | ReloadFailure;

export interface ReloadSuccess {
  ok: true;
  /** Version of the snapshot the swap published (unchanged when the pool already matched). */
  version: number;
  durationMs: number;
  added: readonly string[];
  removed: readonly string[];
  changed: readonly string[];
  /** Number of agents in the pool after the swap. */
  agents: number;
  /** Warnings the loader raised for the accepted file. */
  warnings: readonly string[];
  /** "initial" for the first load, "reload" after. */
  cause: "initial" | "reload";
  /** ISO time the attempt finished. */
  at: string;
}

export interface ReloadFailure {
  ok: false;
  error: ConfigError;
  durationMs: number;
  cause: "initial" | "reload";
  at: string;
}
