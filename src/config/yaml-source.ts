import type { Alias, Document, Node, Pair, Scalar, YAMLError, YAMLMap } from "yaml";
import { checkKeys } from "./keys.js";
import { formatPath, type PathSegment, quote } from "./path.js";
import { yaml } from "./yaml-lib.js";

const { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit } = yaml;

/** 1-based line and column in the config file. */
export interface SourcePosition {
  line: number;
  col: number;
}

/** A problem found in the YAML text, located; the loader adds the file name. */
export interface YamlProblem extends SourcePosition {
  path?: string;
  message: string;
}

import { ALIAS_EXPANSION_LIMIT } from "./limits.js";

export { ALIAS_EXPANSION_LIMIT };

export type YamlParseResult =
  | { ok: true; source: YamlSource; warnings: YamlProblem[] }
  | { ok: false; empty: true; warnings: YamlProblem[] }
  | { ok: false; empty: false; problems: YamlProblem[]; warnings: YamlProblem[] };

/**
 * Parses config text as one YAML document, keeping source positions.
 * Duplicate keys, syntax errors and alias abuse (undefined, recursive or
 * exponential aliases, wherever they sit) are problems; YAML warnings such as
 * unknown tags are returned as warnings. Never throws for bad input.
 */
export function parseYaml(text: string): YamlParseResult {
  const lineCounter = new LineCounter();
  // merge: GoDoxy (go-yaml) accepts `<<: *anchor`, so a GoDoxy config may use it.
  const doc = parseDocument(text, {
    lineCounter,
    uniqueKeys: true,
    prettyErrors: false,
    merge: true,
  });
  const at = (offset: number): SourcePosition => lineCounter.linePos(offset);
  const warnings = doc.warnings.map((w) => ({ ...at(w.pos[0]), message: yamlMessage(w) }));

  if (doc.errors.length > 0) {
    return { ok: false, empty: false, problems: syntaxProblems(doc, at), warnings };
  }
  if (doc.contents === null) return { ok: false, empty: true, warnings };

  // An alias is written `*name`; without a `*` anywhere there is nothing to check.
  const aliases = text.includes("*") ? checkAliases(doc) : { targets: new Map<Alias, Node>() };
  if ("problem" in aliases) {
    return {
      ok: false,
      empty: false,
      problems: [{ ...at(aliases.offset), message: aliases.problem }],
      warnings,
    };
  }

  const badKey = checkKeys(doc, aliases.targets, at);
  if (badKey) return { ok: false, empty: false, problems: [badKey], warnings };

  let data: unknown;
  try {
    // The alias check above bounds the expansion; yaml's own counter would
    // refuse a legitimate file that reuses one anchor more than 100 times.
    data = doc.toJS({ maxAliasCount: -1 });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const merge = badMerge(doc, aliases.targets);
    if (merge !== undefined) {
      return {
        ok: false,
        empty: false,
        problems: [{ ...at(merge), message: "a merge (<<) takes a mapping or a list of mappings" }],
        warnings,
      };
    }
    return {
      ok: false,
      empty: false,
      problems: [
        {
          ...at(0),
          message: `cannot read the YAML: ${lowerFirst(firstLine(message).split(": ")[0] ?? "")}`,
        },
      ],
      warnings,
    };
  }
  return { ok: true, source: new YamlSource(doc, data, aliases.targets, at), warnings };
}

/** Options of {@link YamlSource.locate}. */
export interface LocateOptions {
  /**
   * When the path runs through an alias (`- *a`), give the alias's position
   * rather than the anchored node's: where that use of it is written, which
   * is what a duplicate must point at.
   */
  atAlias?: boolean;
}

/**
 * A parsed document: its plain data and a way back from a data path to the
 * line and column it came from.
 */
export class YamlSource {
  readonly #doc: Document.Parsed;
  readonly #targets: ReadonlyMap<Alias, Node>;
  readonly #at: (offset: number) => SourcePosition;
  /** The document as plain data (what the schema validates). */
  readonly data: unknown;

  constructor(
    doc: Document.Parsed,
    data: unknown,
    targets: ReadonlyMap<Alias, Node>,
    at: (offset: number) => SourcePosition,
  ) {
    this.#doc = doc;
    this.data = data;
    this.#targets = targets;
    this.#at = at;
  }

  /**
   * Where `path` is written: its value, or with `"key"` its key. When the
   * path does not exist (a missing key), the nearest enclosing node.
   * A null written as nothing (`agents:`) is located at its key.
   */
  locate(
    path: readonly PathSegment[],
    part: "key" | "value" = "value",
    options: LocateOptions = {},
  ): SourcePosition {
    let node: unknown = this.#doc.contents;
    let pair: Pair | undefined;
    let alias: Alias | undefined;
    for (const segment of path) {
      if (options.atAlias && !alias && isAlias(node)) alias = node;
      const container = this.#deref(node);
      let next: unknown;
      if (isMap(container) && typeof segment === "string") {
        const found = this.#findPair(container, segment, new Set());
        if (!found) return this.#position(node, pair);
        pair = found;
        next = found.value;
      } else if (
        isSeq(container) &&
        typeof segment === "number" &&
        segment < container.items.length
      ) {
        pair = undefined;
        next = container.items[segment];
      } else {
        return this.#position(node, pair);
      }
      node = next;
    }
    if (options.atAlias && !alias && isAlias(node)) alias = node;
    if (alias?.range) return this.#at(alias.range[0]);
    if (part === "key" && pair && isNodeWithRange(pair.key)) return this.#at(pair.key.range[0]);
    return this.#position(node, pair);
  }

  #position(node: unknown, pair: Pair | undefined): SourcePosition {
    const empty = isScalar(node) && node.value === null && node.range?.[0] === node.range?.[1];
    if ((empty || !isNodeWithRange(node)) && pair && isNodeWithRange(pair.key)) {
      return this.#at(pair.key.range[0]);
    }
    return isNodeWithRange(node) ? this.#at(node.range[0]) : { line: 1, col: 1 };
  }

  #deref(node: unknown): unknown {
    return isAlias(node) ? this.#targets.get(node) : node;
  }

  /** The pair for `key` in `map`, looking into `<<` merges the way toJS does. */
  #findPair(map: YAMLMap, key: string, seen: Set<unknown>): Pair | undefined {
    if (seen.has(map)) return undefined;
    seen.add(map);
    const merges: unknown[] = [];
    for (const item of map.items) {
      const k = this.#deref(item.key);
      if (isScalar(k) && typeof k.value === "symbol") merges.push(item.value);
      else if (isScalar(k) && String(k.value) === key) return item;
    }
    for (const merge of merges) {
      const source = this.#deref(merge);
      const sources = isSeq(source) ? source.items.map((i) => this.#deref(i)) : [source];
      for (const candidate of sources) {
        if (!isMap(candidate)) continue;
        const found = this.#findPair(candidate, key, seen);
        if (found) return found;
      }
    }
    return undefined;
  }
}

function isNodeWithRange(node: unknown): node is Node & { range: [number, number, number] } {
  return (
    typeof node === "object" &&
    node !== null &&
    Array.isArray((node as { range?: unknown }).range) &&
    !isPair(node)
  );
}

function firstLine(text: string): string {
  return text.split("\n")[0] ?? text;
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

function yamlMessage(error: YAMLError): string {
  // yaml appends the offending source after a colon ("Not a YAML token: …",
  // "Unresolved tag: !<…>", "Unexpected … token in YAML stream: \"…\""); that
  // text may be part of a pasted key, and the position already points at it.
  const [message = "", ...rest] = firstLine(error.message).split(": ");
  const quoted = rest.join(": ");
  // A short tag such as `!custom` says which one; fifteen characters cannot hold a key.
  const tail =
    error.code === "TAG_RESOLVE_FAILED" && /^\S{1,15}$/.test(quoted) ? `: ${quoted}` : "";
  return lowerFirst(message.replace(/\.$/, "")) + tail;
}

/** A duplicate key is named when it reads like a key, never when it could be pasted data. */
function nameKey(key: string): string {
  return /^[A-Za-z0-9_. -]{1,32}$/.test(key) ? ` ${quote(key)}` : "";
}

/**
 * Syntax errors, at most one per line: one mistake (a bad indent) often makes
 * the parser report two or three things on the same line.
 */
function syntaxProblems(
  doc: Document.Parsed,
  at: (offset: number) => SourcePosition,
): YamlProblem[] {
  const problems: YamlProblem[] = [];
  const lines = new Set<number>();
  for (const error of doc.errors) {
    const problem = explainSyntaxError(doc, error, at);
    if (lines.has(problem.line)) continue;
    lines.add(problem.line);
    problems.push(problem);
  }
  return problems;
}

function explainSyntaxError(
  doc: Document.Parsed,
  error: YAMLError,
  at: (offset: number) => SourcePosition,
): YamlProblem {
  const offset = error.pos[0];
  switch (error.code) {
    case "DUPLICATE_KEY": {
      const found = findDuplicate(doc.contents, offset, []);
      if (found) {
        const first = at(found.first);
        return {
          ...at(offset),
          ...(found.path.length > 0 ? { path: formatPath(found.path) } : {}),
          message: `duplicate key${nameKey(found.key)} (first at line ${first.line})`,
        };
      }
      return { ...at(offset), message: "duplicate key" };
    }
    case "MISSING_CHAR": {
      // yaml reports an unclosed quote at the end of the file; the string's
      // opening quote is where the user has to look.
      const scalar = unclosedQuote(doc, offset);
      if (scalar?.range) {
        const mark = scalar.type === "QUOTE_DOUBLE" ? '"' : "'";
        return {
          ...at(scalar.range[0]),
          message: `missing closing ${mark} for the string that starts here`,
        };
      }
      return { ...at(offset), message: yamlMessage(error) };
    }
    case "TAB_AS_INDENT":
      return { ...at(offset), message: "tabs are not allowed as indentation; use spaces" };
    case "MULTIPLE_DOCS":
      return {
        ...at(offset),
        message:
          'the file holds more than one YAML document ("---"); config.yml must be one document',
      };
    default:
      // The parser is recursive: a few thousand nested brackets overflow it.
      if (/call stack/i.test(error.message)) {
        return { ...at(offset), message: "the nesting is too deep to parse" };
      }
      return { ...at(offset), message: yamlMessage(error) };
  }
}

function findDuplicate(
  node: unknown,
  offset: number,
  path: PathSegment[],
): { key: string; first: number; path: PathSegment[] } | undefined {
  if (isMap(node)) {
    const earlier = new Map<string, number>();
    for (const item of node.items) {
      const key = item.key;
      if (isScalar(key) && key.range) {
        const name = String(key.value);
        const first = earlier.get(name);
        if (key.range[0] === offset && first !== undefined) return { key: name, first, path };
        if (first === undefined) earlier.set(name, key.range[0]);
      }
      const inner = findDuplicate(item.value, offset, [
        ...path,
        isScalar(key) ? String(key.value) : "?",
      ]);
      if (inner) return inner;
    }
  } else if (isSeq(node)) {
    for (const [index, item] of node.items.entries()) {
      const inner = findDuplicate(item, offset, [...path, index]);
      if (inner) return inner;
    }
  }
  return undefined;
}

function unclosedQuote(doc: Document.Parsed, offset: number): Scalar | undefined {
  let found: Scalar | undefined;
  visit(doc, {
    Scalar(_key, node) {
      const quoted = node.type === "QUOTE_DOUBLE" || node.type === "QUOTE_SINGLE";
      if (quoted && node.range && node.range[0] < offset && node.range[1] >= offset) found = node;
    },
  });
  return found;
}

/**
 * Resolves every alias once, in document order (the anchor in force is the
 * last one before the alias, as in YAML), and adds up how many nodes the
 * aliases would expand to, with the size of each anchored node memoized.
 * Stops at the first alias that is undefined, recursive, or takes the total
 * past {@link ALIAS_EXPANSION_LIMIT}; linear in the size of the file.
 */
function checkAliases(
  doc: Document.Parsed,
): { targets: Map<Alias, Node> } | { problem: string; offset: number } {
  const anchors = new Map<string, Node>();
  const targets = new Map<Alias, Node>();
  const sizes = new Map<unknown, number>();
  const inProgress = new Set<unknown>();
  let cycle = false;

  const sizeOf = (node: unknown): number => {
    if (isAlias(node)) {
      const target = targets.get(node);
      return target === undefined ? 1 : sizeOf(target);
    }
    if (!isMap(node) && !isSeq(node)) return 1;
    const known = sizes.get(node);
    if (known !== undefined) return known;
    if (inProgress.has(node)) {
      cycle = true;
      return Number.POSITIVE_INFINITY;
    }
    inProgress.add(node);
    let size = 1;
    for (const item of node.items) {
      size += isPair(item) ? sizeOf(item.key) + sizeOf(item.value) : sizeOf(item);
      if (cycle || size > ALIAS_EXPANSION_LIMIT) break;
    }
    inProgress.delete(node);
    sizes.set(node, size);
    return size;
  };

  let expanded = 0;
  let failure: { problem: string; offset: number } | undefined;
  visit(doc, {
    Node(_key, node) {
      if (!isAlias(node)) {
        if (node.anchor) anchors.set(node.anchor, node);
        return undefined;
      }
      const offset = node.range?.[0] ?? 0;
      const target = anchors.get(node.source);
      if (!target) {
        failure = {
          offset,
          problem: `alias *${node.source} has no anchor &${node.source} before it`,
        };
        return visit.BREAK;
      }
      targets.set(node, target);
      expanded += sizeOf(target);
      if (cycle) {
        failure = {
          offset,
          problem: `alias *${node.source} is recursive: it refers to a node that contains it`,
        };
        return visit.BREAK;
      }
      if (expanded > ALIAS_EXPANSION_LIMIT) {
        failure = {
          offset,
          problem: `aliases expand to more than ${ALIAS_EXPANSION_LIMIT} nodes; refusing a likely alias bomb ("billion laughs")`,
        };
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return failure ?? { targets };
}

/**
 * The offset of the first merge (`<<`) whose source is not a mapping or a
 * list of mappings, which makes toJS throw without saying where.
 */
function badMerge(doc: Document.Parsed, targets: ReadonlyMap<Alias, Node>): number | undefined {
  const deref = (node: unknown) => (isAlias(node) ? targets.get(node) : node);
  let offset: number | undefined;
  visit(doc, {
    Pair(_key, pair) {
      const key = deref(pair.key);
      if (!isScalar(key) || typeof key.value !== "symbol") return undefined;
      const source = deref(pair.value);
      const sources = isSeq(source) ? source.items.map(deref) : [source];
      if (sources.every((item) => isMap(item))) return undefined;
      offset = (pair.key as { range?: [number, number, number] } | null)?.range?.[0] ?? 0;
      return visit.BREAK;
    },
  });
  return offset;
}
