import { EXIT } from "../exit-codes.js";

/*
 * What every command shares: where it writes, how it reports a bad command
 * line, and how it lays out text.
 */

/** Something text is written to (process.stdout, or a test's string collector). */
export interface TextSink {
  write(text: string): unknown;
}

/** Where a command writes, and the environment it reads; the CLI passes process.stdout, process.stderr. */
export interface CommandIo {
  stdout: TextSink;
  stderr: TextSink;
  /** Default `process.env`. */
  env?: Record<string, string | undefined>;
}

/** A bad command line; the command prints it with its usage and exits {@link EXIT.usage}. */
export class UsageError extends Error {
  readonly code = "ERR_USAGE";
}

/** A {@link UsageError}, or one of `parseArgs`'s (unknown or malformed options: `ERR_PARSE_ARGS_*`). */
export function isUsageError(err: unknown): err is Error {
  if (err instanceof UsageError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("ERR_PARSE_ARGS");
}

/**
 * Writes `who: message` to stderr, then a blank line and `usage` when given;
 * returns the usage exit status. `who` is `agentpool` or `agentpool <command>`.
 */
export function usageError(io: CommandIo, who: string, message: string, usage?: string): number {
  io.stderr.write(`${who}: ${message}\n${usage === undefined ? "" : `\n${usage}`}`);
  return EXIT.usage;
}

/** `1 agent`, `2 agents`; `many` for words whose plural is not `word + "s"`. */
export function plural(count: number, word: string, many = `${word}s`): string {
  return `${count} ${count === 1 ? word : many}`;
}

/**
 * Rows as aligned columns, two spaces apart; the last column is not padded and
 * no line ends in spaces. No newline after the last row.
 */
export function table(rows: readonly (readonly string[])[]): string {
  const widths =
    rows[0]?.map((_, col) => Math.max(...rows.map((row) => row[col]?.length ?? 0))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, col) => (col === row.length - 1 ? cell : cell.padEnd(widths[col] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
