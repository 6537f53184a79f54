/** Where the daemon is in its life. */
export type DaemonPhase = "starting" | "running" | "stopping";

/** Why the daemon stops: the signal that asked (if one did), and the exit status to end with. */
export interface StopReason {
  readonly signal?: NodeJS.Signals;
  readonly code: number;
}

/**
 * The daemon's phase and the reason it stops. A stop can be asked for at any
 * moment, start-up included; the first request wins and later ones are
 * ignored, so a second SIGTERM does not change the exit status.
 */
export class DaemonLifecycle {
  #phase: DaemonPhase = "starting";
  #reason: StopReason | undefined;
  #reloadWhenRunning = false;
  #resolveStop!: (reason: StopReason) => void;
  /** Resolves with the first stop request. */
  readonly stopRequested: Promise<StopReason> = new Promise((resolve) => {
    this.#resolveStop = resolve;
  });

  get phase(): DaemonPhase {
    return this.#phase;
  }

  /** The first stop request, once there is one. */
  get stopReason(): StopReason | undefined {
    return this.#reason;
  }

  requestStop(reason: StopReason): void {
    if (this.#reason) return;
    this.#reason = Object.freeze({ ...reason });
    this.#resolveStop(this.#reason);
  }

  /** A reload asked for before the daemon runs (SIGHUP during start-up): it is done once running. */
  deferReload(): void {
    this.#reloadWhenRunning = true;
  }

  /** Start-up finished without a stop request; returns whether a reload was deferred meanwhile. */
  markRunning(): boolean {
    if (this.#phase === "starting") this.#phase = "running";
    const reload = this.#reloadWhenRunning;
    this.#reloadWhenRunning = false;
    return reload;
  }

  markStopping(): void {
    this.#phase = "stopping";
  }
}
