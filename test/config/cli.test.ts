// `agentpool check` and `agentpool schema`, run as real child processes of the built CLI.
import { execFile, execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { chmod, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv } from "ajv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  type ConfigDir,
  type ConfigPki,
  createConfigDir,
  createConfigPki,
  createTempRoot,
  TLS_FLOW,
  zipBundle,
} from "./helpers.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
/** A GoDoxy-shaped config.yml of our own (no agents list). */
const GODOXY_EXAMPLE = join(REPO, "test/fixtures/godoxy-config.yml");
const CLI = join(REPO, "dist/daemon/cli.js");

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile())
      newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** `npm test` builds first; a direct `vitest run` builds only when dist is missing or stale. */
function ensureBuilt(): void {
  const built = [
    CLI,
    join(REPO, "dist/daemon/commands/check.js"),
    join(REPO, "dist/config/load.js"),
  ];
  const stale =
    built.some((file) => !existsSync(file)) ||
    Math.min(...built.map((file) => statSync(file).mtimeMs)) < newestMtime(join(REPO, "src"));
  if (stale) execFileSync("npm", ["run", "build"], { cwd: REPO, stdio: "ignore" });
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function agentpool(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: REPO, env: { ...process.env, AGENTPOOL_CONFIG: "", ...env } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

let pki: ConfigPki;
let temp: Awaited<ReturnType<typeof createTempRoot>>;
let counter = 0;

async function validDir(): Promise<ConfigDir> {
  const dir = await createConfigDir(`${temp.root}/cli-${++counter}`);
  await dir.writeTls(pki);
  await dir.write("certs/10.0.0.5:8890.zip", goodBundle());
  await dir.write(
    "config/config.yml",
    `providers:\n  agents:\n    - addr: agent.example.com:443\n      name: remote-agent\n      tls: ${TLS_FLOW}\n    - 10.0.0.5:8890\n`,
  );
  return dir;
}

function goodBundle(): Uint8Array {
  return zipBundle({ "ca.pem": pki.ca, "cert.pem": pki.cert, "key.pem": pki.key });
}

// Node needs a fraction of a second to start the CLI, so every run is
// started at once here and each test below checks one of them.
let valid: ConfigDir;
let elsewhere: ConfigDir;
let warned: ConfigDir;
let invalid: ConfigDir;
let nullAgents: ConfigDir;
let runs: Record<
  | "valid"
  | "byEnv"
  | "warned"
  | "invalid"
  | "json"
  | "jsonInvalid"
  | "missing"
  | "badFlag"
  | "committed"
  | "schema"
  | "schemaExtra",
  Run
>;

beforeAll(async () => {
  ensureBuilt();
  pki = await createConfigPki();
  temp = await createTempRoot();

  valid = await validDir();
  elsewhere = await validDir();
  await elsewhere.write("other/10.0.0.5:8890.zip", goodBundle());
  await rm(join(elsewhere.certsDir, "10.0.0.5:8890.zip"));
  warned = await validDir();
  await chmod(join(warned.configDir, "tls/key.pem"), 0o644);
  invalid = await validDir();
  await invalid.write(
    "config/config.yml",
    "providers:\n  agents:\n    - addr: 10.0.0.5\n      tls: { ca_fle: tls/ca.pem, cert_file: tls/cert.pem, key_file: tls/key.pem }\n",
  );
  nullAgents = await validDir();
  await nullAgents.write("config/config.yml", "providers:\n  agents:\n");

  const started = {
    valid: agentpool(["check", "-c", valid.configPath]),
    // The bundle is only in other/: found through --certs-dir.
    byEnv: agentpool(["check", "--certs-dir", join(elsewhere.root, "other")], {
      AGENTPOOL_CONFIG: elsewhere.configPath,
    }),
    certsDir: agentpool([
      "check",
      "-c",
      valid.configPath,
      "--certs-dir",
      join(valid.root, "other"),
    ]),
    warned: agentpool(["check", "-c", warned.configPath]),
    invalid: agentpool(["check", "-c", invalid.configPath]),
    json: agentpool(["check", "--json", "-c", valid.configPath]),
    jsonInvalid: agentpool(["check", "--json", "-c", nullAgents.configPath]),
    missing: agentpool(["check", "-c", join(temp.root, "absent.yml")]),
    badFlag: agentpool(["check", "--conf", "x.yml"]),
    committed: agentpool(["check", "-c", "config/config.yml"]),
    schema: agentpool(["schema"]),
    schemaExtra: agentpool(["schema", "--pretty"]),
  };
  const results = await Promise.all(Object.values(started));
  runs = Object.fromEntries(Object.keys(started).map((key, i) => [key, results[i]])) as typeof runs;
}, 120_000);
afterAll(() => temp?.cleanup());

describe("agentpool check", () => {
  it("prints the agents and exits 0 for a valid config", () => {
    const run = runs.valid;
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME +ADDR +CERT EXPIRES$/);
    expect(lines[1]).toMatch(
      /^remote-agent +agent\.example\.com:443 +\d{4}-\d\d-\d\dT\S+ \(in 36[45] days\)$/,
    );
    expect(lines[2]).toMatch(/^10\.0\.0\.5:8890 +10\.0\.0\.5:8890 +\d{4}-/);
    expect(lines[3]).toBe(`${valid.configPath}: OK, 2 agents`);
    expect(run.stdout).not.toContain("PRIVATE KEY");
  });

  it("reads AGENTPOOL_CONFIG when -c is not given, and honours --certs-dir", () => {
    expect(runs.byEnv.code).toBe(0);
    expect(runs.byEnv.stdout).toContain(`${elsewhere.configPath}: OK, 2 agents`);
  });

  it("prints warnings on stderr and still exits 0", () => {
    const run = runs.warned;
    expect(run.code).toBe(0);
    expect(run.stderr).toBe(
      `warning: ${warned.configPath}:5:70: providers.agents[0].tls.key_file: ${warned.configDir}/tls/key.pem (agent agent.example.com:443): private key is readable by others (mode 0644); chmod 600 it (or 640 in the daemon's group, gid ${process.getgid?.()})\n`,
    );
    expect(run.stdout).toContain("OK, 2 agents, 1 warning");
  });

  it("prints every issue, one per line, and exits 1 for an invalid config", () => {
    const run = runs.invalid;
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr.split("\n")).toEqual([
      `${invalid.configPath}:3:13: providers.agents[0].addr: "10.0.0.5" is not host:port: missing port`,
      `${invalid.configPath}:4:12: providers.agents[0].tls: missing required key "ca_file"`,
      `${invalid.configPath}:4:14: providers.agents[0].tls: unknown key "ca_fle" (expected ca_file, cert_file, key_file)`,
      `${invalid.configPath}: invalid, 3 problems`,
      "",
    ]);
    expect(run.stderr).not.toContain("    at ");
  });

  it("--json reports agents without key material, or the issues", () => {
    expect(runs.json.code).toBe(0);
    expect(JSON.parse(runs.json.stdout)).toEqual({
      ok: true,
      agents: [
        {
          addr: "agent.example.com:443",
          name: "remote-agent",
          certNotAfter: expect.stringMatching(/^\d{4}-/),
        },
        {
          addr: "10.0.0.5:8890",
          name: "10.0.0.5:8890",
          certNotAfter: expect.stringMatching(/^\d{4}-/),
        },
      ],
      warnings: [],
      issues: [],
    });
    expect(runs.json.stdout).not.toContain("PRIVATE KEY");
    expect(runs.json.stdout).not.toContain("CERTIFICATE");

    expect(runs.jsonInvalid.code).toBe(1);
    expect(JSON.parse(runs.jsonInvalid.stdout)).toEqual({
      ok: false,
      agents: [],
      warnings: [],
      issues: [
        {
          file: nullAgents.configPath,
          line: 2,
          col: 3,
          path: "providers.agents",
          message: '"agents:" has no value; write "agents: []" for no agents',
        },
      ],
    });
  });

  it("a missing config file is invalid (exit 1), a bad flag is a usage error (exit 2)", () => {
    expect(runs.missing.code).toBe(1);
    expect(runs.missing.stderr).toContain(
      `${join(temp.root, "absent.yml")}: cannot read the file: no such file`,
    );
    expect(runs.badFlag.code).toBe(2);
    expect(runs.badFlag.stderr).toContain("Usage: agentpool check");
    expect(runs.badFlag.stderr).toContain("--conf");
  });

  it("accepts the committed config/config.yml", () => {
    expect(runs.committed.stderr).toBe("");
    expect(runs.committed.code).toBe(0);
    expect(runs.committed.stdout).toBe("config/config.yml: OK, no agents\n");
  });
});

describe("agentpool schema", () => {
  it("is a draft-07 JSON Schema with a title and descriptions", () => {
    expect(runs.schema.code).toBe(0);
    const schema = JSON.parse(runs.schema.stdout);
    expect(schema.$schema).toBe("http://json-schema.org/draft-07/schema#");
    expect(schema.title).toBe("agentpool config.yml");
    expect(runs.schema.stdout).toContain("defaults to addr");
  });

  it("compiles with ajv, accepts the example configs and rejects broken ones", async () => {
    const validate = new Ajv({ strict: false, allErrors: true }).compile(
      JSON.parse(runs.schema.stdout),
    );

    const committed = parse(await readFile(join(REPO, "config/config.yml"), "utf8"));
    expect(validate(committed), JSON.stringify(validate.errors)).toBe(true);

    const example = await readFile(GODOXY_EXAMPLE, "utf8");
    const godoxy = parse(
      example.replace(
        /^providers:$/m,
        `providers:\n  agents:\n    - 10.0.0.5:8890\n    - addr: "[::1]:8890"\n      name: local\n      tls: ${TLS_FLOW}`,
      ),
    );
    expect(validate(godoxy), JSON.stringify(validate.errors)).toBe(true);

    const typo = parse(
      "providers:\n  agents:\n    - addr: a.example:1\n      tls: { ca_fle: a, cert_file: b, key_file: c }\n",
    );
    expect(validate(typo)).toBe(false);
    expect(JSON.stringify(validate.errors)).toContain("ca_fle");

    expect(validate(parse("providers:\n  agents:\n"))).toBe(false);
    expect(validate(parse("providers:\n  agents:\n    - 10.0.0.5\n"))).toBe(false);
    expect(validate(parse("providers:\n  agents:\n    - addr: a.example:1\n"))).toBe(false);
  });

  it("takes no options", () => {
    expect(runs.schemaExtra.code).toBe(2);
    expect(runs.schemaExtra.stderr).toContain("Usage: agentpool schema");
  });
});
