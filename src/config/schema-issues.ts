import type { z } from "zod";
import { describeValue, type PathSegment, quote, valueAt } from "./path.js";
import { AGENT_KEYS, TLS_KEYS } from "./schema.js";

/**
 * One schema problem in user terms: what is wrong, which path the message
 * names, and where in the file it points (a key for an unknown key, the
 * enclosing mapping for a missing one, otherwise the value).
 */
export interface SchemaProblem {
  /** 1 for a missing key: listed after an unknown key at the same place, which likely explains it. */
  rank: 0 | 1;
  path: PathSegment[];
  target: { path: PathSegment[]; part: "key" | "value" };
  message: string;
}

type Issue = z.core.$ZodIssue;

/**
 * Turns zod's issues for config.yml into {@link SchemaProblem}s. `data` is
 * the validated input, used to say what was found instead and to pick the
 * branch of an agent entry (string or mapping) the user meant.
 */
export function explainSchemaIssues(issues: readonly Issue[], data: unknown): SchemaProblem[] {
  return explainAll(issues, data, []).sort((a, b) => a.rank - b.rank);
}

function explainAll(
  issues: readonly Issue[],
  data: unknown,
  prefix: readonly PathSegment[],
): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...(issue.path as PathSegment[])];
    problems.push(...explainIssue(issue, path, data));
  }
  return problems;
}

function explainIssue(issue: Issue, path: PathSegment[], data: unknown): SchemaProblem[] {
  const value = valueAt(data, path);
  const at = (message: string): SchemaProblem[] => [
    { rank: 0, path, target: { path, part: "value" }, message },
  ];

  switch (issue.code) {
    case "invalid_union": {
      // The only union is an agent entry: a "host:port" string or a mapping.
      // Report the errors of the form the user wrote, not of both forms.
      if (typeof value === "string" && issue.errors[0]) {
        return explainAll(issue.errors[0], data, path);
      }
      if (isPlainObject(value) && issue.errors[1]) {
        return explainAll(issue.errors[1], data, path);
      }
      return at(
        `expected an agent ("host:port", or a mapping with addr and tls), got ${describeValue(value)}`,
      );
    }
    case "invalid_type": {
      const last = path[path.length - 1];
      if (value === undefined && path.length > 0 && !hasKey(data, path)) {
        const parent = path.slice(0, -1);
        const detail = last === "tls" ? ` (a mapping with ${TLS_KEYS.join(", ")})` : "";
        return [
          {
            rank: 1,
            path: parent,
            target: { path: parent, part: "value" },
            message: `missing required key ${quote(String(last))}${detail}`,
          },
        ];
      }
      if (last === "agents" && value === null) {
        return at('"agents:" has no value; write "agents: []" for no agents');
      }
      return at(`expected ${expectedName(issue.expected, path)}, got ${describeValue(value)}`);
    }
    case "unrecognized_keys": {
      const expected = path[path.length - 1] === "tls" ? TLS_KEYS : AGENT_KEYS;
      return issue.keys.map((key) => ({
        rank: 0 as const,
        path,
        target: { path: [...path, key], part: "key" as const },
        message: `unknown key ${quote(key)} (expected ${expected.join(", ")})`,
      }));
    }
    case "too_small":
      if (typeof value === "string") return at("must not be empty");
      return at(issue.message);
    default:
      return at(issue.message);
  }
}

function expectedName(expected: string, path: readonly PathSegment[]): string {
  const last = path[path.length - 1];
  if (path.length === 0) return "a mapping at the top level";
  switch (expected) {
    case "string":
      return last === "addr" ? 'a "host:port" string' : "a string";
    case "object":
      return last === "tls" ? `a mapping with ${TLS_KEYS.join(", ")}` : "a mapping";
    case "array":
      return last === "agents" ? "a list of agents" : "a list";
    default:
      return expected;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function hasKey(data: unknown, path: readonly PathSegment[]): boolean {
  const parent = valueAt(data, path.slice(0, -1));
  const last = path[path.length - 1];
  return isPlainObject(parent) && last !== undefined && Object.hasOwn(parent, last);
}
