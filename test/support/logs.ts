import { Writable } from "node:stream";
import { createLogger, type Logger } from "../../src/log.js";

/** One parsed log line; a line that is not JSON is kept as `{ unparsed }` so a test can see it. */
export type LogRecord = Record<string, unknown>;

/**
 * Collects NDJSON as it arrives in chunks (a child's stdout, a logger's
 * stream): each complete line is parsed into {@link records}, in order.
 */
export class NdjsonLines {
  readonly records: LogRecord[] = [];
  #pending = "";

  /** Takes in a chunk; returns how many records it completed. */
  push(chunk: string): number {
    this.#pending += chunk;
    const lines = this.#pending.split("\n");
    this.#pending = lines.pop() ?? "";
    let added = 0;
    for (const line of lines) {
      if (line.trim() === "") continue;
      try {
        this.records.push(JSON.parse(line) as LogRecord);
      } catch {
        this.records.push({ unparsed: line });
      }
      added++;
    }
    return added;
  }
}

/** A logger whose NDJSON lines the test can read back. */
export function captureLogger(): { logger: Logger; lines: () => LogRecord[] } {
  const collected = new NdjsonLines();
  const stream = new Writable({
    write(chunk, _enc, done) {
      collected.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger("debug", stream), lines: () => [...collected.records] };
}
