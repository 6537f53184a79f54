// Every way config.yml can be wrong, each with the exact place the error points at.
import { truncate } from "node:fs/promises";
import { relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, type ConfigErrorCode, formatIssue } from "../../src/config/errors.js";
import { loadConfig } from "../../src/config/load.js";
import {
  type ConfigDir,
  type ConfigPki,
  createConfigDir,
  createConfigPki,
  createTempRoot,
  TLS_FLOW,
  zipBundle,
} from "./helpers.js";

let pki: ConfigPki;
let temp: Awaited<ReturnType<typeof createTempRoot>>;
let counter = 0;

beforeAll(async () => {
  pki = await createConfigPki();
  temp = await createTempRoot();
});
afterAll(() => temp?.cleanup());

async function freshDir(): Promise<ConfigDir> {
  const dir = await createConfigDir(`${temp.root}/case-${++counter}`);
  await dir.writeTls(pki);
  return dir;
}

/** Expects `loadConfig` to reject with a ConfigError and returns it. */
async function rejection(configPath: string, options = {}): Promise<ConfigError> {
  const error = await loadConfig(configPath, options).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

function billionLaughs(): string {
  let text = `a: &a [${Array(9).fill('"lol"').join(", ")}]\n`;
  let previous = "a";
  for (const name of "bcdefghi") {
    text += `${name}: &${name} [${Array(9).fill(`*${previous}`).join(", ")}]\n`;
    previous = name;
  }
  return text;
}

interface BadInput {
  name: string;
  /** config.yml; `{certs}` and `{config}` stand for the folders. */
  yaml: string | Uint8Array;
  setup?: (dir: ConfigDir) => Promise<void>;
  code: ConfigErrorCode;
  /** `line:col` of the issue, or undefined when the file as a whole is at fault. */
  at: string | undefined;
  path?: string;
  /** Words the message must contain; `{config}`/`{certs}` are replaced by the folders. */
  words: string[];
}

const OBJECT_AGENT = `providers:
  agents:
    - addr: a.example:1
      tls:
        ca_file: tls/ca.pem
        cert_file: tls/cert.pem
        key_file: tls/key.pem
`;

const badInputs: BadInput[] = [
  {
    name: "unclosed quote",
    yaml: 'providers:\n  agents:\n    - "10.0.0.5:8890\n',
    code: "ERR_CONFIG_PARSE",
    at: "3:7",
    words: ['missing closing "', "starts here"],
  },
  {
    name: "bad indentation",
    yaml: "providers:\n  agents: []\n docker: {}\n",
    code: "ERR_CONFIG_PARSE",
    at: "3:1",
    words: ["same column"],
  },
  {
    name: "tab indentation",
    yaml: "providers:\n\tagents: []\n",
    code: "ERR_CONFIG_PARSE",
    at: "2:1",
    words: ["tabs are not allowed"],
  },
  {
    name: "duplicate key",
    yaml: "providers:\n  agents: []\n  agents: []\n",
    code: "ERR_CONFIG_PARSE",
    at: "3:3",
    path: "providers",
    words: ['duplicate key "agents"', "first at line 2"],
  },
  {
    name: "duplicate key inside an agent",
    yaml: `providers:\n  agents:\n    - addr: a.example:1\n      addr: b.example:1\n      tls: ${TLS_FLOW}\n`,
    code: "ERR_CONFIG_PARSE",
    at: "4:7",
    path: "providers.agents[0]",
    words: ['duplicate key "addr"', "first at line 3"],
  },
  {
    name: "agents is not a list",
    yaml: "providers:\n  agents: 10.0.0.5:8890\n",
    code: "ERR_CONFIG_INVALID",
    at: "2:11",
    path: "providers.agents",
    words: ["expected a list of agents", 'got the string "10.0.0.5:8890"'],
  },
  {
    name: "agents: with no value",
    yaml: "providers:\n  agents:\n",
    code: "ERR_CONFIG_INVALID",
    at: "2:3",
    path: "providers.agents",
    words: ["has no value", 'write "agents: []"'],
  },
  {
    name: "agents: with no value, followed by another key",
    yaml: "providers:\n  agents:\n  docker:\n    local: $DOCKER_HOST\n",
    code: "ERR_CONFIG_INVALID",
    at: "2:3",
    path: "providers.agents",
    words: ['write "agents: []"'],
  },
  {
    name: "agents: ~",
    yaml: "providers:\n  agents: ~\n",
    code: "ERR_CONFIG_INVALID",
    at: "2:11",
    path: "providers.agents",
    words: ['write "agents: []"'],
  },
  {
    name: "agent is a number",
    yaml: "providers:\n  agents:\n    - 8890\n",
    code: "ERR_CONFIG_INVALID",
    at: "3:7",
    path: "providers.agents[0]",
    words: ["expected an agent", "got the number 8890"],
  },
  {
    name: "agent is a list",
    yaml: "providers:\n  agents:\n    - [a.example:1, b.example:2]\n",
    code: "ERR_CONFIG_INVALID",
    at: "3:7",
    path: "providers.agents[0]",
    words: ["expected an agent", "got a list"],
  },
  {
    name: "missing addr",
    yaml: `providers:\n  agents:\n    - name: web\n      tls: ${TLS_FLOW}\n`,
    code: "ERR_CONFIG_INVALID",
    at: "3:7",
    path: "providers.agents[0]",
    words: ['missing required key "addr"'],
  },
  {
    name: "addr without a port",
    yaml: "providers:\n  agents:\n    - 10.0.0.5\n",
    code: "ERR_CONFIG_INVALID",
    at: "3:7",
    path: "providers.agents[0]",
    words: ['"10.0.0.5" is not host:port: missing port'],
  },
  {
    name: "port 0",
    yaml: `providers:\n  agents:\n    - addr: agent.example.com:0\n      tls: ${TLS_FLOW}\n`,
    code: "ERR_CONFIG_INVALID",
    at: "3:13",
    path: "providers.agents[0].addr",
    words: ["port 0 is out of range 1-65535"],
  },
  {
    name: "port 70000",
    yaml: "providers:\n  agents:\n    - 10.0.0.5:70000\n",
    code: "ERR_CONFIG_INVALID",
    at: "3:7",
    path: "providers.agents[0]",
    words: ["port 70000 is out of range 1-65535"],
  },
  {
    name: "IPv6 without brackets",
    yaml: `providers:\n  agents:\n    - addr: "::1:8890"\n      tls: ${TLS_FLOW}\n`,
    code: "ERR_CONFIG_INVALID",
    at: "3:13",
    path: "providers.agents[0].addr",
    words: ['"::1:8890" is not host:port', "needs brackets", "[::1]:8890"],
  },
  {
    name: "addr with a scheme",
    yaml: "providers:\n  agents:\n    - https://agent.example.com:443\n",
    code: "ERR_CONFIG_INVALID",
    at: "3:7",
    path: "providers.agents[0]",
    words: ["leave out the scheme"],
  },
  {
    name: "unknown key inside tls",
    yaml: OBJECT_AGENT.replace("ca_file", "ca_fle"),
    code: "ERR_CONFIG_INVALID",
    at: "5:9",
    path: "providers.agents[0].tls",
    words: ['unknown key "ca_fle" (expected ca_file, cert_file, key_file)'],
  },
  {
    name: "unknown key inside an agent",
    yaml: `providers:\n  agents:\n    - addr: a.example:1\n      nmae: web\n      tls: ${TLS_FLOW}\n`,
    code: "ERR_CONFIG_INVALID",
    at: "4:7",
    path: "providers.agents[0]",
    words: ['unknown key "nmae" (expected addr, name, tls)'],
  },
  {
    name: "object form without tls",
    yaml: "providers:\n  agents:\n    - addr: a.example:1\n",
    code: "ERR_CONFIG_INVALID",
    at: "3:7",
    path: "providers.agents[0]",
    words: ['missing required key "tls"', "ca_file, cert_file, key_file"],
  },
  {
    name: "tls is a string",
    yaml: "providers:\n  agents:\n    - addr: a.example:1\n      tls: tls/ca.pem\n",
    code: "ERR_CONFIG_INVALID",
    at: "4:12",
    path: "providers.agents[0].tls",
    words: ["expected a mapping with ca_file, cert_file, key_file", 'got the string "tls/ca.pem"'],
  },
  {
    name: "name is a number",
    yaml: `providers:\n  agents:\n    - addr: a.example:1\n      name: 123\n      tls: ${TLS_FLOW}\n`,
    code: "ERR_CONFIG_INVALID",
    at: "4:13",
    path: "providers.agents[0].name",
    words: ["expected a string, got the number 123"],
  },
  {
    name: "empty ca_file",
    yaml: OBJECT_AGENT.replace("ca_file: tls/ca.pem", 'ca_file: ""'),
    code: "ERR_CONFIG_INVALID",
    at: "5:18",
    path: "providers.agents[0].tls.ca_file",
    words: ["must not be empty"],
  },
  {
    name: "TLS file missing",
    yaml: OBJECT_AGENT.replace("tls/ca.pem", "tls/missing.pem"),
    code: "ERR_CONFIG_INVALID",
    at: "5:18",
    path: "providers.agents[0].tls.ca_file",
    words: ["cannot read {config}/tls/missing.pem: no such file"],
  },
  {
    // Tests run as root, where mode 000 does not stop a read; a directory does.
    name: "TLS file unreadable (a directory)",
    yaml: OBJECT_AGENT.replace("tls/ca.pem", "tls"),
    code: "ERR_CONFIG_INVALID",
    at: "5:18",
    path: "providers.agents[0].tls.ca_file",
    words: ["cannot read {config}/tls: is a directory"],
  },
  {
    name: "TLS file not PEM",
    yaml: OBJECT_AGENT.replace("tls/cert.pem", "tls/notes.txt"),
    setup: async (dir) => void (await dir.write("config/tls/notes.txt", "just some notes\n")),
    code: "ERR_CONFIG_INVALID",
    at: "6:20",
    path: "providers.agents[0].tls.cert_file",
    words: ['{config}/tls/notes.txt: not a PEM file (no "-----BEGIN" line)'],
  },
  {
    // Regression: with one file named twice, the problem was reported at key_file.
    name: "cert_file and key_file naming the same key-only file",
    yaml: OBJECT_AGENT.replace("tls/cert.pem", "tls/key.pem"),
    code: "ERR_CONFIG_INVALID",
    at: "6:20",
    path: "providers.agents[0].tls.cert_file",
    words: ["{config}/tls/key.pem: no PEM certificate found"],
  },
  {
    name: "key of another certificate",
    yaml: OBJECT_AGENT.replace("tls/key.pem", "tls/other-key.pem"),
    setup: async (dir) => void (await dir.write("config/tls/other-key.pem", pki.otherKey)),
    code: "ERR_CONFIG_INVALID",
    at: "7:19",
    path: "providers.agents[0].tls.key_file",
    words: [
      "{config}/tls/other-key.pem: private key does not match the certificate in {config}/tls/cert.pem",
    ],
  },
  {
    name: "key file holds a certificate",
    yaml: OBJECT_AGENT.replace("tls/key.pem", "tls/cert.pem"),
    code: "ERR_CONFIG_INVALID",
    at: "7:19",
    path: "providers.agents[0].tls.key_file",
    words: ["{config}/tls/cert.pem: no PEM private key found"],
  },
  {
    name: "encrypted key",
    yaml: OBJECT_AGENT.replace("tls/key.pem", "tls/encrypted.pem"),
    setup: async (dir) => void (await dir.write("config/tls/encrypted.pem", pki.encryptedKey)),
    code: "ERR_CONFIG_INVALID",
    at: "7:19",
    path: "providers.agents[0].tls.key_file",
    words: ["{config}/tls/encrypted.pem: the private key is encrypted"],
  },
  {
    name: "duplicate addr",
    yaml: `providers:\n  agents:\n    - addr: a.example:1\n      tls: ${TLS_FLOW}\n    - addr: a.example:1\n      tls: ${TLS_FLOW}\n`,
    code: "ERR_CONFIG_INVALID",
    at: "5:13",
    path: "providers.agents[1].addr",
    words: ['duplicate addr "a.example:1" (first at line 3)'],
  },
  {
    name: "duplicate name",
    yaml: `providers:\n  agents:\n    - addr: a.example:1\n      name: web\n      tls: ${TLS_FLOW}\n    - addr: b.example:1\n      name: web\n      tls: ${TLS_FLOW}\n`,
    code: "ERR_CONFIG_INVALID",
    at: "7:13",
    path: "providers.agents[1].name",
    words: ['duplicate name "web" (first at line 4)'],
  },
  {
    name: "name clashes with another agent's default name (its addr)",
    yaml: `providers:\n  agents:\n    - addr: a.example:1\n      tls: ${TLS_FLOW}\n    - addr: b.example:1\n      name: a.example:1\n      tls: ${TLS_FLOW}\n`,
    code: "ERR_CONFIG_INVALID",
    at: "6:13",
    path: "providers.agents[1].name",
    words: ['duplicate name "a.example:1" (first at line 3)'],
  },
  {
    name: "a 17 MiB file",
    yaml: "",
    setup: async (dir) => truncate(dir.configPath, 17 * 1024 * 1024),
    code: "ERR_CONFIG_PARSE",
    at: undefined,
    words: ["cannot read the file: too large (17.0 MiB; the limit is 16.0 MiB)"],
  },
  {
    name: "alias bomb at the top level",
    yaml: `${billionLaughs()}providers:\n  agents: []\n`,
    code: "ERR_CONFIG_PARSE",
    at: "7:8",
    words: ["aliases expand to more than 1000000 nodes", "alias bomb"],
  },
  {
    name: "alias bomb under an ignored key",
    yaml: `webui:\n  display_name: GoDoxy\n  extra:\n${billionLaughs()
      .split("\n")
      .filter(Boolean)
      .map((line) => `    ${line}`)
      .join("\n")}\nproviders:\n  agents: []\n`,
    code: "ERR_CONFIG_PARSE",
    at: "10:12",
    words: ["alias bomb"],
  },
  {
    name: "recursive alias",
    yaml: "x: &x [1, *x]\nproviders:\n  agents: []\n",
    code: "ERR_CONFIG_PARSE",
    at: "1:11",
    words: ["alias *x is recursive"],
  },
  {
    name: "alias without anchor",
    yaml: "x: *nowhere\nproviders:\n  agents: []\n",
    code: "ERR_CONFIG_PARSE",
    at: "1:4",
    words: ["alias *nowhere has no anchor &nowhere before it"],
  },
  {
    name: "empty file",
    yaml: "",
    code: "ERR_CONFIG_PARSE",
    at: undefined,
    words: ["the file is empty"],
  },
  {
    name: "only comments",
    yaml: "# providers:\n#   agents: []\n",
    code: "ERR_CONFIG_PARSE",
    at: undefined,
    words: ["the file is empty (it holds only comments)"],
  },
  {
    name: "two YAML documents",
    yaml: "providers:\n  agents: []\n---\nfoo: 1\n",
    code: "ERR_CONFIG_PARSE",
    at: "3:1",
    words: ["more than one YAML document"],
  },
  {
    name: "not UTF-8",
    yaml: Buffer.concat([
      Buffer.from("providers:\n  agents: []\n# caf"),
      Buffer.from([0xe9, 0x0a]),
    ]),
    code: "ERR_CONFIG_PARSE",
    at: "3:6",
    words: ["not valid UTF-8"],
  },
  {
    name: "top level is a list",
    yaml: "- providers\n- agents\n",
    code: "ERR_CONFIG_INVALID",
    at: "1:1",
    words: ["expected a mapping at the top level, got a list"],
  },
  {
    name: "providers is a list",
    yaml: "providers:\n  - agents: []\n",
    code: "ERR_CONFIG_INVALID",
    at: "2:3",
    path: "providers",
    words: ["expected a mapping, got a list"],
  },
  {
    name: "GoDoxy zip without key.pem",
    yaml: "providers:\n  agents:\n    - 10.0.0.5:8890\n",
    setup: async (dir) =>
      void (await dir.write(
        "certs/10.0.0.5:8890.zip",
        zipBundle({ "ca.pem": pki.ca, "cert.pem": pki.cert }),
      )),
    code: "ERR_CONFIG_INVALID",
    at: "3:7",
    path: "providers.agents[0]",
    words: ["{certs}/10.0.0.5:8890.zip: has no key.pem"],
  },
  {
    name: "GoDoxy zip that is not a zip",
    yaml: "providers:\n  agents:\n    - 10.0.0.5:8890\n",
    setup: async (dir) => void (await dir.write("certs/10.0.0.5:8890.zip", pki.cert)),
    code: "ERR_CONFIG_INVALID",
    at: "3:7",
    path: "providers.agents[0]",
    words: ["{certs}/10.0.0.5:8890.zip: not a zip file"],
  },
  {
    name: "GoDoxy zip missing",
    yaml: "providers:\n  agents:\n    - 10.0.0.5:8890\n",
    code: "ERR_CONFIG_INVALID",
    at: "3:7",
    path: "providers.agents[0]",
    words: ["cannot read {certs}/10.0.0.5:8890.zip: no such file"],
  },
  {
    name: "GoDoxy zip with a key for another certificate",
    yaml: "providers:\n  agents:\n    - 10.0.0.5:8890\n",
    setup: async (dir) =>
      void (await dir.write(
        "certs/10.0.0.5:8890.zip",
        zipBundle({ "ca.pem": pki.ca, "cert.pem": pki.cert, "key.pem": pki.otherKey }),
      )),
    code: "ERR_CONFIG_INVALID",
    at: "3:7",
    path: "providers.agents[0]",
    words: [
      "{certs}/10.0.0.5:8890.zip (key.pem): private key does not match the certificate in {certs}/10.0.0.5:8890.zip (cert.pem)",
    ],
  },
];

describe("bad config.yml is rejected with a located, one-line reason", () => {
  it("has a table of at least 30 bad inputs", () => {
    expect(badInputs.length).toBeGreaterThanOrEqual(30);
  });

  it.each(badInputs)("$name", async (input) => {
    const dir = await freshDir();
    await dir.write("config/config.yml", input.yaml, 0o644);
    await input.setup?.(dir);
    const fill = (text: string) =>
      text.replaceAll("{config}", dir.configDir).replaceAll("{certs}", dir.certsDir);

    const started = performance.now();
    const error = await rejection(dir.configPath);
    const elapsed = performance.now() - started;

    expect(error.code).toBe(input.code);
    const lines = error.message.split("\n");
    expect(lines).toHaveLength(error.issues.length);
    expect(error.message).not.toContain("    at ");
    expect(error.message).not.toContain("PRIVATE KEY");

    const where = input.at === undefined ? dir.configPath : `${dir.configPath}:${input.at}`;
    const prefix = input.path ? `${where}: ${input.path}: ` : `${where}: `;
    const matching = error.issues.map(formatIssue).filter((line) => line.startsWith(prefix));
    expect(matching, `issues were:\n${error.message}`).not.toHaveLength(0);
    const line = matching.find((m) => input.words.every((w) => m.includes(fill(w))));
    expect(
      line,
      `no issue at ${prefix} with ${input.words.join(" / ")}; got:\n${error.message}`,
    ).toBeDefined();
    expect(error.inputs[0]).toBe(dir.configPath);
    // A correctness guard for alias bombs (and a sanity bound for the rest), not a benchmark.
    expect(elapsed).toBeLessThan(1000);
  });
});

describe("collecting and locating", () => {
  it("reports every issue of the file, in file order, one per line", async () => {
    const dir = await freshDir();
    await dir.write(
      "config/config.yml",
      [
        "providers:",
        "  agents:",
        "    - 10.0.0.5", // 3: missing port
        "    - addr: a.example:1",
        "      tls:",
        "        ca_fle: tls/ca.pem", // 6: unknown key (and ca_file missing)
        "        cert_file: tls/cert.pem",
        "        key_file: tls/key.pem",
        "    - addr: b.example:1",
        `      tls: { ca_file: tls/nope.pem, cert_file: tls/cert.pem, key_file: tls/key.pem }`, // 10
        "    - addr: b.example:1", // 11: duplicate
        `      tls: ${TLS_FLOW}`,
        "",
      ].join("\n"),
    );
    const error = await rejection(dir.configPath);
    expect(error.code).toBe("ERR_CONFIG_INVALID");
    expect(error.issues.map((i) => `${i.line}:${i.col}`)).toEqual([
      "3:7",
      "6:9",
      "6:9",
      "10:23",
      "11:13",
    ]);
    expect(error.message.split("\n")).toEqual([
      `${dir.configPath}:3:7: providers.agents[0]: "10.0.0.5" is not host:port: missing port`,
      `${dir.configPath}:6:9: providers.agents[1].tls: unknown key "ca_fle" (expected ca_file, cert_file, key_file)`,
      `${dir.configPath}:6:9: providers.agents[1].tls: missing required key "ca_file"`,
      `${dir.configPath}:10:23: providers.agents[2].tls.ca_file: cannot read ${dir.configDir}/tls/nope.pem: no such file`,
      `${dir.configPath}:11:13: providers.agents[3].addr: duplicate addr "b.example:1" (first at line 9)`,
    ]);
    // The watcher needs every file the attempt tried, to notice tls/nope.pem appearing.
    expect(error.inputs).toContain(`${dir.configDir}/tls/nope.pem`);
  });

  it("lists the first 100 issues and counts the rest", async () => {
    const dir = await freshDir();
    const lines = ["providers:", "  agents:"];
    for (let i = 0; i < 150; i++) {
      lines.push(
        `    - addr: agent-${i}.example:8890`,
        "      tls: { ca_file: tls/gone.pem, cert_file: tls/cert.pem, key_file: tls/key.pem }",
      );
    }
    await dir.write("config/config.yml", `${lines.join("\n")}\n`);
    const error = await rejection(dir.configPath);
    expect(error.issues).toHaveLength(101);
    expect(error.issues[99]?.line).toBe(2 + 2 * 100);
    expect(error.issues[100]).toEqual({
      file: dir.configPath,
      message: "50 more issues not shown (150 in all)",
    });
  });

  it("README: the errors a user sees, for the file named as on the command line", async () => {
    const dir = await freshDir();
    await dir.write(
      "config/config.yml",
      [
        "providers:",
        "  agents:",
        "    - 10.0.0.5",
        "    - addr: agent.example.com:443",
        "      tls:",
        "        ca_fle: tls/ca.pem",
        "        cert_file: tls/cert.pem",
        "        key_file: tls/key.pem",
        "    - addr: agent.example.com:443",
        "      tls:",
        "        ca_file: /nonexistent/ca.pem",
        "        cert_file: tls/cert.pem",
        "        key_file: tls/key.pem",
        "",
      ].join("\n"),
    );
    const cwd = process.cwd();
    process.chdir(dir.root);
    try {
      const error = await rejection("config/config.yml");
      expect(error.message).toBe(
        [
          'config/config.yml:3:7: providers.agents[0]: "10.0.0.5" is not host:port: missing port',
          'config/config.yml:6:9: providers.agents[1].tls: unknown key "ca_fle" (expected ca_file, cert_file, key_file)',
          'config/config.yml:6:9: providers.agents[1].tls: missing required key "ca_file"',
          'config/config.yml:9:13: providers.agents[2].addr: duplicate addr "agent.example.com:443" (first at line 4)',
          "config/config.yml:11:18: providers.agents[2].tls.ca_file: cannot read /nonexistent/ca.pem: no such file",
        ].join("\n"),
      );
      await dir.write("config/config.yml", "providers:\n  agents:\n");
      expect((await rejection("config/config.yml")).message).toBe(
        'config/config.yml:2:3: providers.agents: "agents:" has no value; write "agents: []" for no agents',
      );
    } finally {
      process.chdir(cwd);
    }
  });

  it("names the file as the caller passed it", async () => {
    const dir = await freshDir();
    await dir.write("config/config.yml", "providers:\n  agents:\n    - nope\n");
    const asPassed = `./${relative(process.cwd(), dir.configPath)}`;
    const error = await rejection(asPassed);
    expect(error.message).toBe(
      `${asPassed}:3:7: providers.agents[0]: "nope" is not host:port: missing port`,
    );
  });

  it("a missing config file is a ConfigError naming it, with the path in inputs", async () => {
    const dir = await freshDir();
    const error = await rejection(dir.configPath);
    expect(error.code).toBe("ERR_CONFIG_PARSE");
    expect(error.message).toBe(`${dir.configPath}: cannot read the file: no such file`);
    expect(error.inputs).toEqual([dir.configPath]);
  });

  it("never quotes a private key pasted where a path belongs", async () => {
    const dir = await freshDir();
    const pasted = pki.key
      .trim()
      .split("\n")
      .map((line) => `          ${line}`)
      .join("\n");
    await dir.write(
      "config/config.yml",
      `providers:\n  agents:\n    - addr: a.example:1\n      tls:\n        ca_file: tls/ca.pem\n        cert_file: tls/cert.pem\n        key_file: |\n${pasted}\n`,
    );
    const error = await rejection(dir.configPath);
    expect(error.message).toBe(
      `${dir.configPath}:7:19: providers.agents[0].tls.key_file: looks like a private key; it belongs in a file named by key_file`,
    );
    const body = pki.key.split("\n")[1] ?? "";
    expect(body.length).toBeGreaterThan(10);
    expect(error.message).not.toContain(body.slice(0, 10));
  });

  it("pathological nesting is rejected as a ConfigError, not a crash", async () => {
    const dir = await freshDir();
    const depth = 10_000;
    await dir.write(
      "config/config.yml",
      `x: ${"[".repeat(depth)}${"]".repeat(depth)}\nproviders:\n  agents: []\n`,
    );
    const error = await rejection(dir.configPath);
    expect(error.message.split("\n")).toHaveLength(error.issues.length);
    expect(error.message).not.toContain("    at ");
    expect(error.message).toMatch(/config\.yml:1:\d+: the nesting is too deep to parse$/);
  });
});
