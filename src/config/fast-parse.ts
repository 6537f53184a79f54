import jsYaml from "js-yaml";
import {
  coreBool,
  coreFloat,
  coreInt,
  isCoreBool,
  isCoreFloat,
  isCoreInt,
  isCoreNull,
} from "./core-scalars.js";
import { ALIAS_EXPANSION_LIMIT } from "./limits.js";
import type { PathSegment } from "./path.js";
import { parsePlainYaml, readPlainYamlPositions } from "./plain-yaml.js";
import type { LocateOptions, SourcePosition } from "./yaml-source.js";

/*
 * The accepted path. `yaml` keeps a position for every node, which is what
 * located messages need, and costs ~9x the time of js-yaml on a file that
 * has nothing to report (about 90 ms against 10 ms for 1,000 agents here).
 * So a config is read by a quicker parser first: plain-yaml.ts for the plain
 * block YAML configs are written in (~3x quicker than js-yaml), else
 * js-yaml, with the checks below. Both decide only that a text reads as
 * yaml reads it; where they cannot be sure, they decline, and the located
 * path (`yaml`, loaded only then) reads the file. Positions: the plain
 * tier's source ({@link PlainSource}) locates keys and scalars itself, as
 * yaml would; js-yaml's ({@link FastSource}) locates nothing. Whatever they
 * cannot locate (a collection, a missing entry) throws
 * {@link NeedsLocatedParse}, and the loader starts over on the located path,
 * so every message is the one that path gives. Where js-yaml and yaml could
 * disagree, the js-yaml tier declines:
 * - only the YAML 1.2 core schema's plain scalars are typed, with the
 *   patterns of the spec (yaml's default), so `1_000` or `0b1` stay strings
 *   on both sides; every explicit tag (`!!str`, `!foo`) declines;
 * - text that yaml could read differently or warn about declines after a
 *   scan (see DECLINE): directives, keys that are not plain scalars;
 * - js-yaml shares an aliased node instead of copying it, so its expansion is
 *   counted (memoized, linear) before the schema walks the tree, and a total
 *   over ALIAS_EXPANSION_LIMIT or a cycle declines;
 * - keys that may have been a number, a bool or null decline: their string
 *   forms differ between the parsers;
 * - a warning of js-yaml, an error, an empty document, or a second document
 *   decline.
 */

/** Thrown by a fast source's `locate()`: the config must be read again with positions. */
export class NeedsLocatedParse extends Error {
  override readonly name = "NeedsLocatedParse";
}

const coreTypes = [
  new jsYaml.Type("tag:yaml.org,2002:null", {
    kind: "scalar",
    resolve: isCoreNull,
    construct: () => null,
  }),
  new jsYaml.Type("tag:yaml.org,2002:bool", {
    kind: "scalar",
    resolve: isCoreBool,
    construct: coreBool,
  }),
  new jsYaml.Type("tag:yaml.org,2002:int", {
    kind: "scalar",
    resolve: isCoreInt,
    construct: coreInt,
  }),
  new jsYaml.Type("tag:yaml.org,2002:float", {
    kind: "scalar",
    resolve: isCoreFloat,
    construct: coreFloat,
  }),
  // `<<: *base` (GoDoxy's go-yaml reads it; the located path merges too).
  new jsYaml.Type("tag:yaml.org,2002:merge", {
    kind: "scalar",
    resolve: (text: string) => text === "<<",
  }),
];

/**
 * No explicit types at all: js-yaml then refuses every explicit tag as
 * unknown, and the located path (which knows tags and warns) takes over.
 */
const CORE_SCHEMA = new jsYaml.Schema({ implicit: coreTypes, explicit: [] });

/**
 * A pattern of DECLINE, and the characters one of which it needs to match:
 * a file without them (no anchor, no tab, no `?`) is not scanned with it.
 * Finding a character is far quicker than running a pattern that starts
 * with a class: those that could not match took 0.5 ms of each parse of
 * 1,000 agents.
 */
interface Decline {
  needs: string;
  pattern: RegExp;
}

/**
 * Text the located path may read differently or warn about, found by a scan
 * of the text. Over-matching (one of these inside a quoted string) only
 * costs the slower path.
 */
const DECLINE: readonly Decline[] = [
  // A directive: `%YAML 1.1` changes how yaml types scalars.
  { needs: "%", pattern: /^%/m },
  // Keys that are not plain scalars: js-yaml writes such a key as the string
  // form of its value (`[providers]` becomes `providers`). The explicit-key
  // indicator, a flow collection or an alias before a `:`, or a flow
  // collection or alias opening an entry of a flow collection (`{ [a] }` is
  // a key with no value; `[a, [b]]` merely looks like one).
  { needs: "?", pattern: /(?:^|[\s,[{])\?(?:[ \t]|$)/m },
  { needs: "]}", pattern: /[\]}][ \t]*:/ },
  { needs: "*", pattern: /\*[^\s,[\]{}]+[ \t]*:/ },
  { needs: "{,", pattern: /[{,]\s*[[{*]/ },
  // yaml warns about an anchor ending in `:` ("ambiguous").
  { needs: "&", pattern: /&[^\s,[\]{}]*:/ },
  // yaml warns about a flow collection's end at its parent's indentation.
  { needs: "]}", pattern: /^[ \t]*[\]}]/m },
  // An anchor or alias name ends at a flow indicator for js-yaml (as YAML
  // 1.2 says), not always for yaml: `&t{ a: 1 }` is an error there.
  { needs: "&*", pattern: /[&*][^\s,[\]{}]+[,[\]{}]/ },
  // A tab where indentation goes, even on a blank line: yaml refuses some
  // that js-yaml lets pass (after a key with no value).
  { needs: "\t", pattern: /^ *\t/m },
  // A `-` with nothing after it, then a more indented list: js-yaml puts
  // the entries after that list into it (`-\n  -\n- a` is [[null, a]] there,
  // [[null], a] in yaml).
  { needs: "-", pattern: /^ *-[ \t]*(?:#.*)?$/m },
  // A comment needs a space before its `#`; js-yaml takes `[]#` or `"q"#`.
  { needs: "#", pattern: /["'\]}]#/ },
];

function declines(text: string): boolean {
  for (const { needs, pattern } of DECLINE) {
    let present = false;
    for (const c of needs) if (text.includes(c)) present = true;
    if (present && pattern.test(text)) return true;
  }
  return false;
}

/**
 * A key string that js-yaml may have made from a scalar that is not a string
 * (null, a bool, a number): yaml writes some of them differently (`~` is
 * `"null"` in one and `""` in the other), so the located path decides.
 */
const NON_TEXT_KEY =
  /^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE|-?Infinity|NaN|[-+]?[0-9.][0-9a-fA-FoxeE.+-]*)?$/;

/** What a match of NON_TEXT_KEY can start with (besides being empty). */
const NON_TEXT_START = "~nNtTfFI+-.0123456789";

/**
 * @internal Off: every load takes the located path. For tests that compare
 * the two paths on the same input.
 */
export const fastPath = { enabled: true };

/**
 * The plain data of `text` when the fast parser can vouch for it, or
 * undefined when the located path must decide. Never throws.
 */
export function parseFast(text: string): unknown {
  return fastSource(text)?.data;
}

/**
 * {@link parseFast} as a source for the loader: from the plain tier one that
 * can also locate (so a warning about a TLS file does not cost a parse with
 * yaml), from js-yaml one that cannot. Undefined when the located path must
 * decide.
 */
export function fastSource(text: string): ConfigSource | undefined {
  if (!fastPath.enabled) return undefined;
  const plain = parsePlainYaml(text);
  if (plain !== undefined) return new PlainSource(text, plain);
  const data = parseWithJsYaml(text);
  return data === undefined ? undefined : new FastSource(data);
}

/**
 * The second tier: js-yaml, with the checks that keep it to what the located
 * path reads the same way. Undefined when the located path must decide.
 */
export function parseWithJsYaml(text: string): unknown {
  if (declines(text)) return undefined;
  let warned = false;
  /** An alias js-yaml may resolve otherwise than YAML says. */
  let recursive = false;
  // js-yaml lets an alias refer to a collection that is still being read (it
  // then shares or merges what was read so far); in YAML that alias is
  // recursive, and the located path refuses it. Only an anchored node can be
  // the target of an alias, so only those are remembered.
  const complete = new Set<object>();
  const anchors = new Set<string>();
  let data: unknown;
  try {
    data = jsYaml.load(text, {
      schema: CORE_SCHEMA,
      json: false,
      onWarning: () => {
        warned = true;
      },
      listener(event, state) {
        if (event !== "close") return;
        const { kind, result, anchor } = state as unknown as {
          kind: string | null;
          result: unknown;
          anchor: string | null;
        };
        // js-yaml binds a name when its node ends, yaml when its anchor is
        // read: with one name on a node and on a node inside it, an alias
        // after both would differ. Any name anchored twice declines.
        if (anchor !== null) {
          if (anchors.has(anchor)) recursive = true;
          anchors.add(anchor);
        }
        if (typeof result !== "object" || result === null) return;
        // An alias is the one node that ends with no kind of its own.
        if (kind === null) {
          if (!complete.has(result)) recursive = true;
        } else if (anchor !== null) {
          complete.add(result);
        }
      },
    });
  } catch {
    return undefined;
  }
  if (warned || recursive || data === null || data === undefined) return undefined;
  return expansionWithin(data, ALIAS_EXPANSION_LIMIT, anchors.size > 0) ? data : undefined;
}

/**
 * Whether the tree, with every shared node counted as often as it is
 * referenced (what a walk of it visits), has at most `limit` nodes, no cycle
 * and only text keys. Counted the way the located path counts: a node, plus
 * one per key, plus its values. Memoized by identity, so linear in the
 * number of distinct nodes however deep the sharing goes. Without anchors
 * (`shared` false) no node is shared, so there is nothing to remember: a
 * memo of every node of 10,000 agents cost more than the count itself.
 */
function expansionWithin(root: unknown, limit: number, shared: boolean): boolean {
  const sizes = new Map<object, number>();
  const open = new Set<object>();
  let failed = false;
  const sizeOf = (node: unknown): number => {
    if (node === null || typeof node !== "object") return 1;
    if (shared) {
      const known = sizes.get(node);
      if (known !== undefined) return known;
      if (open.has(node)) {
        failed = true;
        return Number.POSITIVE_INFINITY;
      }
      open.add(node);
    }
    let size = 1;
    if (Array.isArray(node)) {
      for (const item of node) {
        size += sizeOf(item);
        if (failed || size > limit) break;
      }
    } else {
      for (const key of Object.keys(node)) {
        if (
          (key.length === 0 || NON_TEXT_START.includes(key[0] as string)) &&
          NON_TEXT_KEY.test(key)
        ) {
          failed = true;
          break;
        }
        size += 1 + sizeOf((node as Record<string, unknown>)[key]);
        if (failed || size > limit) break;
      }
    }
    if (shared) {
      open.delete(node);
      sizes.set(node, size);
    }
    return size;
  };
  return sizeOf(root) <= limit && !failed;
}

/** What the loader validates: plain data, and where a path is written. */
export interface ConfigSource {
  readonly data: unknown;
  locate(
    path: readonly PathSegment[],
    part?: "key" | "value",
    options?: LocateOptions,
  ): SourcePosition;
}

/**
 * Data from {@link parseFast}, with no positions: the first `locate()` (any
 * issue or warning to report) throws {@link NeedsLocatedParse}, and the
 * loader starts over on the located path, which then words the message.
 */
export class FastSource implements ConfigSource {
  readonly data: unknown;

  constructor(data: unknown) {
    this.data = data;
  }

  locate(): SourcePosition {
    throw new NeedsLocatedParse("the config must be read again with positions");
  }
}

/**
 * Data from the plain tier. It locates what the located path would locate the
 * same way, where that is simple: a key, a scalar written out, a null written
 * as nothing (at its key). It reads the text again for that, keeping
 * positions: a few milliseconds for 1,000 agents, where yaml takes a hundred.
 * Anything else (a collection, a missing entry, the document itself) throws
 * {@link NeedsLocatedParse}. test/config/plain-locate.test.ts holds it to
 * yaml's positions.
 */
export class PlainSource implements ConfigSource {
  readonly data: unknown;
  readonly #text: string;
  #read: ReturnType<typeof readPlainYamlPositions> | null = null;

  constructor(text: string, data: unknown) {
    this.#text = text;
    this.data = data;
  }

  locate(path: readonly PathSegment[], part: "key" | "value" = "value"): SourcePosition {
    this.#read ??= readPlainYamlPositions(this.#text);
    const read = this.#read;
    const last = path[path.length - 1];
    if (read === undefined || last === undefined) throw notHere();
    let node: unknown = read.root;
    for (let i = 0; i < path.length - 1; i++) {
      node = entryOf(node, path[i] as PathSegment);
      if (typeof node !== "object" || node === null) throw notHere();
    }
    if (!hasEntry(node, last)) throw notHere();
    const entry = read.positions.get(node as object)?.get(last);
    if (entry === undefined) throw notHere();
    if (part === "key" && entry.key) return entry.key;
    if (entry.value) return entry.value;
    // A null written as nothing is located at its key, as the located path does.
    if (!entry.collection && entry.key) return entry.key;
    throw notHere();
  }
}

function notHere(): NeedsLocatedParse {
  return new NeedsLocatedParse("the config must be read again with positions");
}

function hasEntry(node: unknown, segment: PathSegment): boolean {
  if (Array.isArray(node)) return typeof segment === "number" && segment < node.length;
  return typeof node === "object" && node !== null && Object.hasOwn(node, segment);
}

function entryOf(node: unknown, segment: PathSegment): unknown {
  if (!hasEntry(node, segment)) return undefined;
  return (node as Record<string | number, unknown>)[segment];
}
