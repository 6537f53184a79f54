import { expectExit } from "./exit-guard.js";

/**
 * Exits with `code` once everything written to stdout and stderr has left
 * the process. `process.exit()` right away would drop what is still queued
 * for a pipe (anything beyond its 64 KiB buffer: `check --json | jq` on a
 * large config), since writes to pipes are asynchronous
 * (https://nodejs.org/api/process.html#a-note-on-process-io). Exiting at
 * all, rather than waiting for the event loop to empty, is still needed: a
 * `--module` may leave timers or sockets behind.
 */
export function exitWhenFlushed(code: number): void {
  process.exitCode = code;
  let pending = 2;
  const done = () => {
    pending -= 1;
    if (pending === 0) {
      expectExit();
      process.exit(code);
    }
  };
  for (const stream of [process.stdout, process.stderr]) {
    // A callback on an empty write runs after every earlier write has been handed on.
    if (stream.writableEnded || stream.destroyed) done();
    else stream.write("", () => done());
  }
}
