import { closeSync } from "node:fs";
import { isatty } from "node:tty";

/*
 * The terminal the CLI was started on, if any, and what to do once it hangs
 * up (its window closed, the SSH session dropped). The kernel then sends
 * SIGHUP, which the daemon otherwise takes as "reload": without a look at
 * the terminal, a daemon started by hand would outlive its session, logging
 * into nothing. And Node 20 aborts on its way out when it cannot restore a
 * hung-up terminal's modes (nodejs/node#51519, fixed by nodejs/node#58200 in
 * later releases): a clean stop would end in SIGSEGV and a core dump.
 */

/** The standard streams (0, 1, 2) that were terminals when the CLI started. */
const terminals: readonly number[] = [0, 1, 2].filter((fd) => isatty(fd));
/** Of those, the ones the daemon logs to (stdout, stderr). */
const outputs: readonly number[] = terminals.filter((fd) => fd !== 0);

/**
 * Whether the CLI logs to a terminal that has since hung up: stdout and
 * stderr, those of them that were a terminal, no longer are (the kernel
 * answers EIO to a hung-up terminal, so isatty() says no). False under
 * systemd, under nohup, and for output to files or pipes: a daemon that
 * logs to a file (`run > log 2>&1 &`) keeps taking SIGHUP as "reload" even
 * after the terminal it was started from is gone.
 */
export function terminalHungUp(): boolean {
  return outputs.length > 0 && outputs.every((fd) => !isatty(fd));
}

/**
 * Closes the standard streams whose terminal hung up, so that Node's exit
 * skips restoring their modes (it aborts on the EIO; see above). Only at
 * exit: nothing can be written to them anyway.
 */
function releaseHungUpTerminal(): void {
  for (const fd of terminals) {
    if (isatty(fd)) continue;
    try {
      closeSync(fd);
    } catch {
      // Already closed: nothing to restore either.
    }
  }
}

let watching = false;

/** Installs {@link releaseHungUpTerminal} on the process's `exit`, once. */
export function releaseTerminalOnExit(): void {
  if (watching || terminals.length === 0) return;
  watching = true;
  process.on("exit", releaseHungUpTerminal);
}
