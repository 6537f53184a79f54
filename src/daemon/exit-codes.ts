/**
 * How `agentpool` ends, for systemd and scripts. `invalidConfig` and `usage`
 * are the operator's to fix, so the unit lists them in
 * `RestartPreventExitStatus=`; anything else (a crash, a status port that is
 * taken) is worth a restart. 70 is `EX_SOFTWARE` from sysexits(3). The
 * statuses of single commands live with them: `status` 3 (`STATUS_EXIT`),
 * `check --probe` 4 (`PROBE_FAILED_EXIT`).
 */
export const EXIT = Object.freeze({
  /** Stopped cleanly (SIGTERM, SIGINT), or a command that succeeded. */
  ok: 0,
  /** The config file is missing, unreadable or invalid. */
  invalidConfig: 1,
  /** A bad command line. */
  usage: 2,
  /** The daemon could not start for a reason other than its config, or died. */
  crash: 70,
});

/**
 * A start-up failure the operator must fix on the command line (a docker
 * sockets folder or group that cannot be used): one sentence, no stack, and
 * an exit status that systemd does not restart on.
 */
export class StartupError extends Error {
  readonly code = "ERR_STARTUP";
  constructor(
    message: string,
    readonly exitCode: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "StartupError";
  }
}
