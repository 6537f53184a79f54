/*
 * Until a handler exists, SIGHUP's default action kills the process (exit
 * 129) and SIGTERM ends it with 143 instead of a clean stop. The daemon loads
 * run.js and its imports for a few hundred milliseconds; systemd may send
 * either signal in that time. So the CLI's first import (record-signals.ts)
 * starts recording, and the daemon claims what arrived once its own handlers
 * are on. Nothing here has side effects on import: a program embedding the
 * library keeps its own signal behaviour.
 */

/** Signals the daemon handles from its first line. */
export const EARLY_SIGNALS = Object.freeze(["SIGHUP", "SIGTERM", "SIGINT"] as const);
export type EarlySignal = (typeof EARLY_SIGNALS)[number];

const received: EarlySignal[] = [];
const record = (signal: NodeJS.Signals) => received.push(signal as EarlySignal);
let recording = false;

/** Starts recording SIGHUP, SIGTERM and SIGINT instead of dying of them. */
export function recordEarlySignals(): void {
  if (recording) return;
  recording = true;
  for (const signal of EARLY_SIGNALS) process.on(signal, record);
}

/**
 * Hands the signals received so far to the daemon, which has installed its
 * own handlers, and stops recording. Later calls return nothing.
 */
export function claimEarlySignals(): EarlySignal[] {
  if (!recording) return [];
  recording = false;
  for (const signal of EARLY_SIGNALS) process.off(signal, record);
  return received.splice(0);
}

/**
 * For commands other than `run`: gives the signals their default behaviour
 * back, acting on one already received (Ctrl-C during start-up still stops
 * `check`).
 */
export function releaseEarlySignals(): void {
  const pending = claimEarlySignals();
  const first = pending.find((signal) => signal !== "SIGHUP") ?? pending[0];
  if (first) process.kill(process.pid, first);
}
