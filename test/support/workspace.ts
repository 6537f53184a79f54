import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createTestPki, type TestPki } from "../../src/testing/index.js";
import { makeTempDir } from "./temp.js";

export interface AgentLine {
  addr: string;
  name?: string;
  /** Folder under tls/ holding ca.pem, cert.pem, key.pem. Default "main". */
  tls?: string;
}

/** A temporary folder with a config.yml and PEM files, removed by `cleanup()`. */
export interface Workspace {
  dir: string;
  configPath: string;
  pki: TestPki;
  /** YAML text of a config with these agents (object form, files under tls/<set>/). */
  yaml(agents: readonly AgentLine[], comment?: string): string;
  /** Writes the PEM files of `pki` under tls/<set>/. */
  writeTls(set: string, pki: TestPki): Promise<void>;
  cleanup(): Promise<void>;
}

export async function createWorkspace(prefix = "agentpool-test-"): Promise<Workspace> {
  const { dir, cleanup } = await makeTempDir(prefix);
  const pki = await createTestPki();
  const writeTls = async (set: string, material: TestPki) => {
    const folder = join(dir, "tls", set);
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, "ca.pem"), material.ca.cert);
    await writeFile(join(folder, "cert.pem"), material.client.cert);
    await writeFile(join(folder, "key.pem"), material.client.key, { mode: 0o600 });
  };
  await writeTls("main", pki);
  return {
    dir,
    configPath: join(dir, "config.yml"),
    pki,
    writeTls,
    yaml(agents, comment = "") {
      const lines = [
        `# ${comment}`,
        "providers:",
        agents.length === 0 ? "  agents: []" : "  agents:",
      ];
      for (const agent of agents) {
        const set = agent.tls ?? "main";
        lines.push(`    - addr: "${agent.addr}"`);
        if (agent.name) lines.push(`      name: ${agent.name}`);
        lines.push(
          "      tls:",
          `        ca_file: tls/${set}/ca.pem`,
          `        cert_file: tls/${set}/cert.pem`,
          `        key_file: tls/${set}/key.pem`,
        );
      }
      return `${lines.join("\n")}\n`;
    },
    cleanup,
  };
}
