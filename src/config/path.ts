import { containsPrivateKey } from "./secrets.js";

/** One step of a path into the YAML document: a mapping key or a list index. */
export type PathSegment = string | number;

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `providers.agents[1].addr`, the way messages name a place in config.yml. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (PLAIN_KEY.test(segment) && segment.length <= QUOTE_MAX)
      out += out === "" ? segment : `.${segment}`;
    else out += `[${quote(segment)}]`;
  }
  return out;
}

/** The value at `path` in plain data, or undefined. */
export function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let value = data;
  for (const segment of path) {
    if (value === null || typeof value !== "object") return undefined;
    if (!Object.hasOwn(value, segment)) return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return value;
}

/**
 * A value as a message shows it: short, on one line, and never the content
 * of something that holds a private key (a key pasted where a path belongs).
 */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return "no value (null)";
  if (Array.isArray(value)) return "a list";
  switch (typeof value) {
    case "string":
      if (containsPrivateKey(value)) return "a private key";
      if (value.includes("-----BEGIN")) return "PEM text";
      return `the string ${quote(value)}`;
    case "number":
    case "bigint":
      return `the number ${cut(String(value), QUOTE_MAX)}`;
    case "boolean":
      return `the boolean ${String(value)}`;
    case "object":
      return value instanceof Date ? "a timestamp" : "a mapping";
    default:
      return typeof value;
  }
}

/** Characters of user text a message quotes at most. */
export const QUOTE_MAX = 60;

/**
 * User text as every message quotes it: JSON-quoted, cut to `max` characters
 * with the cut marked (`"abc…"… (1048576 characters)`), and never a private
 * key (see {@link containsPrivateKey}): a 1 MB value must not become a 2 MB
 * log line, nor a pasted key travel on into logs and `/status`.
 */
export function quote(text: string, max = QUOTE_MAX): string {
  if (containsPrivateKey(text)) return "(a private key, not shown)";
  if (text.length <= max) return JSON.stringify(text);
  return `${JSON.stringify(cut(text, max))}… (${text.length} characters)`;
}

/** The first `max` characters of `text`, not splitting a surrogate pair. */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  const code = text.charCodeAt(max - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}
