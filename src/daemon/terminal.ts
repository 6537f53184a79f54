import { closeSync, fstatSync } from "node:fs";
import { isatty } from "node:tty";

/*
 * The terminal the CLI was started on, if any, and what to do once it hangs
 * up (its window closed, the SSH session dropped). The kernel then sends
 * SIGHUP, which the daemon otherwise takes as "reload": without a look at
 * the terminal, a daemon started by hand would outlive its session, logging
 * into nothing. And Node 20 aborts on its way out when it cannot restore a
 * hung-up terminal's modes (nodejs/node#51519, fixed by nodejs/node#58200 in
 * later releases): a clean stop would end in SIGABRT or SIGSEGV and a core dump.
 */

/** A standard stream (0, 1, 2) that was a terminal when the CLI started, and which file that was. */
interface Terminal {
  fd: number;
  dev: number;
  ino: number;
}

const terminals: readonly Terminal[] = [0, 1, 2].flatMap((fd) => {
  if (!isatty(fd)) return [];
  const { dev, ino } = fstatSync(fd);
  return [{ fd, dev, ino }];
});
/** Whether the daemon logs to a terminal: its log goes to stdout. */
const logsToTerminal = terminals.some((t) => t.fd === 1);

/**
 * Whether the terminal the CLI logs to (stdout) has hung up since it
 * started: the kernel answers EIO to a hung-up terminal, so isatty() says
 * no. False under systemd, under nohup, and with stdout sent to a file or a
 * pipe: a daemon that logs to a file (`run > log &`) keeps taking SIGHUP as
 * "reload" after the terminal it was started from is gone.
 */
export function terminalHungUp(): boolean {
  return logsToTerminal && !isatty(1);
}

/**
 * Closes the standard streams whose terminal hung up, so that Node's exit
 * skips restoring their modes (it aborts on the EIO; see above). Only at
 * exit, and only a stream still open on the same terminal: a descriptor a
 * module closed and reused for another file is left alone.
 */
function releaseHungUpTerminal(): void {
  for (const { fd, dev, ino } of terminals) {
    try {
      const now = fstatSync(fd);
      if (now.dev !== dev || now.ino !== ino || isatty(fd)) continue;
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
