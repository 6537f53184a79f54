import { containsPrivateKey, PRIVATE_KEY_MESSAGE } from "./secrets.js";

/** One problem found in a config file, located where the YAML allows it. */
export interface ConfigIssue {
  /** The config file, as the caller named it. */
  file: string;
  /** 1-based. */
  line?: number;
  /** 1-based. */
  col?: number;
  /** YAML path, e.g. `providers.agents[1].addr`. */
  path?: string;
  message: string;
}

export type ConfigErrorCode = "ERR_CONFIG_PARSE" | "ERR_CONFIG_INVALID";

const PRIVATE_KEY =
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;

/**
 * A message may quote what the user wrote; if that is a pasted private key,
 * the key must not travel on into logs, `/status` or a terminal. The loader
 * refuses keys before quoting anything; this is the last line of defence,
 * so a message that still holds one, armored or not, is replaced whole.
 */
export function redactSecrets(text: string): string {
  const armored = text.replace(PRIVATE_KEY, "[private key redacted]");
  return containsPrivateKey(armored) ? PRIVATE_KEY_MESSAGE : armored;
}

/** `file:line:col: path: message`, leaving out the parts an issue does not have. */
export function formatIssue(issue: ConfigIssue): string {
  let where = issue.file;
  if (issue.line !== undefined) where += `:${issue.line}`;
  if (issue.line !== undefined && issue.col !== undefined) where += `:${issue.col}`;
  return issue.path ? `${where}: ${issue.path}: ${issue.message}` : `${where}: ${issue.message}`;
}

/**
 * A config file that cannot be used. `ERR_CONFIG_PARSE`: the file could not be
 * read or is not acceptable YAML. `ERR_CONFIG_INVALID`: it parsed, but what it
 * says is wrong (schema, duplicates, TLS files). `message` is the issues, one
 * per line.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly code: ConfigErrorCode;
  readonly issues: readonly ConfigIssue[];
  /**
   * Absolute paths of the files this attempt read or tried to read (config.yml
   * and TLS files), so a watcher can notice when a missing one appears.
   */
  readonly inputs: readonly string[];

  constructor(
    code: ConfigErrorCode,
    issues: ConfigIssue[],
    options: { cause?: unknown; inputs?: string[] } = {},
  ) {
    const safe = issues.map((i) =>
      Object.freeze({
        ...i,
        ...(i.path !== undefined ? { path: redactSecrets(i.path) } : {}),
        message: redactSecrets(i.message),
      }),
    );
    super(
      safe.map(formatIssue).join("\n"),
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.issues = Object.freeze(safe);
    this.inputs = Object.freeze([...(options.inputs ?? [])]);
  }
}
