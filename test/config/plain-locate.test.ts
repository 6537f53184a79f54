// The plain tier's positions against yaml's: whatever PlainSource locates,
// YamlSource locates at the same line and column. And a config that loads
// with a warning gets the same warnings whichever path reads it.
import { chmod, writeFile } from "node:fs/promises";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  fastPath,
  fastSource,
  NeedsLocatedParse,
  PlainSource,
} from "../../src/config/fast-parse.js";
import type { PathSegment } from "../../src/config/path.js";
import { parseYaml } from "../../src/config/yaml-source.js";
import { type ConfigDir, type ConfigPki, configFixture, loadWith, TLS_FLOW } from "./helpers.js";
import { configArb } from "./plain-yaml-arb.js";

/** Every path to an entry of a collection in `data`. */
function pathsOf(data: unknown, prefix: PathSegment[] = []): PathSegment[][] {
  if (typeof data !== "object" || data === null) return [];
  const out: PathSegment[][] = [];
  const entries: [PathSegment, unknown][] = Array.isArray(data)
    ? data.map((value, i) => [i, value])
    : Object.entries(data);
  for (const [segment, value] of entries) {
    const path = [...prefix, segment];
    out.push(path, ...pathsOf(value, path));
  }
  return out;
}

const SEED = 20_261_203;

describe("the plain tier's positions", () => {
  it("are yaml's, for every key and value it locates", () => {
    let located = 0;
    let declined = 0;
    fc.assert(
      fc.property(configArb, (text) => {
        const source = fastSource(text);
        if (!(source instanceof PlainSource)) return;
        const yamlRead = parseYaml(text);
        if (!yamlRead.ok) throw new Error("the plain reader accepted what yaml refuses");
        for (const path of pathsOf(source.data)) {
          for (const part of ["key", "value"] as const) {
            let at: { line: number; col: number } | undefined;
            try {
              at = source.locate(path, part);
            } catch (err) {
              if (!(err instanceof NeedsLocatedParse)) throw err;
              declined++;
              continue;
            }
            located++;
            expect({ path, part, at }).toEqual({
              path,
              part,
              at: yamlRead.source.locate(path, part),
            });
          }
        }
      }),
      { seed: SEED, numRuns: 3000 },
    );
    // Both outcomes, often: or the property says little.
    expect(located).toBeGreaterThan(3000);
    expect(declined).toBeGreaterThan(300);
  });

  it.each<[string, string, PathSegment[], "key" | "value", { line: number; col: number }]>([
    [
      "a value in a flow mapping",
      `providers:\n  agents:\n    - addr: a.example:1\n      tls: ${TLS_FLOW}\n`,
      ["providers", "agents", 0, "tls", "cert_file"],
      "value",
      { line: 4, col: 46 },
    ],
    [
      "a key in a compact mapping",
      "providers:\n  agents:\n    - addr: a.example:1\n",
      ["providers", "agents", 0, "addr"],
      "key",
      { line: 3, col: 7 },
    ],
    [
      "a null written as nothing, at its key",
      "# head\n\nproviders:\n  agents:\n",
      ["providers", "agents"],
      "value",
      { line: 4, col: 3 },
    ],
    ["an item of a flow list", "a: [x,  y]\n", ["a", 1], "value", { line: 1, col: 9 }],
  ])("%s", (_name, text, path, part, expected) => {
    const source = fastSource(text);
    expect(source).toBeInstanceOf(PlainSource);
    expect(source?.locate(path, part)).toEqual(expected);
    const yamlRead = parseYaml(text);
    expect(yamlRead.ok && yamlRead.source.locate(path, part)).toEqual(expected);
  });

  it("leaves a collection, a null list item and the document itself to the located path", () => {
    const source = fastSource("a:\n  b: 1\nl:\n  -\n") as PlainSource;
    expect(() => source.locate(["a"])).toThrow(NeedsLocatedParse);
    expect(() => source.locate(["l", 0])).toThrow(NeedsLocatedParse);
    expect(() => source.locate([])).toThrow(NeedsLocatedParse);
    expect(() => source.locate(["missing"])).toThrow(NeedsLocatedParse);
  });
});

describe("a config with warnings, read by the plain tier", () => {
  let pki: ConfigPki;
  let dir: ConfigDir;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ pki, dir, cleanup } = await configFixture({ writeTls: false }));
    await dir.write("config/tls/ca.pem", pki.ca, 0o644);
    await dir.write("config/tls/soon.pem", pki.soon.cert, 0o644);
    // Readable by everyone: the key-mode warning.
    await dir.write("config/tls/soon-key.pem", pki.soon.key, 0o644);
    await chmod(`${dir.configDir}/tls/soon-key.pem`, 0o644);
  });
  afterAll(async () => {
    fastPath.enabled = true;
    await cleanup();
  });

  it("gets the warnings the located path gives, word for word", async () => {
    const lines = ["providers:", "  agents:"];
    for (let i = 0; i < 5; i++)
      lines.push(
        `    - addr: a${i}.example:1`,
        "      tls:",
        "        ca_file: tls/ca.pem",
        "        cert_file: tls/soon.pem",
        "        key_file: tls/soon-key.pem",
      );
    const text = `${lines.join("\n")}\n`;
    expect(fastSource(text)).toBeInstanceOf(PlainSource);
    await writeFile(dir.configPath, text);
    const plain = await loadWith(fastPath, true, dir.configPath);
    const located = await loadWith(fastPath, false, dir.configPath);
    const warnings = "accepted" in plain ? plain.accepted.warnings : [];
    expect(warnings.length).toBeGreaterThanOrEqual(2);
    expect(warnings.join("\n")).toMatch(/config\.yml:6:20: .*expires in 10 days/);
    expect(plain).toEqual(located);
  });
});
