// The accepted path (js-yaml) against the located path (yaml): generated and
// mutated configs, real files, the real loader.
import { writeFile } from "node:fs/promises";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/errors.js";
import { fastPath, parseFast, sameData } from "../../src/config/fast-parse.js";
import { loadConfig } from "../../src/config/load.js";
import { parseYaml } from "../../src/config/yaml-source.js";
import {
  type ConfigDir,
  type ConfigPki,
  createConfigDir,
  createConfigPki,
  createTempRoot,
} from "./helpers.js";

const ADDRS = ["a.example:1", "10.0.0.1:8890", "[fd00::1]:9", "b.example:443", "bad addr", "x:0"];
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

type Mutation =
  | { op: "delete"; at: number }
  | { op: "duplicate"; at: number }
  | { op: "char"; at: number; char: string }
  | { op: "insert"; at: number; char: string }
  | { op: "scalar"; at: number; scalar: string }
  | { op: "indent"; at: number; by: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("duplicate" as const), at: fc.nat() }),
  fc.record({
    op: fc.constant("char" as const),
    at: fc.nat(),
    char: fc.constantFrom(...SIGNIFICANT),
  }),
  fc.record({
    op: fc.constant("insert" as const),
    at: fc.nat(),
    char: fc.constantFrom(...SIGNIFICANT),
  }),
  fc.record({
    op: fc.constant("scalar" as const),
    at: fc.nat(),
    scalar: fc.constantFrom(...SCALARS),
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
    switch (m.op) {
      case "delete":
        lines.splice(line, 1);
        out = lines.join("\n");
        break;
      case "duplicate":
        lines.splice(line, 0, lines[line] ?? "");
        out = lines.join("\n");
        break;
      case "indent": {
        const current = lines[line] ?? "";
        lines[line] = m.by > 0 ? " ".repeat(m.by) + current : current.slice(-m.by);
        out = lines.join("\n");
        break;
      }
      case "char": {
        const at = m.at % Math.max(1, out.length);
        out = out.slice(0, at) + m.char + out.slice(at + 1);
        break;
      }
      case "insert": {
        const at = m.at % (out.length + 1);
        out = out.slice(0, at) + m.char + out.slice(at);
        break;
      }
      case "scalar": {
        // Replace a value: the text after the first ": " of a line.
        const current = lines[line] ?? "";
        const colon = current.indexOf(": ");
        lines[line] =
          colon < 0 ? `${current} ${m.scalar}` : `${current.slice(0, colon + 2)}${m.scalar}`;
        out = lines.join("\n");
        break;
      }
    }
  }
  return out;
}

const configArb = fc
  .record({
    extra: extraArb,
    agents: fc.array(agentArb, { maxLength: 5 }),
    emptyList: fc.boolean(),
    mutations: fc.array(mutationArb, { maxLength: 3 }),
  })
  .map(({ extra, agents, emptyList, mutations }) =>
    mutate(render(extra, agents, emptyList), mutations),
  );

/** Fixed seeds, so a failure reproduces; counts keep the file to a few seconds. */
const SEED = 20_260_613;

describe("the accepted path agrees with the located path", () => {
  it("whatever js-yaml vouches for, yaml reads the same, with no error and no warning", () => {
    fc.assert(
      fc.property(configArb, (text) => {
        const fast = parseFast(text);
        if (fast === undefined) return;
        const located = parseYaml(text);
        expect(located.ok ? located.warnings : located).toEqual([]);
        if (!located.ok) return;
        expect(sameData(fast, located.source.data)).toBe(true);
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });

  describe("through the loader, on real files", () => {
    let pki: ConfigPki;
    let dir: ConfigDir;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      pki = await createConfigPki();
      const root = await createTempRoot();
      cleanup = root.cleanup;
      dir = await createConfigDir(root.root);
      await dir.writeTls(pki);
    });
    afterAll(async () => {
      fastPath.enabled = true;
      await cleanup();
    });

    const outcome = async (enabled: boolean) => {
      fastPath.enabled = enabled;
      try {
        return await loadConfig(dir.configPath).then(
          (result) => ({ accepted: result }),
          (err: unknown) => {
            if (!(err instanceof ConfigError)) throw err;
            return { rejected: { code: err.code, message: err.message } };
          },
        );
      } finally {
        fastPath.enabled = true;
      }
    };

    it("accepts exactly what the located path accepts, with the same agents and messages", async () => {
      let accepted = 0;
      await fc.assert(
        fc.asyncProperty(configArb, async (text) => {
          await writeFile(dir.configPath, text);
          const both = await outcome(true);
          const located = await outcome(false);
          expect(both).toEqual(located);
          if ("accepted" in both) accepted++;
        }),
        { seed: SEED, numRuns: 250 },
      );
      // The generator must reach the accepted path, or the property says little.
      expect(accepted).toBeGreaterThan(25);
    });
  });
});
