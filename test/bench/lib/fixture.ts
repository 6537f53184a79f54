import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AgentConfig } from "../../../src/agent/agent.js";
import type { TlsMaterial } from "../../../src/agent/tls.js";
import type { TestPki } from "../../../src/testing/index.js";

/** `count` distinct addrs, 10.0.0.0/16 on port 8890. */
export function addrs(count: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++)
    out.push(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:8890`);
  return out;
}

/**
 * Agent configs as the loader hands them out: every agent shares one frozen
 * TLS object, so the pool verifies it once.
 */
export function agentConfigs(
  count: number,
  tls: TlsMaterial,
  namePrefix = "agent-",
): AgentConfig[] {
  const frozen = Object.isFrozen(tls) ? tls : Object.freeze({ ...tls });
  return addrs(count).map((addr, i) =>
    Object.freeze({ addr, name: `${namePrefix}${i}`, tls: frozen }),
  );
}

export interface ConfigAgent {
  addr: string;
  name: string;
}

/** A temporary folder holding tls/{ca,cert,key}.pem and a config.yml. */
export interface ConfigDir {
  dir: string;
  configPath: string;
  cleanup(): Promise<void>;
}

export async function createConfigDir(
  pki: TestPki,
  prefix = "agentpool-bench-",
): Promise<ConfigDir> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await mkdir(join(dir, "tls"));
  await writeFile(join(dir, "tls", "ca.pem"), pki.ca.cert);
  await writeFile(join(dir, "tls", "cert.pem"), pki.client.cert);
  await writeFile(join(dir, "tls", "key.pem"), pki.client.key, { mode: 0o600 });
  return {
    dir,
    configPath: join(dir, "config.yml"),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** config.yml text in the object form, all agents on the shared tls/ files. */
export function configYaml(agents: readonly ConfigAgent[], comment = "agentpool bench"): string {
  const lines = [`# ${comment}`, "providers:", agents.length === 0 ? "  agents: []" : "  agents:"];
  for (const agent of agents) {
    lines.push(
      `    - addr: ${agent.addr}`,
      `      name: ${agent.name}`,
      "      tls: { ca_file: tls/ca.pem, cert_file: tls/cert.pem, key_file: tls/key.pem }",
    );
  }
  return `${lines.join("\n")}\n`;
}

/** `count` agents on 10.0.0.0/16 named `<prefix><i>`. */
export function configAgents(count: number, namePrefix = "agent-"): ConfigAgent[] {
  return addrs(count).map((addr, i) => ({ addr, name: `${namePrefix}${i}` }));
}
