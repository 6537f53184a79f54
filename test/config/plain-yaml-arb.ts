// Configs in the styles plain YAML allows, then mutated: for the tests that
// hold the plain reader (plain-yaml.test.ts) and its positions
// (plain-locate.test.ts) to yaml.
import fc from "fast-check";
import { mutate, mutationArb } from "./mutations.js";

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

const SIGNIFICANT = [
  ..." \t\r\n:-#'\"&*![]{}?|>%@`,\\",
  "\u00a0",
  "\u3000",
  "\u2028",
  "\ufeff",
  "---",
  "...",
];

const mutationsArb = mutationArb({ significant: SIGNIFICANT });

export const configArb = fc
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
    mutations: fc.array(mutationsArb, { maxLength: 2 }),
    trailing: fc.constantFrom("", "\n", "   \n", "# end\n", "  # end"),
  })
  .map(({ extra, style, agents, mutations, trailing }) => {
    const lines = [...renderPairs(extra, 0, style), "providers:", "  agents:", ...agents.flat()];
    return mutate(`${lines.join("\n")}\n${trailing}`, mutations);
  });

/** Deep equality, NaN equal to NaN and -0 apart from 0, as Object.is says. */
export function sameData(a: unknown, b: unknown): boolean {
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
