// The common-shape check against zod: it may only ever say "valid" where zod
// (and the pasted-key check) would, and the loader must give the same agents
// and the same messages with it as without it.
import { generateKeyPairSync } from "node:crypto";
import { writeFile } from "node:fs/promises";
import fc from "fast-check";
import jsYaml from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/errors.js";
import { loadConfig } from "../../src/config/load.js";
import { valueAt } from "../../src/config/path.js";
import { ConfigSchema } from "../../src/config/schema.js";
import { findPrivateKeys } from "../../src/config/secrets.js";
import { commonAgentList, commonShape } from "../../src/config/validate-fast.js";
import { type ConfigDir, type ConfigPki, configFixture, loadWith } from "./helpers.js";

const ed = generateKeyPairSync("ed25519").privateKey;
/** The base64 body of a PKCS#8 Ed25519 key: 64 characters, short enough for a name. */
const KEY_BODY = ed.export({ format: "der", type: "pkcs8" }).toString("base64");
const KEY_PEM = ed.export({ format: "pem", type: "pkcs8" }).toString();

const GOOD_ADDRS = [
  "a.example:1",
  "10.0.0.1:8890",
  "[fd00::1]:9",
  "b.example:443",
  "c_d.example:2",
];
const BAD_ADDRS = [
  "bad addr",
  "x:0",
  "",
  "a:99999",
  "::1:80",
  "[fd00::1]",
  "a.example",
  "http://a.example:1",
  `${"h".repeat(300)}:1`,
  "1.2.3.999:1",
  KEY_BODY,
  KEY_PEM,
];
const GOOD_NAMES = ["n1", "n1", "agent one", "é", "x".repeat(253), "👩‍💻"];
const BAD_NAMES = ["", "   ", "a\u202Eb", "a\u0000b", "a\nb", "x".repeat(254), KEY_BODY, "\uD800"];
const GOOD_PATHS = ["tls/ca.pem", "tls/cert.pem", "tls/key.pem", "/abs/ca.pem", "p".repeat(4096)];
const BAD_PATHS = [
  "",
  "-----BEGIN CERTIFICATE-----",
  "a\nb",
  "a\u0000b",
  "p".repeat(4097),
  KEY_PEM,
  KEY_BODY,
];
const ODD_VALUES: unknown[] = [null, 7, true, [], {}, ["tls/ca.pem"]];

const sharedTls = { ca_file: "tls/ca.pem", cert_file: "tls/cert.pem", key_file: "tls/key.pem" };
const TLS_KEYS = ["ca_file", "cert_file", "key_file"] as const;

/** An entry zod accepts: GoDoxy's string, or a mapping sharing or owning its tls block. */
const validEntryArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(...GOOD_ADDRS) },
  {
    weight: 5,
    arbitrary: fc.record(
      {
        addr: fc.constantFrom(...GOOD_ADDRS),
        name: fc.constantFrom(...GOOD_NAMES),
        tls: fc.oneof(
          fc.constant(sharedTls),
          fc.record({
            ca_file: fc.constantFrom(...GOOD_PATHS),
            cert_file: fc.constantFrom(...GOOD_PATHS),
            key_file: fc.constantFrom(...GOOD_PATHS),
          }),
        ),
      },
      { requiredKeys: ["addr", "tls"] },
    ),
  },
);

/** One thing wrong with an otherwise valid entry. */
type Miss =
  | { op: "set"; key: "addr" | "name" | "tls"; value: unknown }
  | { op: "setTls"; key: (typeof TLS_KEYS)[number]; value: unknown }
  | { op: "delete"; key: "addr" | "tls" }
  | { op: "deleteTls"; key: (typeof TLS_KEYS)[number] }
  | { op: "extra"; key: string }
  | { op: "extraTls"; key: string }
  | { op: "replace"; value: unknown };

const missArb: fc.Arbitrary<Miss> = fc.oneof(
  fc.record({
    op: fc.constant("set" as const),
    key: fc.constant("addr" as const),
    value: fc.constantFrom(...BAD_ADDRS, ...ODD_VALUES),
  }),
  fc.record({
    op: fc.constant("set" as const),
    key: fc.constant("name" as const),
    value: fc.constantFrom(...BAD_NAMES, ...ODD_VALUES),
  }),
  fc.record({
    op: fc.constant("set" as const),
    key: fc.constant("tls" as const),
    value: fc.constantFrom(...ODD_VALUES),
  }),
  fc.record({
    op: fc.constant("setTls" as const),
    key: fc.constantFrom(...TLS_KEYS),
    value: fc.constantFrom(...BAD_PATHS, ...ODD_VALUES),
  }),
  fc.record({
    op: fc.constant("delete" as const),
    key: fc.constantFrom("addr" as const, "tls" as const),
  }),
  fc.record({ op: fc.constant("deleteTls" as const), key: fc.constantFrom(...TLS_KEYS) }),
  fc.record({ op: fc.constant("extra" as const), key: fc.constantFrom("Addr", "port", KEY_BODY) }),
  fc.record({
    op: fc.constant("extraTls" as const),
    key: fc.constantFrom("ca", "ca_fle", KEY_BODY),
  }),
  fc.record({
    op: fc.constant("replace" as const),
    value: fc.constantFrom(...BAD_ADDRS, ...ODD_VALUES),
  }),
);

function miss(entry: unknown, m: Miss): unknown {
  if (m.op === "replace") return m.value;
  const object =
    typeof entry === "string" ? { addr: entry, tls: sharedTls } : { ...(entry as object) };
  const tls = { ...((object as { tls?: object }).tls ?? sharedTls) };
  const out = object as Record<string, unknown>;
  switch (m.op) {
    case "set":
      out[m.key] = m.value;
      return out;
    case "delete":
      delete out[m.key];
      return out;
    case "extra":
      out[m.key] = "x";
      return out;
    case "setTls":
      (tls as Record<string, unknown>)[m.key] = m.value;
      break;
    case "deleteTls":
      delete (tls as Record<string, unknown>)[m.key];
      break;
    case "extraTls":
      (tls as Record<string, unknown>)[m.key] = "tls/x.pem";
      break;
  }
  out.tls = tls;
  return out;
}

/** Valid entries, and in most lists one near-miss among them. */
const listArb = fc
  .record({
    valid: fc.array(validEntryArb, { maxLength: 6 }),
    miss: fc.option(fc.record({ m: missArb, at: fc.nat(), base: validEntryArb }), {
      freq: 3,
      nil: undefined,
    }),
  })
  .map(({ valid, miss: near }) => {
    if (near === undefined) return valid;
    const list = [...valid];
    list.splice(near.at % (list.length + 1), 0, miss(near.base, near.m));
    return list;
  });

/** A document around the list: usually the common one, sometimes odd at one level. */
const documentArb = fc
  .record({
    agents: listArb,
    form: fc.constantFrom(
      "plain",
      "plain",
      "plain",
      "plain",
      "extra keys",
      "key elsewhere",
      "no agents",
      "null agents",
      "null providers",
      "list providers",
      "list root",
      "hole",
    ),
  })
  .map(({ agents, form }): unknown => {
    switch (form) {
      case "extra keys":
        return { log: { level: "info" }, providers: { docker: {}, agents } };
      case "key elsewhere":
        return { ignored: { deep: [KEY_PEM] }, [KEY_BODY]: 1, providers: { agents } };
      case "no agents":
        return { providers: {} };
      case "null agents":
        return { providers: { agents: null } };
      case "null providers":
        return { providers: null };
      case "list providers":
        return { providers: [agents] };
      case "list root":
        return [agents];
      case "hole": {
        const holed = [...agents];
        holed.length += 1;
        return { providers: { agents: holed } };
      }
      default:
        return { providers: { agents } };
    }
  });

/** Fixed seed, so a failure reproduces. */
const SEED = 20_261_202;

describe("the common-shape check agrees with zod", () => {
  it("says valid only where ConfigSchema passes, with the same entries, and leaves no key unfound", () => {
    let vouched = 0;
    let refused = 0;
    fc.assert(
      fc.property(documentArb, (data) => {
        const common = commonAgentList(data);
        const zod = ConfigSchema.safeParse(data);
        if (common === undefined) {
          if (!zod.success) refused++;
          return;
        }
        vouched++;
        expect(zod.success).toBe(true);
        expect(common).toEqual(
          valueAt(zod.success ? zod.data : undefined, ["providers", "agents"]),
        );
        // What lets the pasted-key walk skip the list.
        expect(findPrivateKeys(common)).toEqual([]);
        expect(findPrivateKeys(data, common)).toEqual(findPrivateKeys(data));
      }),
      { seed: SEED, numRuns: 3000 },
    );
    // Neither side may be out of the generator's reach.
    expect(vouched).toBeGreaterThan(150);
    expect(refused).toBeGreaterThan(150);
  });

  it("refuses a name holding a private key, which the schema itself lets through", () => {
    const data = {
      providers: { agents: [{ addr: "a.example:1", name: KEY_BODY, tls: sharedTls }] },
    };
    expect(ConfigSchema.safeParse(data).success).toBe(true);
    expect(commonAgentList(data)).toBeUndefined();
    expect(findPrivateKeys(data)).toHaveLength(1);
  });

  it("refuses an entry whose tls is missing even after a shared tls block", () => {
    const data = { providers: { agents: [{ addr: "a.example:1" }] } };
    expect(commonAgentList(data)).toBeUndefined();
    const after = {
      providers: {
        agents: [{ addr: "a.example:1", tls: sharedTls }, "b.example:2", { addr: "c.example:3" }],
      },
    };
    expect(commonAgentList(after)).toBeUndefined();
  });
});

describe("the loader gives the same result with and without the common-shape check", () => {
  let pki: ConfigPki;
  let dir: ConfigDir;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ pki, dir, cleanup } = await configFixture());
    for (const file of GOOD_PATHS.filter((p) => p.startsWith("tls/"))) {
      await dir.write(
        `config/${file}`,
        file.includes("ca") ? pki.ca : file.includes("cert") ? pki.cert : pki.key,
      );
    }
  });
  afterAll(async () => {
    commonShape.enabled = true;
    await cleanup();
  });

  const outcome = (enabled: boolean) => loadWith(commonShape, enabled, dir.configPath);

  it("same agents, warnings and messages, on real files", async () => {
    let accepted = 0;
    let rejected = 0;
    await fc.assert(
      fc.asyncProperty(documentArb, async (data) => {
        // js-yaml writes a shared block once, with an anchor, and aliases it.
        await writeFile(dir.configPath, jsYaml.dump(data, { lineWidth: -1 }));
        const fast = await outcome(true);
        const zod = await outcome(false);
        expect(fast).toEqual(zod);
        if ("accepted" in fast) accepted++;
        else rejected++;
      }),
      { seed: SEED, numRuns: 150 },
    );
    expect(accepted).toBeGreaterThan(10);
    expect(rejected).toBeGreaterThan(10);
  });
});

describe("agents alternating between two sets of TLS files", () => {
  let pki: ConfigPki;
  let dir: ConfigDir;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ pki, dir, cleanup } = await configFixture());
    await dir.write("config/tls2/ca.pem", pki.ca);
    await dir.write("config/tls2/cert.pem", pki.soon.cert);
    await dir.write("config/tls2/key.pem", pki.soon.key);
  });
  afterAll(() => cleanup());

  // Consecutive agents naming the same files share one resolved source; the
  // alternation below is where a wrongly shared one would show.
  const config = (second: string) =>
    [
      "providers:",
      "  agents:",
      "    - addr: a.example:1",
      "      tls: { ca_file: tls/ca.pem, cert_file: tls/cert.pem, key_file: tls/key.pem }",
      "    - addr: b.example:1",
      `      tls: { ca_file: ${second}/ca.pem, cert_file: ${second}/cert.pem, key_file: ${second}/key.pem }`,
      "    - addr: c.example:1",
      "      tls: { ca_file: tls/ca.pem, cert_file: tls/cert.pem, key_file: tls/key.pem }",
      "    - addr: d.example:1",
      `      tls: { ca_file: ${second}/ca.pem, cert_file: ${second}/cert.pem, key_file: ${second}/key.pem }`,
      "",
    ].join("\n");

  it("gives each agent the material of the files it names", async () => {
    await writeFile(dir.configPath, config("tls2"));
    const { agents, warnings } = await loadConfig(dir.configPath);
    expect(agents.map((a) => [a.addr, a.tls.cert])).toEqual([
      ["a.example:1", pki.cert],
      ["b.example:1", pki.soon.cert],
      ["c.example:1", pki.cert],
      ["d.example:1", pki.soon.cert],
    ]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /config\.yml:6:\d+: providers\.agents\[1\]\.tls\.cert_file: .*tls2\/cert\.pem \(agent b\.example:1 and 1 more\): client certificate expires in/,
    );
  });

  it("reports a missing file at every entry naming it, and only there", async () => {
    await writeFile(dir.configPath, config("tls3"));
    const error = await loadConfig(dir.configPath).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ConfigError);
    const lines = (error as ConfigError).issues.map((issue) => `${issue.line} ${issue.path}`);
    expect(lines).toEqual([
      "6 providers.agents[1].tls.ca_file",
      "6 providers.agents[1].tls.cert_file",
      "6 providers.agents[1].tls.key_file",
      "10 providers.agents[3].tls.ca_file",
      "10 providers.agents[3].tls.cert_file",
      "10 providers.agents[3].tls.key_file",
    ]);
  });
});
