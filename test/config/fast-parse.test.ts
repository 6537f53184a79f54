// The accepted path (js-yaml) against the located path (yaml): generated and
// mutated configs, real files, the real loader.
import { writeFile } from "node:fs/promises";
import fc from "fast-check";
import jsYaml from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/errors.js";
import { fastPath, parseFast, parseWithJsYaml } from "../../src/config/fast-parse.js";
import { loadConfig } from "../../src/config/load.js";
import { parseYaml } from "../../src/config/yaml-source.js";
import { type ConfigDir, configFixture, loadWith } from "./helpers.js";
import { mutate, mutationArb } from "./mutations.js";

const ADDRS = [
  "a.example:1",
  "10.0.0.1:8890",
  "[fd00::1]:9",
  "b.example:443",
  "c.example:2",
  "d.example:3",
  "e.example:4",
  "bad addr",
  "x:0",
];
const NAMES = ["n1", "n1", "yes", "1e3", "~", "'q'", '"dq"', "0x1F", "1_000", ".inf", "-x", "é"];
const SCALARS = [
  "~",
  "null",
  "0x1F",
  "0o17",
  "1_000",
  ".inf",
  ".NaN",
  "yes",
  "1e3",
  "-",
  '""',
  "''",
];
const SIGNIFICANT = [..." \t\n:-#'\"&*![]{}?|>%@`,<=", "\\"];

const TLS_FLOW = "{ ca_file: tls/ca.pem, cert_file: tls/cert.pem, key_file: tls/key.pem }";

const agentArb = fc.record({
  addr: fc.constantFrom(...ADDRS),
  name: fc.option(fc.constantFrom(...NAMES), { nil: undefined }),
  form: fc.constantFrom("string", "flow", "block", "anchor", "alias", "merge", "inline"),
});

const extraArb = fc.constantFrom(
  "",
  "entrypoint:\n  port: 80\n",
  "homepage: { items: [1, 2, ~] }\n",
  "base: &base\n  tls: &shared\n    ca_file: tls/ca.pem\n    cert_file: tls/cert.pem\n    key_file: tls/key.pem\n",
  "# a comment\n",
  "routes:\n  - |\n    block text\n  - >\n    folded\n",
);

type AgentSpec = { addr: string; name: string | undefined; form: string };

/** A config as an operator writes one, in the styles YAML allows. */
function render(extra: string, agents: readonly AgentSpec[], emptyList: boolean): string {
  const hasBase = extra.includes("&base");
  const lines: string[] = [extra.trimEnd(), "providers:"];
  if (agents.length === 0) lines.push(emptyList ? "  agents: []" : "  agents:");
  else lines.push("  agents:");
  let anchored = false;
  for (const { addr, name, form } of agents) {
    if (form === "string") {
      lines.push(`    - ${addr}`);
      continue;
    }
    if (form === "inline") {
      const n = name === undefined ? "" : `, name: ${name}`;
      lines.push(`    - { addr: ${addr}${n}, tls: ${TLS_FLOW} }`);
      continue;
    }
    lines.push(`    - addr: ${addr}`);
    if (name !== undefined) lines.push(`      name: ${name}`);
    if (form === "merge" && hasBase) {
      lines.push("      <<: *base");
    } else if (form === "alias" && (anchored || hasBase)) {
      lines.push(`      tls: *${anchored ? "t" : "shared"}`);
    } else if (form === "anchor" && !anchored) {
      anchored = true;
      lines.push(`      tls: &t ${TLS_FLOW}`);
    } else if (form === "block") {
      lines.push(
        "      tls:",
        "        ca_file: tls/ca.pem",
        "        cert_file: tls/cert.pem",
        "        key_file: tls/key.pem",
      );
    } else {
      lines.push(`      tls: ${TLS_FLOW}`);
    }
  }
  return `${lines.filter((l) => l !== "").join("\n")}\n`;
}

const mutationsArb = mutationArb({
  significant: SIGNIFICANT,
  replaceChars: true,
  scalars: SCALARS,
});

const configArb = fc
  .record({
    extra: extraArb,
    agents: fc.array(agentArb, { maxLength: 5 }),
    emptyList: fc.boolean(),
    mutations: fc.array(mutationsArb, { maxLength: 3 }),
  })
  .map(({ extra, agents, emptyList, mutations }) =>
    mutate(render(extra, agents, emptyList), mutations),
  );

/** Deep equality of two parsed trees (NaN equals NaN; shared nodes compared once). */
function sameData(a: unknown, b: unknown, seen = new Map<object, unknown>()): boolean {
  if (Object.is(a, b)) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (seen.get(a) === b) return true;
  seen.set(a, b);
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  if (keysA.length !== Object.keys(b).length) return false;
  return keysA.every(
    (key) =>
      Object.hasOwn(b, key) &&
      sameData((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], seen),
  );
}

/** Fixed seeds, so a failure reproduces; counts keep the file to a few seconds. */
const SEED = 20_260_613;

describe("the accepted path agrees with the located path", () => {
  it("whatever js-yaml vouches for, yaml reads the same, with no error and no warning", () => {
    fc.assert(
      fc.property(configArb, (text) => {
        // The js-yaml tier on its own: the plain tier takes most of these
        // files first (test/config/plain-yaml.test.ts holds it to yaml).
        const fast = parseWithJsYaml(text);
        if (fast === undefined) return;
        const located = parseYaml(text);
        expect(located.ok ? located.warnings : located).toEqual([]);
        if (!located.ok) return;
        expect(sameData(fast, located.source.data)).toBe(true);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  describe("through the loader, on real files", () => {
    let dir: ConfigDir;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      ({ dir, cleanup } = await configFixture());
    });
    afterAll(async () => {
      fastPath.enabled = true;
      await cleanup();
    });

    const outcome = (enabled: boolean) => loadWith(fastPath, enabled, dir.configPath);

    it("accepts exactly what the located path accepts, with the same agents and messages", async () => {
      let accepted = 0;
      await fc.assert(
        fc.asyncProperty(configArb, async (text) => {
          await writeFile(dir.configPath, text);
          const both = await outcome(true);
          const located = await outcome(false);
          expect(both).toEqual(located);
          if ("accepted" in both && parseFast(text) !== undefined) accepted++;
        }),
        { seed: SEED, numRuns: 200 },
      );
      // The generator must reach the fast path's acceptances, or the property says little.
      expect(accepted).toBeGreaterThan(15);
    });
  });
});

const bomb = (() => {
  const lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]'];
  for (let level = 1; level < 9; level++) {
    const prev = String.fromCharCode(96 + level);
    const name = String.fromCharCode(97 + level);
    lines.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(", ")}]`);
  }
  return `${lines.join("\n")}\nproviders:\n  agents: []\n`;
})();

const AGENT =
  "    - addr: a.example:1\n      tls: { ca_file: tls/ca.pem, cert_file: tls/cert.pem, key_file: tls/key.pem }\n";

/**
 * Every difference between js-yaml and yaml the property test found (or
 * that is known), each with what the loader does about it: the fast path
 * declines, and the located path gives its verdict and its message.
 */
const DIFFERENCES: readonly {
  name: string;
  text: string;
  fast: "declines" | "accepts";
  /** The located message of a rejection, or the agents' addrs of an acceptance. */
  expected: RegExp | string[];
}[] = [
  {
    name: "a list as a key is read by js-yaml as the text of its item",
    text: "? [providers]\n: { agents: [a.example:1] }\n",
    fast: "declines",
    expected: /config\.yml:1:3: a key must be a single value, not a list or a mapping/,
  },
  {
    name: "a list opening an entry of a flow mapping is a key",
    text: "x: { [providers] }\nproviders:\n  agents: []\n",
    fast: "declines",
    expected: /config\.yml:1:6: a key must be a single value/,
  },
  {
    name: "an alias of a list used as a key",
    text: "a: &x [providers]\n*x : { agents: [] }\n",
    fast: "declines",
    expected: /config\.yml:2:1: a key must be a single value/,
  },
  {
    name: "keys 1 and '1' are one key once read",
    text: "x:\n  1: a\n  '1': b\nproviders:\n  agents: []\n",
    fast: "declines",
    expected: /config\.yml:3:3: duplicate key "1" \(first at line 2, written another way\)/,
  },
  {
    name: "keys ~ and '' are one key once read",
    text: "x:\n  ~: a\n  '': b\nproviders:\n  agents: []\n",
    fast: "declines",
    expected: /config\.yml:3:3: duplicate key "" \(first at line 2, written another way\)/,
  },
  {
    name: "a key that reads as a number is left to the located path, which loads it",
    text: `ports:\n  "80": web\nproviders:\n  agents:\n${AGENT}`,
    fast: "declines",
    expected: ["a.example:1"],
  },
  {
    name: "an explicit tag is left to the located path",
    text: `x: !!str 1\nproviders:\n  agents:\n${AGENT}`,
    fast: "declines",
    expected: ["a.example:1"],
  },
  {
    name: "an unknown tag is a located warning, never a silent pass",
    text: `x: !custom 1\nproviders:\n  agents:\n${AGENT}`,
    fast: "declines",
    expected: ["a.example:1"],
  },
  {
    name: "a %YAML 1.1 directive changes how yaml reads yes",
    text: "%YAML 1.1\n---\nproviders:\n  agents:\n    - addr: a.example:1\n      name: yes\n      tls: { ca_file: tls/ca.pem, cert_file: tls/cert.pem, key_file: tls/key.pem }\n",
    fast: "declines",
    expected: /config\.yml:6:13: providers\.agents\[0\]\.name: /,
  },
  {
    name: "an anchor ending in a colon is a yaml warning",
    text: `x: &a: 1\nproviders:\n  agents:\n${AGENT}`,
    fast: "declines",
    expected: ["a.example:1"],
  },
  {
    name: "a flow list closed at its parent's indentation is a yaml warning",
    text: `x: [\n  1\n]\nproviders:\n  agents:\n${AGENT}`,
    fast: "declines",
    expected: ["a.example:1"],
  },
  {
    name: "a comment with no space before it is taken by js-yaml",
    text: "providers:\n  agents: []#\n",
    fast: "declines",
    expected: /config\.yml:2:\d+: /,
  },
  {
    name: "an anchor name running into a flow indicator",
    text: "x: &t{ a: 1 }\nproviders:\n  agents: []\n",
    fast: "declines",
    expected: /config\.yml:\d+:\d+: /,
  },
  {
    name: "a tab on the last line after a key with no value",
    text: "providers:\n  agents:\n\t",
    fast: "declines",
    expected: /config\.yml:3:1: tabs are not allowed as indentation; use spaces/,
  },
  {
    name: "an alias merged into the node it names is recursive",
    text: "b: &b\n  x: 1\n  l:\n    - <<: *b\nproviders:\n  agents: []\n",
    fast: "declines",
    expected: /config\.yml:4:11: alias \*b is recursive/,
  },
  {
    name: "an anchor named again inside its own node",
    text: `b: &b\n  c: &b\n    x: 1\nd: *b\nproviders:\n  agents:\n${AGENT}`,
    fast: "declines",
    expected: ["a.example:1"],
  },
  {
    name: "an alias bomb is counted before the schema walks the tree",
    text: bomb,
    fast: "declines",
    expected: /config\.yml:\d+:\d+: aliases expand to more than 1000000 nodes/,
  },
  {
    name: "a duplicate key deep inside an ignored section",
    text: `x:\n  y:\n    - { z: 1, z: 2 }\nproviders:\n  agents:\n${AGENT}`,
    fast: "declines",
    expected: /config\.yml:3:15: x\.y\[0\]: duplicate key "z" \(first at line 3\)/,
  },
  {
    name: "two documents",
    text: `providers:\n  agents:\n${AGENT}---\nproviders: {}\n`,
    fast: "declines",
    expected: /config\.yml:5:1: the file holds more than one YAML document/,
  },
  {
    name: "merge keys stay on the fast path",
    text: "base: &base\n  tls: { ca_file: tls/ca.pem, cert_file: tls/cert.pem, key_file: tls/key.pem }\nproviders:\n  agents:\n    - addr: a.example:1\n      <<: *base\n    - addr: b.example:443\n      <<: *base\n",
    fast: "accepts",
    expected: ["a.example:1", "b.example:443"],
  },
  {
    name: "a shared tls block by alias stays on the fast path",
    text: "providers:\n  agents:\n    - addr: a.example:1\n      tls: &t { ca_file: tls/ca.pem, cert_file: tls/cert.pem, key_file: tls/key.pem }\n    - addr: b.example:443\n      tls: *t\n",
    fast: "accepts",
    expected: ["a.example:1", "b.example:443"],
  },
];

it("js-yaml puts the entries after a list under a bare - into that list: its tier declines, the plain tier reads it as yaml does", () => {
  const text = "x:\n -\n  -\n - a.example:1\nproviders:\n  agents: []\n";
  expect(jsYaml.load(text)).toEqual({ x: [[null, "a.example:1"]], providers: { agents: [] } });
  expect(parseWithJsYaml(text)).toBeUndefined();
  const located = parseYaml(text);
  const yamlData = located.ok ? located.source.data : located;
  expect(yamlData).toEqual({ x: [[null], "a.example:1"], providers: { agents: [] } });
  expect(parseFast(text)).toEqual(yamlData);
});

describe("each difference between the parsers, pinned", () => {
  let dir: ConfigDir;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ dir, cleanup } = await configFixture());
  });
  afterAll(async () => {
    fastPath.enabled = true;
    await cleanup();
  });

  const load = async (enabled: boolean) => {
    fastPath.enabled = enabled;
    try {
      return await loadConfig(dir.configPath).then(
        (result) => ({ accepted: result }),
        (err: unknown) => ({ rejected: err as ConfigError }),
      );
    } finally {
      fastPath.enabled = true;
    }
  };

  it.each(DIFFERENCES)("$name", async ({ text, fast, expected }) => {
    expect(parseFast(text) === undefined ? "declines" : "accepts").toBe(fast);
    await writeFile(dir.configPath, text);
    const both = await load(true);
    expect(both).toEqual(await load(false));
    if (expected instanceof RegExp) {
      expect("rejected" in both && both.rejected).toBeInstanceOf(ConfigError);
      if ("rejected" in both) expect(both.rejected.message).toMatch(expected);
    } else {
      expect("accepted" in both && both.accepted.agents.map((a) => a.addr)).toEqual(expected);
    }
  });
});
