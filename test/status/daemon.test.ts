import { spawnSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { StatusBody } from "../../src/daemon/status/views.js";
import { startTestAgent, type TestAgent } from "../../src/testing/index.js";
import { CLI, type DaemonProcess, requireBuiltCli, startDaemon } from "../support/daemon.js";
import { waitFor } from "../support/wait.js";
import { createWorkspace, type Workspace } from "../support/workspace.js";
import { getJson, httpGet, parsePrometheusText, sampleValue } from "./helpers.js";

interface AgentRow {
  addr: string;
  name: string;
  version?: string;
}

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

describe("status endpoint of the daemon (child process)", () => {
  let ws: Workspace;
  let agents: TestAgent[];

  beforeAll(() => {
    requireBuiltCli();
  });

  async function start(): Promise<{ daemon: DaemonProcess; address: string }> {
    ws = await createWorkspace("agentpool-status-daemon-");
    closers.push(() => ws.cleanup());
    agents = await Promise.all(
      ["edge-a", "edge-b"].map((name) =>
        startTestAgent({ pki: ws.pki, name, version: `${name}-v1` }),
      ),
    );
    for (const agent of agents) closers.push(() => agent.close());
    await writeFile(
      ws.configPath,
      ws.yaml(agents.map((a, i) => ({ addr: a.addr, name: `agent-${i}` }))),
    );
    // Port 0: the daemon binds a free port and logs it, so no other process can take it first.
    const daemon = startDaemon(["run", "-c", ws.configPath, "--listen", "127.0.0.1:0"]);
    closers.push(() => daemon.stop());
    const listening = await daemon.waitForLog((l) => l.msg === "status endpoint listening", 15_000);
    const address = String(listening.address);
    await waitFor(
      "the daemon to be ready",
      async () => {
        if (daemon.child.exitCode !== null)
          throw new Error(`daemon exited ${daemon.child.exitCode}: ${daemon.stderr()}`);
        return (await httpGet(address, "/readyz").catch(() => undefined))?.status === 200;
      },
      15_000,
    );
    return { daemon, address };
  }

  it("serves /readyz, /agents and /status, and keeps the old agents after a bad edit", async () => {
    const { daemon, address } = await start();

    const rows = await waitFor("both agents probed", async () => {
      const list = await getJson<AgentRow[]>(address, "/agents");
      return list.length === 2 && list.every((r) => r.version) ? list : undefined;
    });
    expect(rows.map((r) => [r.name, r.version])).toEqual([
      ["agent-0", "edge-a-v1"],
      ["agent-1", "edge-b-v1"],
    ]);
    const before = await getJson<StatusBody>(address, "/status");
    expect(before).toMatchObject({
      agents: 2,
      configPath: ws.configPath,
      lastReload: { ok: true },
    });

    // Invalid YAML: an unclosed flow sequence.
    await writeFile(ws.configPath, "providers:\n  agents: [\n    - addr: x\n");
    const after = await waitFor(
      "the failed reload on /status",
      async () => {
        const status = await getJson<StatusBody>(address, "/status");
        // Only the rejection of the invalid file counts, not a passing state of the save.
        const located = /config\.yml:\d+:\d+: /.test(status.lastReload?.error ?? "");
        return status.lastReload?.ok === false && located ? status : undefined;
      },
      10_000,
    );
    expect(after.lastReload?.error).toMatch(/config\.yml:\d+:\d+: /);
    expect(after.version).toBe(before.version);
    expect((await getJson<AgentRow[]>(address, "/agents")).map((r) => r.name)).toEqual([
      "agent-0",
      "agent-1",
    ]);
    expect((await httpGet(address, "/readyz")).status).toBe(200);

    const metrics = parsePrometheusText((await httpGet(address, "/metrics")).body);
    expect(
      sampleValue(metrics, "agentpool_reloads_total", { result: "failure" }),
    ).toBeGreaterThanOrEqual(1);
    expect(sampleValue(metrics, "agentpool_config_last_reload_successful")).toBe(0);
    expect(sampleValue(metrics, "agentpool_agents")).toBe(2);

    // `agentpool status` through the real CLI: the failure, and exit 1.
    const status = spawnSync(process.execPath, [CLI, "status", "--listen", address], {
      encoding: "utf8",
    });
    expect(status.status).toBe(1);
    expect(status.stdout).toMatch(/reload: {3}FAILED at /);
    expect(status.stdout).toMatch(/config\.yml:\d+:\d+: /);
    expect(status.stdout).toContain("agent-0");

    expect(await daemon.stop()).toBe(0);
    const down = spawnSync(process.execPath, [CLI, "status", "--listen", address], {
      encoding: "utf8",
    });
    expect(down.status).toBe(3);
    expect(down.stderr).toContain(`cannot reach the daemon at ${address}`);
  });
});
