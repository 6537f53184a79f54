/**
 * 4. Connection reuse: TLS handshakes per agent per no-op reload, against real
 * mTLS servers that count them, for agentpool and for a naive pool that builds
 * new clients on every reload (GoDoxy's behaviour).
 */
import { writeFile } from "node:fs/promises";
import { Agent, type AgentConfig } from "../../src/agent/agent.js";
import { loadConfig } from "../../src/config/load.js";
import { AgentPool } from "../../src/pool/pool.js";
import type { ReloadResult } from "../../src/reload/result.js";
import { watchConfig } from "../../src/reload/watch-config.js";
import { createTestPki, startTestAgent, type TestAgent } from "../../src/testing/index.js";
import { type BenchOptions, type Figure, fmtInt, type MeasureResult } from "./lib/figure.js";
import { configYaml, createConfigDir } from "./lib/fixture.js";
import { sleep } from "./lib/stats.js";

const handshakes = (servers: readonly TestAgent[]) => servers.reduce((n, s) => n + s.handshakes, 0);
const requests = (servers: readonly TestAgent[]) => servers.reduce((n, s) => n + s.requests, 0);

/**
 * How long after a request's body is read the bench waits before the next
 * reload. undici marks a connection free only a moment after the body ends;
 * a request sent in that gap opens a second connection, whatever the pool does.
 */
const SETTLE_MS = 10;

/** One GET through each agent's dispatcher, body read to the end, then SETTLE_MS. */
async function touchAll(agents: readonly Agent[]): Promise<void> {
  await Promise.all(
    agents.map(async (agent) => {
      const res = await agent.httpClient().request({ path: "/_ping", method: "GET" });
      const body = await res.body.text();
      if (res.statusCode !== 200 || body !== "OK")
        throw new Error(`${agent.addr}: HTTP ${res.statusCode}`);
    }),
  );
  await sleep(SETTLE_MS);
}

function nextResult(results: ReloadResult[], count: number): Promise<ReloadResult> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 10_000;
    const poll = () => {
      const result = results[count];
      if (result) resolve(result);
      else if (Date.now() > deadline) {
        const seen = results.map((r) => `${r.cause}:${r.ok ? `v${r.version}` : r.error.code}`);
        reject(
          new Error(
            `no result for reload ${count} within 10 s; results so far: ${seen.join(", ")}`,
          ),
        );
      } else setTimeout(poll, 1);
    };
    poll();
  });
}

interface Outcome {
  handshakesPerAgentPerReload: number;
  handshakes: number;
  requests: number;
}

export async function run(options: BenchOptions): Promise<MeasureResult> {
  const agentCount = options.quick ? 5 : 20;
  const reloads = options.quick ? 3 : 10;
  const pki = await createTestPki();
  const servers = await Promise.all(
    Array.from({ length: agentCount }, () => startTestAgent({ pki })),
  );
  const dir = await createConfigDir(pki);
  const outcomes = new Map<string, Outcome>();

  try {
    await writeFile(
      dir.configPath,
      configYaml(servers.map((s, i) => ({ addr: s.addr, name: `server-${i}` }))),
    );

    // agentpool, driven by the real watcher: watcher.reload() as SIGHUP does.
    {
      const pool = new AgentPool();
      const watcher = watchConfig(pool, { configPath: dir.configPath });
      const results: ReloadResult[] = [];
      const subscription = watcher.results$.subscribe((r) => results.push(r));
      try {
        await watcher.ready;
        // The watcher sends itself catch-up events once its folder watches are
        // open. Start after them: a file event during a forced reload's
        // preparation replaces that attempt, and with unchanged bytes the
        // replacement counts as no change, so the forced reload gives no result.
        await sleep(300);
        await touchAll(pool.list());
        const h0 = handshakes(servers);
        const r0 = requests(servers);
        for (let i = 1; i <= reloads; i++) {
          const seen = results.length;
          watcher.reload();
          const result = await nextResult(results, seen);
          if (!result.ok) throw new Error(`reload rejected: ${result.error.message}`);
          await touchAll(pool.list());
        }
        const made = handshakes(servers) - h0;
        outcomes.set("watcher", {
          handshakesPerAgentPerReload: made / (agentCount * reloads),
          handshakes: made,
          requests: requests(servers) - r0,
        });
      } finally {
        subscription.unsubscribe();
        await watcher.close();
        await Promise.all(pool.list().map((a) => a.close()));
      }
    }

    // agentpool as a library: the same frozen configs swapped in again and again.
    {
      const { agents: configs } = await loadConfig(dir.configPath);
      const pool = new AgentPool();
      const swap = (list: readonly AgentConfig[]) =>
        pool.batch(() => {
          pool.removeAll();
          for (const c of list) pool.add(c);
        });
      swap(configs);
      await touchAll(pool.list());
      const h0 = handshakes(servers);
      const r0 = requests(servers);
      for (let i = 1; i <= reloads; i++) {
        swap(configs);
        await touchAll(pool.list());
      }
      const made = handshakes(servers) - h0;
      outcomes.set("batch", {
        handshakesPerAgentPerReload: made / (agentCount * reloads),
        handshakes: made,
        requests: requests(servers) - r0,
      });
      await Promise.all(pool.list().map((a) => a.close()));
    }

    // The naive pool: every reload loads the config and builds new Agent
    // objects (each with a new undici Pool), as GoDoxy's pool does; the old
    // ones are closed once replaced.
    {
      let current = new Map<string, Agent>();
      const naiveReload = async () => {
        const { agents: configs } = await loadConfig(dir.configPath);
        const next = new Map(configs.map((c) => [c.addr, new Agent(c)] as const));
        const old = current;
        current = next;
        await Promise.all([...old.values()].map((a) => a.close()));
      };
      await naiveReload();
      await touchAll([...current.values()]);
      const h0 = handshakes(servers);
      const r0 = requests(servers);
      for (let i = 1; i <= reloads; i++) {
        await naiveReload();
        await touchAll([...current.values()]);
      }
      const made = handshakes(servers) - h0;
      outcomes.set("naive", {
        handshakesPerAgentPerReload: made / (agentCount * reloads),
        handshakes: made,
        requests: requests(servers) - r0,
      });
      await Promise.all([...current.values()].map((a) => a.close()));
    }
  } finally {
    await Promise.all(servers.map((s) => s.close()));
    await dir.cleanup();
  }

  const row = (
    key: string,
    label: string,
    target: string | null,
    pass: (o: Outcome) => boolean | null,
  ): Figure => {
    const o = outcomes.get(key) as Outcome;
    return {
      id: `connections.${key}`,
      label,
      value: o.handshakesPerAgentPerReload,
      unit: "handshakes/agent/reload",
      display: `${o.handshakesPerAgentPerReload.toFixed(2)} handshakes per agent per reload`,
      detail: `${fmtInt(o.handshakes)} handshakes for ${fmtInt(o.requests)} requests over ${reloads} reloads × ${agentCount} agents`,
      target,
      pass: pass(o),
      data: { ...o, agents: agentCount, reloads },
    };
  };

  return {
    key: "connections",
    title: "4. Connection reuse",
    how:
      `${agentCount} real mTLS test agents (startTestAgent on 127.0.0.1, counting completed TLS handshakes ` +
      "on the server side) and a config.yml listing them. Each client first sends one request " +
      "through every agent (opening one connection each, not counted), then does " +
      `${reloads} no-op reloads, sending one request through every agent after each, and the ` +
      "servers' handshake count divided by agents × reloads is the figure. Each round of requests " +
      `is followed by ${SETTLE_MS} ms before the next reload: undici marks a connection free a moment ` +
      "after its response body ends, and a request sent inside that gap opens a second connection " +
      "whatever the pool does (seen while building this bench: 1 handshake per agent on the first " +
      "back-to-back swap). agentpool is measured " +
      "through the real watcher (watcher.reload(), what SIGHUP does: read, parse, validate, swap) " +
      "and as a library (pool.batch(removeAll + add) with the loader's frozen configs). The naive " +
      "pool loads the same file with loadConfig() and builds a new Agent — hence a new undici " +
      "Pool — for every entry on every reload, as GoDoxy's agent pool does, closing the old ones.",
    figures: [
      row(
        "watcher",
        "agentpool, no-op reload via watcher.reload()",
        "0",
        (o) => o.handshakes === 0,
      ),
      row("batch", "agentpool, no-op swap via pool.batch()", "0", (o) => o.handshakes === 0),
      row("naive", "naive pool (new clients per reload, GoDoxy's behaviour)", null, () => null),
    ],
    notes: [],
  };
}
