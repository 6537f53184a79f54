// The plain-YAML reader (the accepted path's first tier) against yaml, the
// located path's parser: whatever it vouches for, yaml must read the same,
// with no error and no warning.
import fc from "fast-check";
import jsYaml from "js-yaml";
import { describe, expect, it } from "vitest";
import { parseWithJsYaml } from "../../src/config/fast-parse.js";
import { parsePlainYaml } from "../../src/config/plain-yaml.js";
import { parseYaml } from "../../src/config/yaml-source.js";

/** Scalars an operator writes, typed or not, quoted or not. */
const COMMON_SCALAR = fc.constantFrom(
  "a.example:1",
  "10.0.0.1:8890",
  "tls/ca.pem",
  "/etc/agentpool/key.pem",
  "web",
  "two words",
  "a#b",
  "a, b",
  "x]",
  "ü-agent",
  "80",
  "0x1F",
  "0o17",
  "1_000",
  "1e3",
  "+5",
  ".5",
  ".inf",
  "-.inf",
  ".NaN",
  "~",
  "null",
  "Null",
  "true",
  "FALSE",
  "yes",
  "off",
  "",
  "'single'",
  "'it''s'",
  "''",
  '"double"',
  '"a #b: c"',
  '""',
  '"back\\\\slash"',
  "[]",
  "{}",
  "[a, b]",
  "[1, ~, true]",
  "{ a: 1, b: x }",
  "{ ca_file: tls/ca.pem, cert_file: tls/cert.pem, key_file: tls/key.pem }",
);

/** Scalars this reader declines, or that only look like scalars. */
const ODD_SCALAR = fc.constantFrom(
  "&anchor x",
  "*alias",
  "!tag x",
  "|",
  ">",
  "-x",
  "@x",
  "`x",
  "%x",
  "a: b",
  "a:",
  "{ a: }",
  "{ a: 1, }",
  "[a, [b]]",
  "{a:1}",
  "x # note",
  "'q'#",
);

const SCALAR = fc.oneof(
  { arbitrary: COMMON_SCALAR, weight: 6 },
  { arbitrary: ODD_SCALAR, weight: 1 },
);

const COMMON_KEY = fc.constantFrom(
  "providers",
  "agents",
  "addr",
  "name",
  "tls",
  "ca_file",
  "x",
  "entry-point",
  "a.b",
  "a/b",
  "_hidden",
  "constructor",
);

/** Keys this reader declines. */
const ODD_KEY = fc.constantFrom("null", "True", "__proto__", "1", "'q'", "a b", "<<");

const KEY = fc.oneof({ arbitrary: COMMON_KEY, weight: 8 }, { arbitrary: ODD_KEY, weight: 1 });

type Node =
  | { kind: "scalar"; value: string }
  | { kind: "map"; pairs: [string, Node][] }
  | {
      kind: "seq";
      items: Node[];
    };

const nodeArb: fc.Arbitrary<Node> = fc.letrec<{ node: Node }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    SCALAR.map((value): Node => ({ kind: "scalar", value })),
    fc
      // Unique keys: duplicated lines come from the mutations.
      .uniqueArray(fc.tuple(KEY, tie("node")), { maxLength: 4, selector: ([key]) => key })
      .map((pairs): Node => ({ kind: "map", pairs })),
    fc.array(tie("node"), { maxLength: 4 }).map((items): Node => ({ kind: "seq", items })),
  ),
})).node;

/** How a nested block is laid out: its extra indentation, and a list at its key's column. */
const styleArb = fc.record({
  step: fc.constantFrom(1, 2, 4),
  listAtKeyColumn: fc.boolean(),
  comments: fc.boolean(),
});
type Style = { step: number; listAtKeyColumn: boolean; comments: boolean };

/** Block YAML for a mapping's pairs at `indent`. */
function renderPairs(pairs: readonly [string, Node][], indent: number, style: Style): string[] {
  const pad = " ".repeat(indent);
  const lines: string[] = [];
  for (const [key, value] of pairs) {
    if (style.comments) lines.push(`${" ".repeat(indent + 1)}# about ${key}`);
    if (value.kind === "scalar") {
      lines.push(value.value === "" ? `${pad}${key}:` : `${pad}${key}: ${value.value}`);
    } else if (value.kind === "map") {
      lines.push(`${pad}${key}:`, ...renderPairs(value.pairs, indent + style.step, style));
    } else {
      const at = style.listAtKeyColumn ? indent : indent + style.step;
      lines.push(`${pad}${key}:`, ...renderItems(value.items, at, style));
    }
  }
  return lines;
}

/** Block YAML for a sequence's items, their `-` at `indent`. */
function renderItems(items: readonly Node[], indent: number, style: Style): string[] {
  const pad = " ".repeat(indent);
  const lines: string[] = [];
  for (const item of items) {
    if (item.kind === "scalar") {
      lines.push(item.value === "" ? `${pad}-` : `${pad}- ${item.value}`);
    } else if (item.kind === "map" && item.pairs.length > 0) {
      // The compact form: the first key on the dash's line.
      const [first, ...rest] = renderPairs(item.pairs, indent + 2, style).filter(
        (line) => !line.trimStart().startsWith("#"),
      );
      lines.push(`${pad}- ${(first as string).trimStart()}`, ...rest);
    } else if (item.kind === "map") {
      lines.push(`${pad}- {}`);
    } else {
      lines.push(`${pad}-`, ...renderItems(item.items, indent + style.step, style));
    }
  }
  return lines;
}

/** Agent entries, each as the lines it is written in. */
const AGENT_ENTRIES: readonly (readonly string[])[] = [
  [
    "    - addr: a.example:1",
    "      name: one",
    "      tls: { ca_file: tls/ca.pem, cert_file: tls/cert.pem, key_file: tls/key.pem }",
  ],
  ["    - b.example:443"],
  [
    "    - addr: c.example:2",
    "      tls:",
    "        ca_file: tls/ca.pem",
    "        cert_file: tls/cert.pem",
    "        key_file: tls/key.pem",
  ],
  ["    -", "      addr: d.example:3", "      tls: { ca_file: a, cert_file: b, key_file: c }"],
  ["    - { addr: e.example:4, name: 'e #4', tls: {} }"],
];

type Mutation =
  | { op: "delete"; at: number }
  | { op: "duplicate"; at: number }
  | { op: "insert"; at: number; text: string }
  | { op: "indent"; at: number; by: number };

const SIGNIFICANT = [
  ..." \t\r\n:-#'\"&*![]{}?|>%@`,\\",
  "\u00a0",
  "\u3000",
  "\u2028",
  "\ufeff",
  "---",
  "...",
];

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("duplicate" as const), at: fc.nat() }),
  fc.record({
    op: fc.constant("insert" as const),
    at: fc.nat(),
    text: fc.constantFrom(...SIGNIFICANT),
  }),
  fc.record({
    op: fc.constant("indent" as const),
    at: fc.nat(),
    by: fc.integer({ min: -2, max: 2 }),
  }),
);

function mutate(text: string, mutations: readonly Mutation[]): string {
  let out = text;
  for (const m of mutations) {
    const lines = out.split("\n");
    const line = m.at % Math.max(1, lines.length);
    if (m.op === "insert") {
      const at = m.at % (out.length + 1);
      out = out.slice(0, at) + m.text + out.slice(at);
      continue;
    }
    if (m.op === "delete") lines.splice(line, 1);
    else if (m.op === "duplicate") lines.splice(line, 0, lines[line] ?? "");
    else {
      const current = lines[line] ?? "";
      lines[line] = m.by > 0 ? " ".repeat(m.by) + current : current.slice(-m.by);
    }
    out = lines.join("\n");
  }
  return out;
}

const configArb = fc
  .record({
    extra: fc.uniqueArray(
      fc.tuple(
        KEY.filter((key) => key !== "providers"),
        nodeArb,
      ),
      { maxLength: 3, selector: ([key]) => key },
    ),
    style: styleArb,
    agents: fc.array(fc.constantFrom(...AGENT_ENTRIES), { maxLength: 4 }),
    mutations: fc.array(mutationArb, { maxLength: 2 }),
    trailing: fc.constantFrom("", "\n", "   \n", "# end\n", "  # end"),
  })
  .map(({ extra, style, agents, mutations, trailing }) => {
    const lines = [...renderPairs(extra, 0, style), "providers:", "  agents:", ...agents.flat()];
    return mutate(`${lines.join("\n")}\n${trailing}`, mutations);
  });

/** Deep equality, NaN equal to NaN and -0 apart from 0, as Object.is says. */
function sameData(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length || keysA.some((key, i) => key !== keysB[i])) return false;
  return keysA.every((key) =>
    sameData((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]),
  );
}

const SEED = 20_261_202;

describe("the plain reader agrees with yaml", () => {
  it("whatever it vouches for, yaml reads the same, with no error and no warning", () => {
    let accepted = 0;
    let declined = 0;
    fc.assert(
      fc.property(configArb, (text) => {
        const plain = parsePlainYaml(text);
        if (plain === undefined) {
          declined++;
          return;
        }
        accepted++;
        const located = parseYaml(text);
        expect(located.ok ? located.warnings : located).toEqual([]);
        if (!located.ok) return;
        expect(sameData(plain, located.source.data)).toBe(true);
        // The second tier, which read such files before, agrees too.
        const second = parseWithJsYaml(text);
        if (second !== undefined) expect(sameData(plain, second)).toBe(true);
      }),
      { seed: SEED, numRuns: 5000 },
    );
    // The generator must reach both verdicts often, or the property says little.
    expect(accepted).toBeGreaterThan(800);
    expect(declined).toBeGreaterThan(1000);
  });

  it("reads the bench's config shape the way js-yaml does", () => {
    const lines = ["# 300 agents", "providers:", "  agents:"];
    for (let i = 0; i < 300; i++)
      lines.push(
        `    - addr: 10.0.${i >> 8}.${i & 255}:8890`,
        `      name: agent-${i}`,
        "      tls: { ca_file: tls/ca.pem, cert_file: tls/cert.pem, key_file: tls/key.pem }",
      );
    const text = `${lines.join("\n")}\n`;
    const plain = parsePlainYaml(text);
    expect(plain).toBeDefined();
    expect(sameData(plain, jsYaml.load(text))).toBe(true);
  });
});

describe("what it declines, the next tier reads", () => {
  it.each([
    ["an anchor", "a: &x 1\nb: *x\n"],
    ["a tag", "a: !!str 1\n"],
    ["a block scalar", "a: |\n  text\n"],
    ["a scalar over two lines", "a: one\n  two\n"],
    ["a quoted scalar over two lines", 'a: "one\n  two"\n'],
    ["a duplicate key", "a: 1\na: 2\n"],
    ["a duplicate key in a flow mapping", "a: { b: 1, b: 2 }\n"],
    ["a key yaml reads as null", "null: 1\n"],
    ["a key yaml reads as a bool", "x:\n  True: 1\n"],
    ["a __proto__ key", "__proto__: { a: 1 }\n"],
    ["a quoted key", "'a': 1\n"],
    ["a number as a key", "80: web\n"],
    ["a merge key", "b: {}\na:\n  <<: {}\n"],
    ["a tab", "a:\n\tb: 1\n"],
    ["a carriage return", "a: 1\r\n"],
    ["a byte order mark", "\ufeffa: 1\n"],
    ["a control character", "a: b\u0007\n"],
    ["a lone surrogate", "a: \ud800\n"],
    ["a document marker", "---\na: 1\n"],
    ["a document end", "a: 1\n...\n"],
    ["a directive", "%YAML 1.2\n---\na: 1\n"],
    ["a list at the top", "- a\n"],
    ["a scalar at the top", "just text\n"],
    ["an indented top level", "  a: 1\n"],
    ["only comments", "# nothing\n"],
    ["a mapping on a value's line", "a: b: c\n"],
    ["an escape in double quotes", 'a: "\\n"\n'],
    ["a comment with no space before it", "a: 'x'#c\n"],
    ["a nested flow collection", "a: [b, [c]]\n"],
    ["a trailing comma", "a: [b, ]\n"],
    ["a compact nested list", "a:\n  - - b\n"],
    ["indentation between two levels", "a:\n    b: 1\n  c: 2\n"],
    ["a key with no space after its colon", "a:b\n"],
    [
      "nesting deeper than 64 levels",
      `${Array.from({ length: 70 }, (_, i) => `${" ".repeat(i)}k:`).join("\n")}\n`,
    ],
  ])("%s", (_name, text) => {
    expect(parsePlainYaml(text)).toBeUndefined();
  });
});

describe("Unicode's other spaces belong to the scalar, as in yaml", () => {
  // String's trim() cuts U+00A0, U+3000 and the like; YAML separates with spaces and tabs only.
  it.each([
    "a: \u00a01\n",
    "a: \u00a0\n",
    "a: \u00a0# c\n",
    "a: \u00a0\n  b: 1\n",
    "a: \u00a0'x'\n",
    "a: \u00a0[x]\n",
    "a: x\u00a0 # c\n",
    "a: 1\u00a0 # c\n",
    "a: 'x' \u00a0# c\n",
    "a: [\u00a0]\n",
    "a: [1\u00a0]\n",
    "a: { b: \u00a01 }\n",
    "a: { b: 1\u3000 }\n",
    "a:\n  - b: \u20001\n",
    "a: [1:.\u3000]\n",
  ])("%j", (text) => {
    const plain = parsePlainYaml(text);
    if (plain === undefined) return;
    const located = parseYaml(text);
    expect(located.ok && located.warnings).toEqual([]);
    expect(located.ok && sameData(plain, located.source.data)).toBe(true);
  });
});

describe("what it reads", () => {
  it.each<[string, string, unknown]>([
    [
      "GoDoxy's string form",
      "providers:\n  agents:\n    - a.example:8890\n",
      { providers: { agents: ["a.example:8890"] } },
    ],
    ["a list at its key's column", "a:\n- x\n- y\nb: 1\n", { a: ["x", "y"], b: 1 }],
    [
      "typed scalars as the core schema types them",
      "a: 0x1F\nb: 1_000\nc: ~\nd: yes\ne: .inf\nf: 'true'\ng:\n",
      { a: 31, b: "1_000", c: null, d: "yes", e: Number.POSITIVE_INFINITY, f: "true", g: null },
    ],
    [
      "quotes, comments and blank lines",
      "# head\na: 'it''s' # note\n\n  # indented comment\nb: \"x #y\"\nc: a#b\n",
      { a: "it's", b: "x #y", c: "a#b" },
    ],
    [
      "a compact mapping in a list, with a nested block",
      "l:\n  - k: 1\n    m:\n      n: [a, b]\n  -\n  - {}\n",
      { l: [{ k: 1, m: { n: ["a", "b"] } }, null, {}] },
    ],
  ])("%s", (_name, text, expected) => {
    const plain = parsePlainYaml(text);
    expect(plain).toEqual(expected);
    const located = parseYaml(text);
    expect(located.ok && located.warnings).toEqual([]);
    expect(located.ok && located.source.data).toEqual(expected);
  });
});
