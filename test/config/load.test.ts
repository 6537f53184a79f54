// Good configs: both agent forms, path resolution, warnings, the TLS cache and what a reload needs.
import { chmod, chown, copyFile, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/errors.js";
import { loadConfig, prepareConfig } from "../../src/config/load.js";
import { TlsMaterialCache } from "../../src/config/tls-files.js";
import { daemonGroups } from "../../src/config/warnings.js";
import {
  type ConfigDir,
  type ConfigPki,
  createConfigDir,
  createConfigPki,
  createTempRoot,
  TLS_FLOW,
  zipBundle,
} from "./helpers.js";

/** A GoDoxy-shaped config.yml of our own (no agents list). */
const GODOXY_EXAMPLE = fileURLToPath(new URL("../fixtures/godoxy-config.yml", import.meta.url));

let pki: ConfigPki;
let temp: Awaited<ReturnType<typeof createTempRoot>>;
let counter = 0;

beforeAll(async () => {
  pki = await createConfigPki();
  temp = await createTempRoot();
});
afterAll(() => temp?.cleanup());

async function freshDir(): Promise<ConfigDir> {
  const dir = await createConfigDir(`${temp.root}/load-${++counter}`);
  await dir.writeTls(pki);
  return dir;
}

function goodBundle(): Uint8Array {
  return zipBundle({ "ca.pem": pki.ca, "cert.pem": pki.cert, "key.pem": pki.key });
}

describe("a whole GoDoxy config.yml", () => {
  it("loads with agents in both forms added under providers", async () => {
    const dir = await freshDir();
    const example = await readFile(GODOXY_EXAMPLE, "utf8");
    const agents = [
      "providers:",
      "  agents:",
      "    - 10.0.0.5:8890",
      "    - addr: agent.example.com:443",
      "      name: remote-agent",
      "      tls:",
      "        ca_file: tls/ca.pem",
      "        cert_file: tls/cert.pem",
      "        key_file: tls/key.pem",
      "    - addr: '[::1]:8890'",
      `      tls: ${TLS_FLOW}`,
    ].join("\n");
    expect(example).toMatch(/^providers:$/m);
    await dir.write("config/config.yml", example.replace(/^providers:$/m, agents));
    await dir.write("certs/10.0.0.5:8890.zip", goodBundle());

    const { agents: loaded, warnings } = await loadConfig(dir.configPath);
    expect(warnings).toEqual([]);
    expect(loaded.map(({ addr, name }) => ({ addr, name }))).toEqual([
      { addr: "10.0.0.5:8890", name: undefined },
      { addr: "agent.example.com:443", name: "remote-agent" },
      { addr: "[::1]:8890", name: undefined },
    ]);
    for (const agent of loaded) {
      expect(agent.tls).toEqual({ ca: pki.ca, cert: pki.cert, key: pki.key });
      expect(Object.isFrozen(agent.tls)).toBe(true);
    }
    // Same bytes from a zip and from files: one verified object.
    expect(loaded[0]?.tls).toBe(loaded[1]?.tls);
  });

  it("without an agents list loads as zero agents, with a warning saying so", async () => {
    const dir = await freshDir();
    await copyFile(GODOXY_EXAMPLE, dir.configPath);
    const { agents, warnings } = await loadConfig(dir.configPath);
    expect(agents).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/config\.yml:\d+:1: providers: no providers\.agents list/);
  });

  it("agents: [] loads as zero agents without warnings; providers with no value too", async () => {
    const dir = await freshDir();
    await dir.write("config/config.yml", "providers:\n  agents: []\n");
    expect(await loadConfig(dir.configPath)).toEqual({ agents: [], warnings: [] });
    await dir.write("config/config.yml", "providers:\n  # agents: commented out\n");
    const { agents, warnings } = await loadConfig(dir.configPath);
    expect(agents).toEqual([]);
    expect(warnings.join("\n")).toContain("no providers.agents list");
  });
});

describe("paths", () => {
  it("resolves relative TLS paths against the config's folder, not the working directory", async () => {
    const dir = await freshDir();
    await dir.write("shared/ca.pem", pki.ca);
    await dir.write(
      "config/config.yml",
      `providers:\n  agents:\n    - addr: a.example:1\n      tls: { ca_file: ../shared/ca.pem, cert_file: ./tls/cert.pem, key_file: ${join(dir.configDir, "tls/key.pem")} }\n`,
    );
    expect(process.cwd()).not.toBe(dir.configDir);
    const prepared = await prepareConfig(dir.configPath);
    expect([...prepared.inputs.keys()]).toEqual([
      dir.configPath,
      join(dir.root, "shared/ca.pem"),
      join(dir.configDir, "tls/cert.pem"),
      join(dir.configDir, "tls/key.pem"),
    ]);
  });

  it("finds GoDoxy bundles in ../certs by default, and in certsDir when given", async () => {
    const dir = await freshDir();
    await dir.write("config/config.yml", "providers:\n  agents:\n    - 10.0.0.5:8890\n");
    await dir.write("certs/10.0.0.5:8890.zip", goodBundle());
    await dir.write(
      "elsewhere/10.0.0.5:8890.zip",
      zipBundle({ "ca.pem": pki.ca, "cert.pem": pki.soon.cert, "key.pem": pki.soon.key }),
    );

    const byDefault = await loadConfig(dir.configPath);
    expect(byDefault.agents[0]?.tls.cert).toBe(pki.cert);

    const overridden = await loadConfig(dir.configPath, { certsDir: join(dir.root, "elsewhere") });
    expect(overridden.agents[0]?.tls.cert).toBe(pki.soon.cert);

    const empty = await loadConfig(dir.configPath, { certsDir: join(dir.root, "nowhere") }).catch(
      (err: unknown) => err,
    );
    expect(empty).toBeInstanceOf(ConfigError);
    expect((empty as ConfigError).message).toContain(
      `cannot read ${join(dir.root, "nowhere", "10.0.0.5:8890.zip")}: no such file`,
    );
  });
});

/** chown to another group needs root; without it that case is reported as skipped. */
const isRoot = process.getuid?.() === 0;

describe("warnings", () => {
  it("warns about a key readable by group/others, naming the file and the agent", async () => {
    const dir = await freshDir();
    await chmod(join(dir.configDir, "tls/key.pem"), 0o644);
    await dir.write(
      "config/config.yml",
      `providers:\n  agents:\n    - addr: a.example:1\n      tls: ${TLS_FLOW}\n    - addr: b.example:1\n      tls: ${TLS_FLOW}\n`,
    );
    const { agents, warnings } = await loadConfig(dir.configPath);
    expect(agents).toHaveLength(2);
    expect(warnings).toEqual([
      `${dir.configPath}:4:70: providers.agents[0].tls.key_file: ${dir.configDir}/tls/key.pem (agent a.example:1 and 1 more): private key is readable by others (mode 0644); chmod 600 it (or 640 in the daemon's group, gid ${daemonGroups().join(" or ")})`,
    ]);
  });

  it("warns about a zip bundle holding a key that group/others can read", async () => {
    const dir = await freshDir();
    await dir.write("config/config.yml", "providers:\n  agents:\n    - 10.0.0.5:8890\n");
    await dir.write("certs/10.0.0.5:8890.zip", goodBundle(), 0o644);
    const { warnings } = await loadConfig(dir.configPath);
    expect(warnings).toEqual([
      `${dir.configPath}:3:7: providers.agents[0]: ${dir.certsDir}/10.0.0.5:8890.zip (agent 10.0.0.5:8890): holds a private key and is readable by others (mode 0644); chmod 600 it (or 640 in the daemon's group, gid ${daemonGroups().join(" or ")})`,
    ]);
  });

  // Issue 12: the installed unit reads `0640 root:agentpool` keys as group agentpool.
  it("does not warn about a key readable only by the daemon's own group (0640)", async () => {
    const dir = await freshDir();
    const key = join(dir.configDir, "tls/key.pem");
    await chmod(key, 0o640);
    if (isRoot) await chown(key, 0, process.getgid?.() ?? 0);
    await dir.write(
      "config/config.yml",
      `providers:\n  agents:\n    - addr: a.example:1\n      tls: ${TLS_FLOW}\n`,
    );
    const { agents, warnings } = await loadConfig(dir.configPath);
    expect(agents).toHaveLength(1);
    expect(warnings).toEqual([]);
  });

  it("warns about a key the daemon's group may write (0660)", async () => {
    const dir = await freshDir();
    await chmod(join(dir.configDir, "tls/key.pem"), 0o660);
    await dir.write(
      "config/config.yml",
      `providers:\n  agents:\n    - addr: a.example:1\n      tls: ${TLS_FLOW}\n`,
    );
    const { warnings } = await loadConfig(dir.configPath);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(
      `private key is readable by group ${process.getgid?.()} (mode 0660)`,
    );
  });

  it.skipIf(!isRoot)(
    "warns about a key readable by another group (0640, not the daemon's)",
    async () => {
      const dir = await freshDir();
      const key = join(dir.configDir, "tls/key.pem");
      const otherGid = (process.getgid?.() ?? 0) + 4242;
      await chmod(key, 0o640);
      await chown(key, 0, otherGid);
      await dir.write(
        "config/config.yml",
        `providers:\n  agents:\n    - addr: a.example:1\n      tls: ${TLS_FLOW}\n`,
      );
      const { warnings } = await loadConfig(dir.configPath);
      expect(warnings).toEqual([
        `${dir.configPath}:4:70: providers.agents[0].tls.key_file: ${dir.configDir}/tls/key.pem (agent a.example:1): private key is readable by group ${otherGid} (mode 0640); chmod 600 it (or 640 in the daemon's group, gid ${daemonGroups().join(" or ")})`,
      ]);
    },
  );

  it("warns about a certificate expiring in 10 days and one that has expired", async () => {
    const dir = await freshDir();
    await dir.write("config/tls/soon.pem", pki.soon.cert);
    await dir.write("config/tls/soon-key.pem", pki.soon.key);
    await dir.write(
      "certs/10.0.0.9:8890.zip",
      zipBundle({ "ca.pem": pki.ca, "cert.pem": pki.expired.cert, "key.pem": pki.expired.key }),
    );
    await dir.write(
      "config/config.yml",
      [
        "providers:",
        "  agents:",
        "    - addr: soon.example:1",
        "      tls:",
        "        ca_file: tls/ca.pem",
        "        cert_file: tls/soon.pem",
        "        key_file: tls/soon-key.pem",
        "    - 10.0.0.9:8890",
        "",
      ].join("\n"),
    );
    const { agents, warnings } = await loadConfig(dir.configPath);
    expect(agents.map((a) => a.addr)).toEqual(["soon.example:1", "10.0.0.9:8890"]);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(
      new RegExp(
        `^${escapeRegExp(dir.configPath)}:6:20: providers\\.agents\\[0\\]\\.tls\\.cert_file: ${escapeRegExp(dir.configDir)}/tls/soon\\.pem \\(agent soon\\.example:1\\): client certificate expires in 10 days, on \\d{4}-\\d\\d-\\d\\dT`,
      ),
    );
    expect(warnings[1]).toMatch(
      new RegExp(
        `^${escapeRegExp(dir.configPath)}:8:7: providers\\.agents\\[1\\]: ${escapeRegExp(dir.certsDir)}/10\\.0\\.0\\.9:8890\\.zip \\(cert\\.pem\\) \\(agent 10\\.0\\.0\\.9:8890\\): client certificate expired 2 days ago, on `,
      ),
    );
  });

  it("passes YAML warnings on, located, without rejecting the file", async () => {
    const dir = await freshDir();
    await dir.write("config/config.yml", "webui: !custom thing\nproviders:\n  agents: []\n");
    const { warnings } = await loadConfig(dir.configPath);
    expect(warnings).toEqual([`${dir.configPath}:1:8: unresolved tag: !custom`]);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

describe("YAML features a real config uses", () => {
  it("anchors and merge keys share one tls block between agents", async () => {
    const dir = await freshDir();
    await dir.write(
      "config/config.yml",
      [
        "x-tls: &tls",
        "  ca_file: tls/ca.pem",
        "  cert_file: tls/cert.pem",
        "  key_file: tls/key.pem",
        "x-agent: &agent",
        "  tls: *tls",
        "providers:",
        "  agents:",
        "    - addr: a.example:1",
        "      tls: *tls",
        "    - <<: *agent",
        "      addr: b.example:1",
        "",
      ].join("\n"),
    );
    const { agents } = await loadConfig(dir.configPath);
    expect(agents.map((a) => a.addr)).toEqual(["a.example:1", "b.example:1"]);
    expect(agents[0]?.tls).toBe(agents[1]?.tls);
  });

  it("locates a problem inside a merged block where it is written", async () => {
    const dir = await freshDir();
    await dir.write(
      "config/config.yml",
      [
        "x-agent: &agent",
        "  tls: { ca_file: tls/nope.pem, cert_file: tls/cert.pem, key_file: tls/key.pem }",
        "providers:",
        "  agents:",
        "    - <<: *agent",
        "      addr: b.example:1",
        "",
      ].join("\n"),
    );
    const error = (await loadConfig(dir.configPath).catch((e: unknown) => e)) as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(
      `${dir.configPath}:2:19: providers.agents[0].tls.ca_file: cannot read ${dir.configDir}/tls/nope.pem: no such file`,
    );
  });
});

describe("what a reload needs", () => {
  it("gives the absolute config path, each input's hash in order, and a digest of them", async () => {
    const dir = await freshDir();
    await dir.write("certs/10.0.0.5:8890.zip", goodBundle());
    await dir.write(
      "config/config.yml",
      `providers:\n  agents:\n    - addr: a.example:1\n      tls: ${TLS_FLOW}\n    - 10.0.0.5:8890\n`,
    );
    const first = await prepareConfig(dir.configPath);
    expect(first.configPath).toBe(dir.configPath);
    expect([...first.inputs.keys()]).toEqual([
      dir.configPath,
      `${dir.configDir}/tls/ca.pem`,
      `${dir.configDir}/tls/cert.pem`,
      `${dir.configDir}/tls/key.pem`,
      `${dir.certsDir}/10.0.0.5:8890.zip`,
    ]);
    for (const hash of first.inputs.values()) expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.isFrozen(first.agents)).toBe(true);
    expect(Object.isFrozen(first.agents[0])).toBe(true);

    const again = await prepareConfig(dir.configPath);
    expect(again.digest).toBe(first.digest);

    // Same config.yml, rotated certificate: a different digest.
    await writeFile(`${dir.configDir}/tls/cert.pem`, pki.soon.cert);
    await writeFile(`${dir.configDir}/tls/key.pem`, pki.soon.key);
    const rotated = await prepareConfig(dir.configPath);
    expect(rotated.inputs.get(dir.configPath)).toBe(first.inputs.get(dir.configPath));
    expect(rotated.digest).not.toBe(first.digest);
    expect(rotated.agents[0]?.tls.cert).toBe(pki.soon.cert);
  });

  it("rejects with the abort reason, not a ConfigError, when cancelled", async () => {
    const dir = await freshDir();
    await dir.write(
      "config/config.yml",
      `providers:\n  agents:\n    - addr: a.example:1\n      tls: ${TLS_FLOW}\n`,
    );
    const before = await prepareConfig(dir.configPath, { signal: AbortSignal.abort() }).catch(
      (err: unknown) => err,
    );
    expect(before).not.toBeInstanceOf(ConfigError);
    expect((before as Error).name).toBe("AbortError");

    const controller = new AbortController();
    const during = prepareConfig(dir.configPath, { signal: controller.signal });
    controller.abort();
    const error = await during.catch((err: unknown) => err);
    expect(error).not.toBeInstanceOf(ConfigError);
    expect((error as Error).name).toBe("AbortError");
  });
});

describe("the TLS cache", () => {
  async function manyAgents(dir: ConfigDir, count: number): Promise<void> {
    const lines = ["providers:", "  agents:"];
    for (let i = 0; i < count; i++) {
      lines.push(`    - addr: agent-${i}.example:8890`, `      tls: ${TLS_FLOW}`);
    }
    await dir.write("config/config.yml", `${lines.join("\n")}\n`);
  }

  it("2,000 agents sharing files share one frozen tls object, reused by the next load", async () => {
    const dir = await freshDir();
    await manyAgents(dir, 2000);
    const first = await prepareConfig(dir.configPath);
    expect(first.agents).toHaveLength(2000);
    const distinct = new Set(first.agents.map((a) => a.tls));
    expect(distinct.size).toBe(1);
    const [tls] = distinct;
    expect(Object.isFrozen(tls)).toBe(true);

    // A reload of the same files hands out the very same object: no re-verification.
    const second = await prepareConfig(dir.configPath);
    expect(second.agents[1999]?.tls).toBe(tls);
  });

  it("a rewrite with the same bytes keeps the object; new bytes give a new one", async () => {
    const dir = await freshDir();
    await manyAgents(dir, 3);
    const first = await prepareConfig(dir.configPath);
    const [tls] = new Set(first.agents.map((a) => a.tls));

    // New mtime, same bytes: still the same material object.
    await writeFile(`${dir.configDir}/tls/cert.pem`, pki.cert);
    const touched = await prepareConfig(dir.configPath);
    expect(touched.agents[0]?.tls).toBe(tls);
    expect(touched.digest).toBe(first.digest);

    await writeFile(`${dir.configDir}/tls/cert.pem`, pki.soon.cert);
    await writeFile(`${dir.configDir}/tls/key.pem`, pki.soon.key);
    const rotated = await prepareConfig(dir.configPath);
    expect(rotated.agents[0]?.tls).not.toBe(tls);
    expect(rotated.agents[0]?.tls.cert).toBe(pki.soon.cert);
    expect(new Set(rotated.agents.map((a) => a.tls)).size).toBe(1);
  });

  it("keeps only what the latest resolution used", async () => {
    const dir = await freshDir();
    await dir.write("config/tls/soon.pem", pki.soon.cert);
    await dir.write("config/tls/soon-key.pem", pki.soon.key);
    const cache = new TlsMaterialCache();
    const files = (cert: string, key: string) => ({
      kind: "files" as const,
      ca: `${dir.configDir}/tls/ca.pem`,
      cert: `${dir.configDir}/tls/${cert}`,
      key: `${dir.configDir}/tls/${key}`,
    });
    const both = await cache.resolve([
      { addr: "a.example:1", source: files("cert.pem", "key.pem") },
      { addr: "b.example:1", source: files("soon.pem", "soon-key.pem") },
    ]);
    expect(both.outcomes.every((o) => o.ok)).toBe(true);
    expect(cache.size).toEqual({ files: 5, materials: 2 });

    const one = await cache.resolve([
      { addr: "a.example:1", source: files("cert.pem", "key.pem") },
    ]);
    expect(cache.size).toEqual({ files: 3, materials: 1 });
    const [before, after] = [both.outcomes[0], one.outcomes[0]];
    expect(before?.ok && after?.ok && before.tls === after.tls).toBe(true);
  });
});
