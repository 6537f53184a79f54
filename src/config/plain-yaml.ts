import { corePlainValue } from "./core-scalars.js";
import type { SourcePosition } from "./yaml-source.js";

/*
 * The first tier of the accepted path: a line-by-line reader of the plain
 * YAML that config files are written in — block mappings and sequences
 * indented with spaces, plain and one-line quoted scalars, one-line flow
 * collections of plain scalars, comments. Nothing more: an anchor, an alias,
 * a tag, a block scalar, a scalar over several lines, a key that is not a
 * plain word, a duplicate key, a tab, a control character, a document marker
 * or anything it does not know makes it decline, and js-yaml (then yaml)
 * reads the file. So it never has to be right about YAML's corners, only
 * about the text it vouches for; test/config/plain-yaml.test.ts holds it to
 * yaml's reading of that text, and plain-locate.test.ts its positions to
 * yaml's. It is ~3x quicker than js-yaml on 10,000 agents (25 against 70 ms
 * here): one pass over the lines, no tokens, no events.
 */

/** Thrown to stop reading: the caller goes on with js-yaml. Never escapes {@link parsePlainYaml}. */
const NOT_PLAIN = Symbol("not plain YAML");

/** Longest key read here; yaml refuses implicit keys over 1,024 characters. */
const MAX_KEY_CHARS = 256;
/** Keys that yaml reads as null or a bool: their string forms differ between parsers. */
const NON_TEXT_KEY = /^(?:null|Null|NULL|true|True|TRUE|false|False|FALSE)$/;
/**
 * What declines the whole text: a character no scalar, key or indentation
 * here holds (controls, tab, CR, BOM, line separators, a lone surrogate),
 * or a line that opens with a document marker or a directive.
 */
const FORBIDDEN =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is its job.
  /[\x00-\x08\x0b-\x1f\x7f-\x9f\t\r\ufeff\u2028\u2029\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]|^(?:---|\.\.\.|%)/m;
/** Characters that cannot start a plain scalar here (YAML's indicators, and `-`). */
const INDICATOR_START = "-?:,[]{}#&*!|>'\"%@`";
/** Characters a plain scalar inside a flow collection cannot hold here. */
const FLOW_UNSAFE = /[[\]{}"'#&*!|>%@`]/;
/** Nesting deeper than this declines: a line-per-level file must not exhaust the stack. */
const MAX_DEPTH = 64;

/**
 * The data of `text` if it is written in the plain subset this reader knows
 * and its top level is a mapping, else undefined. Never throws.
 */
export function parsePlainYaml(text: string): Record<string, unknown> | undefined {
  if (FORBIDDEN.test(text)) return undefined;
  try {
    return new Reader(text).document();
  } catch (err) {
    if (err === NOT_PLAIN) return undefined;
    throw err;
  }
}

/**
 * Where one entry of a mapping or list was written. `value` is set for a
 * scalar written out; a collection has `collection` instead; a null written
 * as nothing has neither.
 */
export interface EntryPosition {
  /** The key (mapping entries only). */
  readonly key?: SourcePosition;
  readonly value?: SourcePosition;
  readonly collection?: true;
}

/** Each collection of a document read by {@link readPlainYamlPositions}, to where its entries are written. */
export type PlainPositions = WeakMap<object, Map<string | number, EntryPosition>>;

/**
 * {@link parsePlainYaml}, with where each entry is written (1-based line and
 * column, as yaml counts them). Slower, so only for a file that has
 * something to report; undefined where {@link parsePlainYaml} declines.
 */
export function readPlainYamlPositions(
  text: string,
): { root: Record<string, unknown>; positions: PlainPositions } | undefined {
  if (FORBIDDEN.test(text)) return undefined;
  const positions: PlainPositions = new WeakMap();
  try {
    return { root: new Reader(text, positions).document(), positions };
  } catch (err) {
    if (err === NOT_PLAIN) return undefined;
    throw err;
  }
}

function decline(): never {
  throw NOT_PLAIN;
}

/** Where an inline value starts (its line, and the 0-based column of its first character), when positions are kept. */
interface Where {
  line: number;
  col: number;
  positions: PlainPositions;
}

function record(
  positions: PlainPositions,
  container: object,
  key: string | number,
  entry: EntryPosition,
): void {
  let entries = positions.get(container);
  if (entries === undefined) {
    entries = new Map();
    positions.set(container, entries);
  }
  entries.set(key, entry);
}

/** The position of a value: its own for a scalar, or `collection`. */
function valueEntry(value: unknown, line: number, col: number): EntryPosition {
  return typeof value === "object" && value !== null
    ? { collection: true }
    : { value: { line, col: col + 1 } };
}

class Reader {
  /** Indentation and text (from the first non-space, trailing spaces cut) of each line with content. */
  readonly #indents: number[] = [];
  readonly #texts: string[] = [];
  /** Only when positions are kept: the 1-based line number of each line with content. */
  readonly #lines: number[] = [];
  readonly #positions: PlainPositions | undefined;
  #at = 0;

  constructor(text: string, positions?: PlainPositions) {
    this.#positions = positions;
    let start = 0;
    let lineNumber = 0;
    while (start < text.length) {
      lineNumber++;
      let end = text.indexOf("\n", start);
      if (end < 0) end = text.length;
      let indent = start;
      while (indent < end && text.charCodeAt(indent) === 32) indent++;
      let last = end;
      while (last > indent && text.charCodeAt(last - 1) === 32) last--;
      // Blank lines and comment lines carry nothing, at any indentation.
      if (last > indent && text.charCodeAt(indent) !== 35) {
        this.#indents.push(indent - start);
        this.#texts.push(text.slice(indent, last));
        if (positions) this.#lines.push(lineNumber);
      }
      start = end + 1;
    }
  }

  document(): Record<string, unknown> {
    if (this.#texts.length === 0 || this.#indents[0] !== 0) decline();
    if (isEntry(this.#texts[0] as string)) decline();
    const root = this.#mapping(0, 0);
    if (this.#at !== this.#texts.length) decline();
    return root;
  }

  /** The indentation of the current line, or -1 past the end. */
  #indent(): number {
    return this.#at < this.#indents.length ? (this.#indents[this.#at] as number) : -1;
  }

  /** A block mapping whose keys sit at column `indent`. */
  #mapping(indent: number, depth: number): Record<string, unknown> {
    if (depth > MAX_DEPTH) decline();
    const map: Record<string, unknown> = {};
    const positions = this.#positions;
    while (this.#indent() === indent) {
      const line = this.#texts[this.#at] as string;
      const lineNumber = this.#lines[this.#at] as number;
      const colon = keyEnd(line, 0);
      if (colon < 0) decline();
      const key = newKey(map, line.slice(0, colon));
      // The line has no trailing spaces: the value starts after the leading ones.
      let from = colon + 1;
      while (line.charCodeAt(from) === 32) from++;
      const rest = line.slice(from);
      this.#at++;
      if (rest === "" || rest.startsWith("#")) {
        const value = this.#blockValue(indent, true, depth);
        map[key] = value;
        if (positions) {
          const at = { line: lineNumber, col: indent + 1 };
          record(positions, map, key, value === null ? { key: at } : { key: at, collection: true });
        }
      } else {
        const where = positions && { line: lineNumber, col: indent + from, positions };
        const value = inlineValue(rest, where);
        map[key] = value;
        if (where)
          record(where.positions, map, key, {
            key: { line: lineNumber, col: indent + 1 },
            ...valueEntry(value, lineNumber, where.col),
          });
        // More indented text after a value on the key's line: a scalar
        // running over lines, or an error; either way not this reader's.
        if (this.#indent() > indent) decline();
      }
    }
    return map;
  }

  /**
   * What follows a key or a `-` with nothing after it: a more indented block,
   * a sequence at the key's own column (`sameColumnList`), or null.
   */
  #blockValue(indent: number, sameColumnList: boolean, depth: number): unknown {
    const next = this.#indent();
    if (next > indent) {
      const value = isEntry(this.#texts[this.#at] as string)
        ? this.#sequence(next, depth + 1)
        : this.#mapping(next, depth + 1);
      if (this.#indent() > indent) decline();
      return value;
    }
    if (next === indent && sameColumnList && isEntry(this.#texts[this.#at] as string))
      return this.#sequence(indent, depth + 1);
    return null;
  }

  /** A block sequence whose `-` sit at column `indent`. */
  #sequence(indent: number, depth: number): unknown[] {
    if (depth > MAX_DEPTH) decline();
    const list: unknown[] = [];
    const positions = this.#positions;
    while (this.#indent() === indent && isEntry(this.#texts[this.#at] as string)) {
      const line = this.#texts[this.#at] as string;
      const lineNumber = this.#lines[this.#at] as number;
      const index = list.length;
      let start = 1;
      while (line.charCodeAt(start) === 32) start++;
      const rest = line.slice(start);
      if (rest === "" || rest.startsWith("#")) {
        this.#at++;
        const value = this.#blockValue(indent, false, depth);
        list.push(value);
        if (positions) record(positions, list, index, value === null ? {} : { collection: true });
      } else if (isEntry(rest)) {
        decline(); // `- - x`
      } else if (keyEnd(rest, 0) >= 0) {
        // `- key: value`: a mapping whose keys sit where this key starts.
        const column = indent + start;
        this.#indents[this.#at] = column;
        this.#texts[this.#at] = rest;
        list.push(this.#mapping(column, depth + 1));
        if (positions) record(positions, list, index, { collection: true });
        if (this.#indent() > indent) decline();
      } else {
        this.#at++;
        const where = positions && { line: lineNumber, col: indent + start, positions };
        const value = inlineValue(rest, where);
        list.push(value);
        if (where) record(where.positions, list, index, valueEntry(value, lineNumber, where.col));
        if (this.#indent() > indent) decline();
      }
    }
    return list;
  }
}

/**
 * Where the `:` of a key at `from` is, or -1: a key is a word (a letter or
 * `_`, then letters, digits, `_`, `-`, `.`, `/`) followed by `:` and a space
 * or the end of `line`.
 */
function keyEnd(line: string, from: number): number {
  let at = from;
  const first = line.charCodeAt(at);
  if (!(isLetter(first) || first === 95)) return -1;
  for (at++; at < line.length; at++) {
    const c = line.charCodeAt(at);
    if (isLetter(c) || (c >= 48 && c <= 57) || c === 95 || c === 45 || c === 46 || c === 47)
      continue;
    break;
  }
  if (line.charCodeAt(at) !== 58 || at - from > MAX_KEY_CHARS) return -1;
  const after = line.charCodeAt(at + 1);
  return after === 32 || Number.isNaN(after) ? at : -1;
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** A key of `map`: new, not `__proto__`, and not one yaml reads as null or a bool. */
function newKey(map: Record<string, unknown>, key: string): string {
  if (key === "__proto__" || NON_TEXT_KEY.test(key) || Object.hasOwn(map, key)) decline();
  return key;
}

/**
 * `text` without the spaces (U+0020 only) at either end. YAML separates with
 * spaces and tabs alone (tabs never get here); String's trim() would also
 * cut U+00A0, U+3000 and the rest of Unicode's spaces, which in YAML belong
 * to the scalar.
 */
function spacesCut(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && text.charCodeAt(start) === 32) start++;
  while (end > start && text.charCodeAt(end - 1) === 32) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

/** A sequence entry: `-` alone or followed by a space. */
function isEntry(line: string): boolean {
  return line.charCodeAt(0) === 45 && (line.length === 1 || line.charCodeAt(1) === 32);
}

/** The value written after `key: ` or `- ` on the same line (trailing spaces already cut). */
function inlineValue(text: string, where: Where | undefined): unknown {
  switch (text[0]) {
    case '"':
      return doubleQuoted(text);
    case "'":
      return singleQuoted(text);
    case "[":
      return flowSequence(text, where);
    case "{":
      return flowMapping(text, where);
    default:
      return blockPlain(text);
  }
}

/** What may follow a closing quote or bracket: nothing, or a comment after a space. */
function endsLine(text: string, from: number): boolean {
  if (from === text.length) return true;
  if (text.charCodeAt(from) !== 32) return false;
  return spacesCut(text.slice(from)).startsWith("#");
}

/** `"..."` on one line, with no escapes. */
function doubleQuoted(text: string): string {
  const close = text.indexOf('"', 1);
  if (close < 0 || !endsLine(text, close + 1)) decline();
  const value = text.slice(1, close);
  if (value.includes("\\")) decline();
  return value;
}

/** `'...'` on one line; `''` is a quote. */
function singleQuoted(text: string): string {
  let value = "";
  let from = 1;
  for (;;) {
    const quote = text.indexOf("'", from);
    if (quote < 0) decline();
    value += text.slice(from, quote);
    if (text.charCodeAt(quote + 1) !== 39) {
      if (!endsLine(text, quote + 1)) decline();
      return value;
    }
    value += "'";
    from = quote + 2;
  }
}

/** The part before a comment (` #`), trailing spaces cut. */
function beforeComment(text: string): string {
  const hash = text.indexOf(" #");
  return hash < 0 ? text : spacesCut(text.slice(0, hash));
}

/** A plain scalar in block context, on one line. */
function blockPlain(text: string): unknown {
  if (INDICATOR_START.includes(text[0] as string)) decline();
  const value = beforeComment(text);
  // `a: b: c` and `a: b:` nest a mapping where yaml refuses one.
  if (value.includes(": ") || value.endsWith(":")) decline();
  return corePlainValue(value);
}

/** A plain scalar inside a one-line flow collection (already trimmed). */
function flowPlain(text: string): unknown {
  if (text === "" || INDICATOR_START.includes(text[0] as string)) decline();
  if (FLOW_UNSAFE.test(text) || text.includes(": ") || text.endsWith(":")) decline();
  return corePlainValue(text);
}

/** The text between `open` at 0 and its `close`, which ends the line (a comment aside). */
function flowBody(text: string, close: string): string {
  const end = text.indexOf(close);
  if (end < 0 || !endsLine(text, end + 1)) decline();
  const body = text.slice(1, end);
  if (body.includes("[") || body.includes("{") || body.includes("]") || body.includes("}"))
    decline();
  return body;
}

/** `[]` or `[a, b]`: plain scalars only, no trailing comma. */
function flowSequence(text: string, where: Where | undefined): unknown[] {
  const body = flowBody(text, "]");
  const list: unknown[] = [];
  if (spacesCut(body) === "") return list;
  let from = 0;
  for (;;) {
    let comma = body.indexOf(",", from);
    if (comma < 0) comma = body.length;
    let start = from;
    while (body.charCodeAt(start) === 32) start++;
    list.push(flowPlain(spacesCut(body.slice(start, comma))));
    // The body starts one column after the `[`.
    if (where)
      record(where.positions, list, list.length - 1, {
        value: { line: where.line, col: where.col + start + 2 },
      });
    if (comma === body.length) return list;
    from = comma + 1;
  }
}

/** `{}` or `{ a: b, c: d }`: plain keys and scalars only, no trailing comma. */
function flowMapping(text: string, where: Where | undefined): Record<string, unknown> {
  const body = flowBody(text, "}");
  const map: Record<string, unknown> = {};
  let at = 0;
  while (body.charCodeAt(at) === 32) at++;
  if (at === body.length) return map;
  for (;;) {
    const colon = keyEnd(body, at);
    if (colon < 0) decline();
    const key = newKey(map, body.slice(at, colon));
    let comma = body.indexOf(",", colon);
    if (comma < 0) comma = body.length;
    let start = colon + 1;
    while (body.charCodeAt(start) === 32) start++;
    map[key] = flowPlain(spacesCut(body.slice(start, comma)));
    // The body starts one column after the `{`.
    if (where)
      record(where.positions, map, key, {
        key: { line: where.line, col: where.col + at + 2 },
        value: { line: where.line, col: where.col + start + 2 },
      });
    if (comma === body.length) return map;
    at = comma + 1;
    while (body.charCodeAt(at) === 32) at++;
  }
}
