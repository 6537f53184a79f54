// The plain-YAML reader (the accepted path's first tier) against yaml, the
// located path's parser: whatever it vouches for, yaml must read the same,
// with no error and no warning.
import fc from "fast-check";
import jsYaml from "js-yaml";
import { describe, expect, it } from "vitest";
import { parseWithJsYaml } from "../../src/config/fast-parse.js";
import { parsePlainYaml } from "../../src/config/plain-yaml.js";
import { parseYaml } from "../../src/config/yaml-source.js";
import { configArb, sameData } from "./plain-yaml-arb.js";

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
