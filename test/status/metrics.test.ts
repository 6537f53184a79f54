import { spawnSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { register as globalRegistry } from "prom-client";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createMetrics, RELOAD_DURATION_BUCKETS } from "../../src/daemon/status/metrics.js";
import { createTestPki, type TestPki } from "../../src/testing/index.js";
import { requireBuiltCli, startDaemon } from "../support/daemon.js";
import { waitFor } from "../support/wait.js";
import { createWorkspace } from "../support/workspace.js";
import { Opened, openAgent, openStatus } from "./harness.js";
import {
  failedResult,
  httpGet,
  okResult,
  type PromFamily,
  parsePrometheusText,
  sampleValue,
} from "./helpers.js";

const promtool = spawnSync("promtool", ["--version"], { stdio: "ignore" }).status === 0;
if (!promtool)
  console.log("skip: promtool is not on PATH; the promtool check metrics tests do not run");

let pki: TestPki;
const opened = new Opened();

beforeAll(async () => {
  pki = await createTestPki();
});

afterEach(() => opened.closeAll());

async function scrape(
  address: string,
): Promise<{ text: string; families: Map<string, PromFamily> }> {
  const res = await httpGet(address, "/metrics");
  expect(res.status).toBe(200);
  return { text: res.body, families: parsePrometheusText(res.body) };
}

/** `promtool check metrics` on `text`: its exit status and every remark it printed. */
function promtoolRemarks(text: string): { status: number | null; output: string } {
  const run = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() };
}

const OWN = {
  agentpool_agents: "gauge",
  agentpool_snapshot_version: "gauge",
  agentpool_reloads_total: "counter",
  agentpool_config_last_reload_successful: "gauge",
  agentpool_config_last_reload_success_timestamp_seconds: "gauge",
  agentpool_reload_duration_seconds: "histogram",
  agentpool_reload_resync_total: "counter",
  agentpool_agent_info: "gauge",
  agentpool_agent_info_probe_success: "gauge",
  agentpool_events_clients: "gauge",
} as const;

describe("/metrics", () => {
  it("is valid exposition text with HELP and TYPE for every documented metric, plus process metrics", async () => {
    const { server } = await openStatus(opened);
    const { families } = await scrape(server.address);
    for (const [name, type] of Object.entries(OWN)) {
      const family = families.get(name);
      expect(family, name).toBeDefined();
      expect(family?.type, name).toBe(type);
      expect(family?.help.length, name).toBeGreaterThan(10);
    }
    expect(families.get("process_cpu_user_seconds_total")?.type).toBe("counter");
    expect(families.get("process_resident_memory_bytes")?.type).toBe("gauge");
    expect(families.get("nodejs_heap_size_used_bytes")?.type).toBe("gauge");
    expect(sampleValue(families, "agentpool_reloads_total", { result: "success" })).toBe(0);
    expect(sampleValue(families, "agentpool_reloads_total", { result: "failure" })).toBe(0);
    const buckets = families
      .get("agentpool_reload_duration_seconds")
      ?.samples.filter((s) => s.name.endsWith("_bucket"))
      .map((s) => s.labels.le);
    expect(buckets).toEqual([...RELOAD_DURATION_BUCKETS.map(String), "+Inf"]);
  });

  it("rejects malformed exposition text (the validator itself can fail)", () => {
    expect(() => parsePrometheusText("agentpool_agents 1\n")).toThrow(/without HELP\/TYPE/);
    expect(() =>
      parsePrometheusText(
        '# HELP a_total x\n# TYPE a_total counter\na_total{l="1"} 1\na_total{l="1"} 2\n',
      ),
    ).toThrow(/duplicate series/);
    expect(() =>
      parsePrometheusText(
        '# HELP h x\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
      ),
    ).toThrow(/not cumulative/);
  });

  it.skipIf(!promtool)(
    "passes promtool check metrics with no remarks at all (skipped: promtool is not on PATH)",
    async () => {
      const { server, results$ } = await openStatus(opened);
      results$.next(okResult());
      results$.next(failedResult());
      const { text } = await scrape(server.address);
      expect(promtoolRemarks(text)).toEqual({ status: 0, output: "" });
    },
  );

  it.skipIf(!promtool)(
    "the real daemon's /metrics passes promtool check metrics with no remarks (skipped: promtool is not on PATH)",
    async () => {
      requireBuiltCli();
      const ws = await createWorkspace("agentpool-promtool-");
      opened.add(() => ws.cleanup());
      const agent = await openAgent(opened, ws.pki, { name: "lint-edge" });
      await writeFile(ws.configPath, ws.yaml([{ addr: agent.addr, name: "edge" }]));
      const daemon = startDaemon(["run", "-c", ws.configPath, "--listen", "127.0.0.1:0"]);
      opened.add(() => daemon.stop().then(() => undefined));
      const listening = await daemon.waitForLog((l) => l.msg === "status endpoint listening");
      const address = String(listening.address);
      // A rejected edit too, so the failure series and the histogram both have samples.
      await daemon.waitForLog((l) => l.msg === "ready");
      await writeFile(ws.configPath, "providers:\n  agents: [\n");
      await daemon.waitForLog((l) => l.result === "failure");
      const text = await waitFor("the probed agent in /metrics", async () => {
        const { text, families } = await scrape(address);
        return sampleValue(families, "agentpool_agent_info_probe_success", { addr: agent.addr }) ===
          1
          ? text
          : undefined;
      });
      expect(text).toMatch(/^nodejs_active_handles\{/m);
      expect(text).toMatch(/^process_cpu_seconds_total /m);
      expect(text).not.toMatch(/^nodejs_active_\w+_total/m);
      expect(promtoolRemarks(text)).toEqual({ status: 0, output: "" });
    },
  );

  it.skipIf(!promtool)(
    "promtool still remarks on a gauge named _total (the lint check itself can fail; skipped: promtool is not on PATH)",
    () => {
      const bad = "# HELP x_total A gauge.\n# TYPE x_total gauge\nx_total 1\n";
      const { status, output } = promtoolRemarks(bad);
      expect(status).not.toBe(0);
      expect(output).toMatch(/x_total.*_total/);
    },
  );

  it("moves the reload counters, gauges and histogram as results are observed", async () => {
    const { server, results$, pool } = await openStatus(opened);
    const good = okResult({ durationMs: 4 });
    results$.next(good);
    let { families } = await scrape(server.address);
    expect(sampleValue(families, "agentpool_reloads_total", { result: "success" })).toBe(1);
    expect(sampleValue(families, "agentpool_reloads_total", { result: "failure" })).toBe(0);
    expect(sampleValue(families, "agentpool_config_last_reload_successful")).toBe(1);
    expect(sampleValue(families, "agentpool_config_last_reload_success_timestamp_seconds")).toBe(
      Date.parse(good.at) / 1000,
    );

    results$.next(failedResult({ durationMs: 2 }));
    results$.next(failedResult({ durationMs: 30 }));
    ({ families } = await scrape(server.address));
    expect(sampleValue(families, "agentpool_reloads_total", { result: "success" })).toBe(1);
    expect(sampleValue(families, "agentpool_reloads_total", { result: "failure" })).toBe(2);
    expect(sampleValue(families, "agentpool_config_last_reload_successful")).toBe(0);
    expect(sampleValue(families, "agentpool_config_last_reload_success_timestamp_seconds")).toBe(
      Date.parse(good.at) / 1000,
    );
    expect(sampleValue(families, "agentpool_reload_duration_seconds_count")).toBe(3);
    expect(sampleValue(families, "agentpool_reload_duration_seconds_sum")).toBeCloseTo(0.036, 6);
    expect(sampleValue(families, "agentpool_reload_duration_seconds_bucket", { le: "0.005" })).toBe(
      2,
    );

    const agent = await openAgent(opened, pki);
    pool.add(agent.config());
    ({ families } = await scrape(server.address));
    expect(sampleValue(families, "agentpool_agents")).toBe(1);
    expect(sampleValue(families, "agentpool_snapshot_version")).toBe(pool.snapshot.version);
  });

  it("exports agent_info once an agent is probed and drops it when the agent leaves", async () => {
    const edge = await openAgent(opened, pki, {
      name: "reports-edge",
      version: "v0.21.0",
      runtime: "podman",
    });
    const { server, pool } = await openStatus(opened);
    pool.add(edge.config("edge"));
    const labels = { addr: edge.addr, name: "edge", version: "v0.21.0", runtime: "podman" };

    const families = await waitFor("agent_info of edge", async () => {
      const { families } = await scrape(server.address);
      return sampleValue(families, "agentpool_agent_info", labels) === 1 ? families : undefined;
    });
    expect(families.get("agentpool_agent_info")?.samples).toHaveLength(1);
    expect(sampleValue(families, "agentpool_agent_info_probe_success", { addr: edge.addr })).toBe(
      1,
    );

    pool.remove({ addr: edge.addr });
    const after = (await scrape(server.address)).families;
    expect(after.get("agentpool_agent_info")?.samples ?? []).toEqual([]);
    expect(after.get("agentpool_agent_info_probe_success")?.samples ?? []).toEqual([]);
  });

  it("reports a failing probe as probe_success 0 and no agent_info", async () => {
    const { server, pool } = await openStatus(opened);
    pool.add({ addr: "127.0.0.1:1", name: "closed-port", tls: pki.clientTls });
    const families = await waitFor("the failed probe", async () => {
      const { families } = await scrape(server.address);
      return sampleValue(families, "agentpool_agent_info_probe_success", {
        addr: "127.0.0.1:1",
      }) === 0
        ? families
        : undefined;
    });
    expect(families.get("agentpool_agent_info")?.samples ?? []).toEqual([]);
  });

  it("keeps each daemon's metrics in its own registry, never the global one", async () => {
    const one = await openStatus(opened);
    const two = await openStatus(opened);
    one.results$.next(failedResult());
    const a = (await scrape(one.server.address)).families;
    const b = (await scrape(two.server.address)).families;
    expect(sampleValue(a, "agentpool_reloads_total", { result: "failure" })).toBe(1);
    expect(sampleValue(b, "agentpool_reloads_total", { result: "failure" })).toBe(0);
    const global = await globalRegistry.getMetricsAsJSON();
    expect(global.filter((m) => m.name.startsWith("agentpool_"))).toEqual([]);
    expect(one.server.metrics.registry).not.toBe(two.server.metrics.registry);
  });

  it("records into metrics passed in by the daemon", async () => {
    const metrics = createMetrics({ processMetrics: false });
    const { results$ } = await openStatus(opened, { metrics });
    results$.next(okResult());
    const text = await metrics.registry.metrics();
    const families = parsePrometheusText(text);
    expect(sampleValue(families, "agentpool_reloads_total", { result: "success" })).toBe(1);
    expect(families.has("process_cpu_user_seconds_total")).toBe(false);
  });

  it("validates its options with one sentence", () => {
    expect(() => createMetrics({ processMetrics: "yes" as unknown as boolean })).toThrow(
      "processMetrics must be a boolean.",
    );
  });
});
