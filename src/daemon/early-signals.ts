/*
 * Imported first by the CLI, before anything heavy loads: until a handler
 * exists, SIGHUP's default action kills the process (exit 129) and SIGTERM
 * ends it with 143 instead of a clean stop. The daemon loads run.js and its
 * imports for a few hundred milliseconds; systemd may send either signal
 * in that time. Only node: builtins here, nothing else that loads slowly.
 */

/** Signals the daemon handles from its first line. */
export const EARLY_SIGNALS = Object.freeze(["SIGHUP", "SIGTERM", "SIGINT"] as const);
export type EarlySignal = (typeof EARLY_SIGNALS)[number];

const received: EarlySignal[] = [];
const record = (signal: NodeJS.Signals) => received.push(signal as EarlySignal);
let settled = false;

for (const signal of EARLY_SIGNALS) process.on(signal, record);

/**
 * Hands the signals received so far to the daemon, which has installed its
 * own handlers, and stops recording. Later calls return nothing.
 */
export function claimEarlySignals(): EarlySignal[] {
  if (settled) return [];
  settled = true;
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
