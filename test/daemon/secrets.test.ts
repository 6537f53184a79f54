// A private key pasted anywhere in config.yml never comes out again: not in
// logs, /status, /agents, /events, /metrics, nor `check` text or --json.
import { execFile } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StatusBody } from "../../src/daemon/status/views.js";
import { startTestAgent, type TestAgent } from "../../src/testing/index.js";
import { getJson, httpGet, openEvents, type SseClient } from "../status/helpers.js";
import { CLI, type DaemonProcess, startDaemon } from "../support/daemon.js";
import { waitFor } from "../support/wait.js";
import { createWorkspace, type Workspace } from "../support/workspace.js";

const MESSAGE = "looks like a private key; it belongs in a file named by key_file";

const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
const EC_PEM = ec.export({ format: "pem", type: "sec1" }).toString();
const EC_DER = ec.export({ format: "der", type: "sec1" });
const EC_B64 = EC_DER.toString("base64");
const EC_HEX = EC_DER.toString("hex");
const EC_LINES = EC_PEM.trim().split("\n");
const RSA_B64 = rsa.export({ format: "der", type: "pkcs8" }).toString("base64");

/** Every 16-character run of each form of the keys: none may appear in any output. */
const FORBIDDEN_RUNS = [EC_B64, EC_HEX, RSA_B64].flatMap((text) =>
  Array.from({ length: text.length - 15 }, (_, i) => text.slice(i, i + 16)),
);

function expectNoKey(channel: string, text: string): void {
  const leaked = FORBIDDEN_RUNS.find((run) => text.includes(run));
  expect(leaked === undefined, `${channel} repeats part of a private key`).toBe(true);
}

const indent = (lines: readonly string[], by: string) => lines.map((l) => by + l).join("\n");

interface Case {
  name: string;
  yaml: (addr: string) => string;
  /** false: the file is valid (the key hides in something only warned about). */
  rejected?: boolean;
  /** The rejection names the key (not a YAML syntax error, which can only point at it). */
  says?: boolean;
}

const TLS =
  "      tls: { ca_file: tls/main/ca.pem, cert_file: tls/main/cert.pem, key_file: tls/main/key.pem }";
const agent = (addr: string, extra = "") =>
  `providers:\n  agents:\n    - addr: "${addr}"\n${extra}${TLS}\n`;

const CASES: Case[] = [
  {
    name: "a PEM key folded into name: >-",
    yaml: (addr) => agent(addr, `      name: >-\n${indent(EC_LINES, "        ")}\n`),
  },
  {
    name: "a key body without armor folded into name",
    yaml: (addr) => agent(addr, `      name: >-\n${indent(EC_LINES.slice(1, -1), "        ")}\n`),
  },
  {
    name: "base64 of a DER key as addr",
    yaml: () => agent(EC_B64),
  },
  {
    name: "base64 of a DER key in GoDoxy's string form",
    yaml: () => `providers:\n  agents:\n    - ${EC_B64}\n`,
  },
  {
    name: "base64 of a DER key as key_file",
    yaml: (addr) =>
      `providers:\n  agents:\n    - addr: "${addr}"\n      tls: { ca_file: tls/main/ca.pem, cert_file: tls/main/cert.pem, key_file: ${EC_B64} }\n`,
  },
  {
    name: "hex of a DER key as ca_file",
    yaml: (addr) =>
      `providers:\n  agents:\n    - addr: "${addr}"\n      tls: { ca_file: ${EC_HEX}, cert_file: tls/main/cert.pem, key_file: tls/main/key.pem }\n`,
  },
  {
    name: "an RSA PKCS#8 key as cert_file",
    yaml: (addr) =>
      `providers:\n  agents:\n    - addr: "${addr}"\n      tls: { ca_file: tls/main/ca.pem, cert_file: ${RSA_B64}, key_file: tls/main/key.pem }\n`,
  },
  {
    name: "a key as the value of an unknown key",
    yaml: (addr) => agent(addr, `      note: ${EC_B64}\n`),
  },
  {
    name: "a key as an unknown key itself",
    yaml: (addr) => agent(addr, `      ${EC_B64}: 1\n`),
  },
  {
    name: "a key under an ignored top-level key",
    yaml: (addr) => `webui: ${EC_B64}\n${agent(addr)}`,
  },
  {
    name: "a PEM block under an ignored top-level key",
    yaml: (addr) => `secret: |\n${indent(EC_LINES, "  ")}\n${agent(addr)}`,
  },
  {
    name: "a stray ] before a PEM block",
    yaml: (addr) => `${agent(addr)}x: ]\n${EC_PEM}`,
    says: false,
  },
  {
    name: "a key line in an unresolved tag",
    yaml: (addr) => `x: !<${EC_LINES[1]}> y\n${agent(addr)}`,
    rejected: false,
  },
  {
    name: "key lines as duplicate keys",
    yaml: (addr) => `${agent(addr)}x: { ${EC_LINES[1]}: 1, ${EC_LINES[1]}: 2 }\n`,
    says: false,
  },
];

function cli(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      resolve({ code, out: `${stdout}\n${stderr}` });
    });
  });
}

describe("a private key pasted into config.yml is refused and never repeated", () => {
  let ws: Workspace;
  let target: TestAgent;
  let daemon: DaemonProcess;
  let address: string;
  let events: SseClient;

  beforeAll(async () => {
    ws = await createWorkspace("agentpool-secrets-");
    target = await startTestAgent({ pki: ws.pki });
    await writeFile(ws.configPath, ws.yaml([{ addr: target.addr, name: "good" }]));
    daemon = startDaemon(["run", "-c", ws.configPath, "--listen", "127.0.0.1:0"]);
    address = String(
      (await daemon.waitForLog((l) => l.msg === "status endpoint listening", 15_000)).address,
    );
    await daemon.waitForLog((l) => l.msg === "ready", 15_000);
    events = await openEvents(address);
  }, 30_000);

  afterAll(async () => {
    events?.close();
    await daemon?.stop();
    await target?.close();
    await ws?.cleanup();
  });

  it("in every channel: logs, /status, /agents, /events, /metrics, check text and --json", async () => {
    const outputs: Array<[string, string]> = [];
    for (const [i, c] of CASES.entries()) {
      const text = c.yaml(target.addr);
      const path = join(ws.dir, `case-${i}.yml`);
      await writeFile(path, text);

      const plain = await cli(["check", "-c", path]);
      const json = await cli(["check", "-c", path, "--json"]);
      expect(plain.code, c.name).toBe(c.rejected === false ? 0 : 1);
      expect(json.code, c.name).toBe(c.rejected === false ? 0 : 1);
      if (c.rejected !== false && c.says !== false) expect(plain.out, c.name).toContain(MESSAGE);
      outputs.push([`check: ${c.name}`, plain.out], [`check --json: ${c.name}`, json.out]);

      const before = (await getJson<StatusBody>(address, "/status")).lastReload?.at;
      const temp = join(ws.dir, "config.yml.tmp");
      await writeFile(temp, text);
      await rename(temp, ws.configPath);
      const status = await waitFor(
        `the daemon to reload ${c.name}`,
        async () => {
          const body = await getJson<StatusBody>(address, "/status");
          return body.lastReload?.at !== before ? body : undefined;
        },
        10_000,
      );
      expect(status.lastReload?.ok, c.name).toBe(c.rejected === false);
      if (c.rejected !== false && c.says !== false)
        expect(status.lastReload?.error, c.name).toContain(MESSAGE);
      outputs.push([`/status: ${c.name}`, JSON.stringify(status)]);
    }

    outputs.push(["/agents", (await httpGet(address, "/agents")).body]);
    outputs.push(["/metrics", (await httpGet(address, "/metrics")).body]);
    outputs.push(["/events", events.events.map((e) => e.data).join("\n")]);
    expect(events.events.length).toBeGreaterThan(0);
    expect(await daemon.stop()).toBe(0);
    outputs.push(["daemon log", daemon.logs.map((l) => JSON.stringify(l)).join("\n")]);
    outputs.push(["daemon stderr", daemon.stderr()]);
    expect(daemon.logs.some((l) => JSON.stringify(l).includes(MESSAGE))).toBe(true);
    for (const [channel, text] of outputs) expectNoKey(channel, text);
  }, 120_000);

  it("a key folded into name at start-up: exit 1, and stderr does not repeat it", async () => {
    const path = join(ws.dir, "startup.yml");
    await writeFile(path, CASES[0]?.yaml(target.addr) ?? "");
    const starting = startDaemon(["run", "-c", path, "--listen", "off"]);
    expect(await starting.exited).toBe(1);
    expect(starting.stderr()).toContain(MESSAGE);
    expectNoKey("start-up stderr", starting.stderr());
    expectNoKey("start-up log", starting.logs.map((l) => JSON.stringify(l)).join("\n"));
  }, 30_000);
});
