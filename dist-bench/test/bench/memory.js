/**
 * 6. Memory: RSS and heap used after 1,000 reloads of a 1,000-agent config,
 * versus after the first. A leak test, run in a process of its own with
 * --expose-gc.
 */
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AgentPool } from "../../src/pool/pool.js";
import { watchConfig } from "../../src/reload/watch-config.js";
import { createTestPki } from "../../src/testing/index.js";
import { fmtInt } from "./lib/figure.js";
import { configAgents, configYaml, createConfigDir } from "./lib/fixture.js";
import { formatBytes } from "./lib/stats.js";
/** Heap growth counted as noise: V8 keeps some feedback, code and caches as a program runs. */
const HEAP_NOISE_BYTES = 2 * 1024 * 1024;
async function settle() {
    const gc = globalThis.gc;
    if (!gc)
        throw new Error("run with node --expose-gc");
    // Twice, with a turn of the event loop between: finalizers and weak refs settle.
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    gc();
}
function sample(reloads) {
    const m = process.memoryUsage();
    return { reloads, rss: m.rss, heapUsed: m.heapUsed, external: m.external };
}
/** Least-squares slope of heapUsed over reloads, bytes per reload. */
function slope(samples) {
    const n = samples.length;
    const mx = samples.reduce((a, s) => a + s.reloads, 0) / n;
    const my = samples.reduce((a, s) => a + s.heapUsed, 0) / n;
    let num = 0;
    let den = 0;
    for (const s of samples) {
        num += (s.reloads - mx) * (s.heapUsed - my);
        den += (s.reloads - mx) ** 2;
    }
    return den === 0 ? 0 : num / den;
}
export async function run(options) {
    const size = options.quick ? 100 : 1_000;
    const reloads = options.quick ? 50 : 1_000;
    const every = options.quick ? 10 : 100;
    const pki = await createTestPki();
    const dir = await createConfigDir(pki);
    // Two configs that differ in every agent: A names them blue-i; B names them
    // green-i and moves the last tenth to another port (100 removed, 100 added,
    // 900 renamed per reload), so each reload really builds and retires agents.
    const a = configAgents(size, "blue-");
    const b = configAgents(size, "green-").map((agent, i) => i >= size * 0.9 ? { ...agent, addr: agent.addr.replace(/:8890$/, ":8891") } : agent);
    const texts = [configYaml(a, "A"), configYaml(b, "B")];
    const tmpPath = join(dir.dir, ".config.yml.tmp");
    await writeFile(dir.configPath, texts[0]);
    const pool = new AgentPool();
    const watcher = watchConfig(pool, { configPath: dir.configPath });
    let done = 0;
    let failed = 0;
    let wake;
    const subscription = watcher.results$.subscribe((r) => {
        done++;
        if (!r.ok)
            failed++;
        wake?.();
    });
    const samples = [];
    try {
        await watcher.ready;
        await settle();
        samples.push(sample(1));
        for (let i = 2; i <= reloads; i++) {
            const target = done + 1;
            // Write-then-rename: one atomic change per reload, never a half-written file.
            await writeFile(tmpPath, texts[(i - 1) % 2]);
            await rename(tmpPath, dir.configPath);
            const deadline = Date.now() + 30_000;
            while (done < target) {
                if (Date.now() > deadline)
                    throw new Error(`reload ${i} produced no result within 30 s`);
                await new Promise((resolve) => {
                    wake = resolve;
                    setTimeout(resolve, 100).unref();
                });
                wake = undefined;
            }
            if (i % every === 0) {
                await settle();
                samples.push(sample(i));
            }
        }
    }
    finally {
        subscription.unsubscribe();
        await watcher.close();
        await Promise.all(pool.list().map((agent) => agent.close()));
        pool.removeAll();
        await dir.cleanup();
    }
    if (failed > 0)
        throw new Error(`${failed} reloads were rejected`);
    if (done < reloads)
        throw new Error(`only ${done} of ${reloads} reloads happened`);
    const first = samples[0];
    const last = samples[samples.length - 1];
    const warm = samples.find((s) => s.reloads >= every) ?? first;
    const heapGrowth = last.heapUsed - first.heapUsed;
    const rssGrowth = last.rss - first.rss;
    const tailSlope = slope(samples.filter((s) => s.reloads >= every));
    const trajectory = samples.map((s) => `${s.reloads}: ${formatBytes(s.heapUsed)}`).join(", ");
    const figures = [
        {
            id: "memory.heapUsed",
            label: `heap used after ${fmtInt(reloads)} reloads vs after the first (${fmtInt(size)} agents)`,
            value: heapGrowth,
            unit: "bytes",
            display: `${heapGrowth >= 0 ? "+" : ""}${formatBytes(heapGrowth)} (${formatBytes(first.heapUsed)} → ${formatBytes(last.heapUsed)})`,
            detail: `after ${fmtInt(warm.reloads)}: ${formatBytes(warm.heapUsed)}; slope over reloads ${fmtInt(warm.reloads)}–${fmtInt(last.reloads)}: ${tailSlope.toFixed(0)} B/reload; trajectory ${trajectory}`,
            target: `growth ≤ ${formatBytes(HEAP_NOISE_BYTES)} (noise)`,
            pass: heapGrowth <= HEAP_NOISE_BYTES,
            data: { samples, tailSlopeBytesPerReload: tailSlope },
        },
        {
            id: "memory.rss",
            label: `RSS after ${fmtInt(reloads)} reloads vs after the first (${fmtInt(size)} agents)`,
            value: rssGrowth,
            unit: "bytes",
            display: `${rssGrowth >= 0 ? "+" : ""}${formatBytes(rssGrowth)} (${formatBytes(first.rss)} → ${formatBytes(last.rss)})`,
            detail: `after ${fmtInt(warm.reloads)}: ${formatBytes(warm.rss)}; external ${formatBytes(first.external)} → ${formatBytes(last.external)}`,
            target: null,
            pass: null,
            data: { first: first.rss, warm: warm.rss, last: last.rss },
        },
    ];
    return {
        key: "memory",
        title: "6. Memory",
        how: `A config of ${fmtInt(size)} agents and the real watcher; two versions of the file alternate, ` +
            "written to a temporary file and renamed over config.yml, each reload renaming 90 % of the " +
            "agents and replacing the other 10 % (new addrs), so every reload builds new Agent objects and " +
            "retires old ones. The bench waits for each reload's result before the next write. After the " +
            `first load and every ${every} reloads it runs global.gc() twice (node --expose-gc; the measure ` +
            "runs in a process of its own) and records process.memoryUsage(). The figure is heap used " +
            `after reload ${fmtInt(reloads)} minus after the first; a leak of one small object per agent per ` +
            "reload would add megabytes. RSS is shown beside it without a target: V8 and the allocator " +
            "keep freed pages, so RSS moves by more than the heap does.",
        figures,
        notes: [],
    };
}
