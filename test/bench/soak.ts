/**
 * Soak: the whole daemon (runDaemon: watcher, status server, info prober) in
 * this process, reloaded 1,000 times against agents that refuse connections
 * and agents that accept TCP and never answer the TLS handshake. Heap used
 * and RSS after the last reload versus after the 50th, each after
 * global.gc() (the runner gives every measure --expose-gc).
 *
 * Every reload alternates two configs that name every agent differently, so
 * each one retires all Agent objects, builds new ones and re-probes them:
 * the worst case for anything kept per agent per reload.
 */
import { rename, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { type RunningDaemon, runDaemon } from "../../src/daemon/run.js";
import type { ReloadResult } from "../../src/reload/result.js";
import { createTestPki } from "../../src/testing/index.js";
import { type BenchOptions, type Figure, fmtInt, type MeasureResult } from "./lib/figure.js";
import { configYaml, createConfigDir } from "./lib/fixture.js";
import { formatBytes } from "./lib/stats.js";

/** Heap growth counted as noise once the first 50 reloads have warmed V8 up. */
const HEAP_NOISE_BYTES = 4 * 1024 * 1024;
/**
 * Quiet time before the baseline and the last sample, so both are taken in
 * the same state: the prober equally far through the agents of a fresh
 * reload, and no probe of a retired agent still stuck in the TLS handshake.
 * Such a probe holds that agent (and, through its abort reason's stack, the
 * reload that retired it) until the connect timeout (10 s) ends it: undici
 * notices an abort only once connected (https://github.com/nodejs/undici/issues/386).
 * That is memory in flight, bounded by time, not a leak.
 */
const SETTLE_MS = 15_000;

interface Sample {
  reloads: number;
  rss: number;
  heapUsed: number;
  /** Taken after SETTLE_MS without reloads. */
  settled?: boolean;
}

async function sample(reloads: number): Promise<Sample> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with node --expose-gc");
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  const m = process.memoryUsage();
  return { reloads, rss: m.rss, heapUsed: m.heapUsed };
}

/** Ports on 127.0.0.1 where nothing listens: bound once to get them, then closed. */
async function refusingPorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve) => {
          const server = createServer();
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** Servers that accept TCP and then say nothing: a TLS handshake that hangs. */
async function hangingServers(count: number): Promise<{ ports: number[]; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve) => {
          const server = createServer((socket) => {
            sockets.add(socket);
            socket.on("error", () => {});
            socket.on("close", () => sockets.delete(socket));
          });
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  return {
    ports: servers.map((s) => (s.address() as { port: number }).port),
    async close() {
      for (const socket of sockets) socket.destroy();
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    },
  };
}

export async function run(options: BenchOptions): Promise<MeasureResult> {
  const q = options.quick;
  const plan = {
    refusing: q ? 40 : 400,
    hanging: q ? 10 : 50,
    reloads: q ? 100 : 1_000,
    baseline: q ? 20 : 50,
    every: q ? 20 : 100,
  };
  const pki = await createTestPki();
  const dir = await createConfigDir(pki, "agentpool-soak-");
  const hanging = await hangingServers(plan.hanging);
  const ports = [...(await refusingPorts(plan.refusing)), ...hanging.ports];
  const texts = ["blue-", "green-"].map((prefix) =>
    configYaml(
      ports.map((port, i) => ({ addr: `127.0.0.1:${port}`, name: `${prefix}${i}` })),
      `soak ${prefix}`,
    ),
  );
  await writeFile(dir.configPath, texts[0] as string);

  let daemon: RunningDaemon | undefined;
  const stopped = runDaemon({
    configPath: dir.configPath,
    listen: "127.0.0.1:0",
    logLevel: "silent",
    modules: [],
    stderr: process.stderr,
    onReady: (d) => {
      daemon = d;
    },
  });
  const samples: Sample[] = [];
  let failed = 0;
  try {
    const deadline = Date.now() + 30_000;
    while (!daemon) {
      if (Date.now() > deadline) throw new Error("the daemon did not become ready within 30 s");
      await new Promise((r) => setTimeout(r, 10));
    }
    const running = daemon;
    let done = 0;
    let wake: (() => void) | undefined;
    const subscription = running.watcher.results$.subscribe((r: ReloadResult) => {
      done++;
      if (!r.ok) failed++;
      wake?.();
    });
    const tmpPath = join(dir.dir, ".config.yml.tmp");
    for (let i = 1; i <= plan.reloads; i++) {
      const target = done + 1;
      await writeFile(tmpPath, texts[i % 2] as string);
      await rename(tmpPath, dir.configPath);
      const until = Date.now() + 60_000;
      while (done < target) {
        if (Date.now() > until) throw new Error(`reload ${i} produced no result within 60 s`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 100).unref();
        });
        wake = undefined;
      }
      if (i === plan.baseline) {
        samples.push(await sample(i));
        await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
        samples.push({ ...(await sample(i)), settled: true });
      } else if (i > plan.baseline && i % plan.every === 0 && i < plan.reloads) {
        samples.push(await sample(i));
      }
    }
    samples.push({ ...(await sample(plan.reloads)), settled: false });
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    samples.push({ ...(await sample(plan.reloads)), settled: true });
    subscription.unsubscribe();
    running.stop();
  } finally {
    daemon?.stop();
    await stopped;
    await hanging.close();
    await dir.cleanup();
  }
  if (failed > 0) throw new Error(`${failed} reloads were rejected`);

  const first = samples.find((s) => s.settled) as Sample;
  const end = samples.find((s) => s.settled === false) as Sample;
  const last = samples[samples.length - 1] as Sample;
  const unsettled = samples[0] as Sample;
  const growth = last.heapUsed - first.heapUsed;
  const endGrowth = end.heapUsed - unsettled.heapUsed;
  const rssGrowth = last.rss - first.rss;
  const label = (s: Sample) =>
    s.settled ? `${fmtInt(s.reloads)} + ${SETTLE_MS / 1000} s quiet` : fmtInt(s.reloads);
  const trajectory = samples.map((s) => `${label(s)}: ${formatBytes(s.heapUsed)}`);
  const where = `${fmtInt(plan.reloads)} reloads of ${fmtInt(plan.refusing)} refusing + ${fmtInt(plan.hanging)} hanging agents`;
  const figures: Figure[] = [
    {
      id: "soak.heapUsed",
      label: `heap used ${SETTLE_MS / 1000} s after ${where}, vs ${SETTLE_MS / 1000} s after reload ${plan.baseline}`,
      value: growth,
      unit: "bytes",
      display: `${growth >= 0 ? "+" : ""}${formatBytes(growth)} (${formatBytes(first.heapUsed)} → ${formatBytes(last.heapUsed)})`,
      detail: `right after reload ${fmtInt(plan.reloads)} vs right after reload ${plan.baseline}: ${endGrowth >= 0 ? "+" : ""}${formatBytes(endGrowth)}; heap after reload ${trajectory.join(", ")}`,
      target: `growth ≤ ${formatBytes(HEAP_NOISE_BYTES)} (noise)`,
      pass: growth <= HEAP_NOISE_BYTES,
      data: { samples },
    },
    {
      id: "soak.rss",
      label: `RSS ${SETTLE_MS / 1000} s after ${where}, vs ${SETTLE_MS / 1000} s after reload ${plan.baseline}`,
      value: rssGrowth,
      unit: "bytes",
      display: `${rssGrowth >= 0 ? "+" : ""}${formatBytes(rssGrowth)} (${formatBytes(first.rss)} → ${formatBytes(last.rss)})`,
      detail: samples.map((s) => `${label(s)}: ${formatBytes(s.rss)}`).join(", "),
      target: null,
      pass: null,
    },
  ];
  return {
    key: "soak",
    title: "Soak: reloads with the status server and prober on",
    how:
      "runDaemon in the bench's own process (node --expose-gc), status server on 127.0.0.1:0 and " +
      `its info prober probing every agent: ${fmtInt(plan.refusing)} agents on ports where nothing ` +
      `listens (connection refused) and ${fmtInt(plan.hanging)} on servers that accept TCP and never ` +
      `answer the TLS handshake (each probe waits out its timeout). ${fmtInt(plan.reloads)} reloads, ` +
      "each a rename over config.yml of one of two versions that name every agent differently, so " +
      "every reload retires and rebuilds all agents and the prober starts over. Heap used and RSS " +
      `after global.gc() twice, after reload ${plan.baseline} (V8 warmed up) and every ` +
      `${plan.every} after; the figure compares the heap ${SETTLE_MS / 1000} s after reload ` +
      `${plan.baseline} with ${SETTLE_MS / 1000} s after the last, both taken in the same state: ` +
      "the prober as far through a fresh set of agents, and no probe of a retired agent still " +
      "stuck in a TLS handshake (it holds that agent until the 10 s connect timeout, since undici " +
      "notices an abort only once connected). " +
      "RSS is shown without a target: the allocator keeps freed pages.",
    figures,
    notes: [],
  };
}
