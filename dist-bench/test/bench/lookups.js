/**
 * 1. Lookups: get(addr), get("agent://addr") and getAgent(name) at 10, 1,000
 * and 10,000 agents, in operations per second.
 */
import { AgentPool } from "../../src/pool/pool.js";
import { createTestPki } from "../../src/testing/index.js";
import { fmtInt } from "./lib/figure.js";
import { agentConfigs } from "./lib/fixture.js";
import { formatRate, median } from "./lib/stats.js";
const TARGET_OPS = 10_000_000;
/** getAgent at 10,000 agents must keep at least this share of its speed at 10 agents. */
const SCALING_FLOOR = 0.5;
const KEY_COUNT = 1 << 16;
// One loop per operation, each with a single call site, so V8 sees one
// receiver class there (as in real use). Results are counted and checked, so
// no lookup can be optimised away.
function loopGet(pool, keys, ops) {
    const mask = keys.length - 1;
    let found = 0;
    for (let i = 0; i < ops; i++)
        if (pool.get(keys[i & mask]) !== undefined)
            found++;
    return found;
}
function loopGetDockerHost(pool, keys, ops) {
    const mask = keys.length - 1;
    let found = 0;
    for (let i = 0; i < ops; i++)
        if (pool.get(keys[i & mask]) !== undefined)
            found++;
    return found;
}
function loopGetAgent(pool, keys, ops) {
    const mask = keys.length - 1;
    let found = 0;
    for (let i = 0; i < ops; i++)
        if (pool.getAgent(keys[i & mask]) !== undefined)
            found++;
    return found;
}
/** A deterministic generator, so every run looks the same keys up. */
function rng(seed) {
    let s = seed >>> 0;
    return () => {
        s = (s + 0x6d2b79f5) >>> 0;
        let t = s;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}
/**
 * KEY_COUNT keys drawn at random from `values`, each a string object of its
 * own (built anew, not the pool's own key objects), as a caller's would be.
 */
function keysOf(values, seed) {
    const random = rng(seed);
    const keys = [];
    for (let i = 0; i < KEY_COUNT; i++) {
        const value = values[Math.floor(random() * values.length)];
        keys.push(value.split("").join(""));
    }
    return keys;
}
function opsPerSecond(loop, pool, keys, ops, rounds) {
    loop(pool, keys, ops); // warm-up: compile, hash every key string once
    const rates = [];
    for (let r = 0; r < rounds; r++) {
        const started = performance.now();
        const found = loop(pool, keys, ops);
        const seconds = (performance.now() - started) / 1000;
        if (found !== ops)
            throw new Error(`lookup loop found ${found} of ${ops}: wrong keys`);
        rates.push(ops / seconds);
    }
    return { median: median(rates), rounds: rates };
}
export async function run(options) {
    const sizes = options.quick ? [10, 1_000] : [10, 1_000, 10_000];
    const ops = options.quick ? 100_000 : 3_000_000;
    const rounds = options.quick ? 3 : 7;
    const pki = await createTestPki();
    const figures = [];
    const getAgentRates = new Map();
    const getRates = new Map();
    for (const size of sizes) {
        const pool = new AgentPool();
        const configs = agentConfigs(size, pki.clientTls);
        pool.batch(() => {
            for (const config of configs)
                pool.add(config);
        });
        const addrList = configs.map((c) => c.addr);
        const cases = [
            { op: "get.addr", label: "get(addr)", loop: loopGet, keys: keysOf(addrList, size) },
            {
                op: "get.dockerHost",
                label: 'get("agent://addr")',
                loop: loopGetDockerHost,
                keys: keysOf(addrList.map((a) => `agent://${a}`), size + 1),
            },
            {
                op: "getAgent",
                label: "getAgent(name)",
                loop: loopGetAgent,
                keys: keysOf(configs.map((c) => c.name), size + 2),
            },
        ];
        for (const c of cases) {
            const rate = opsPerSecond(c.loop, pool, c.keys, ops, rounds);
            if (c.op === "getAgent")
                getAgentRates.set(size, rate.median);
            if (c.op === "get.addr")
                getRates.set(size, rate.median);
            figures.push({
                id: `lookups.${c.op}.${size}`,
                label: `${c.label} at ${fmtInt(size)} agents`,
                value: rate.median,
                unit: "ops/s",
                display: `${formatRate(rate.median)} ops/s`,
                detail: `median of ${rounds} rounds × ${fmtInt(ops)} ops; range ${formatRate(Math.min(...rate.rounds))}–${formatRate(Math.max(...rate.rounds))}`,
                target: "≥ 10 M ops/s",
                pass: rate.median >= TARGET_OPS,
                data: { rounds: rate.rounds, ops },
            });
        }
        pool.removeAll();
    }
    const smallest = sizes[0];
    const largest = sizes[sizes.length - 1];
    const scaling = getAgentRates.get(largest) / getAgentRates.get(smallest);
    const addrScaling = getRates.get(largest) / getRates.get(smallest);
    figures.push({
        id: "lookups.getAgent.scaling",
        label: `getAgent(name): ops/s at ${fmtInt(largest)} ÷ at ${fmtInt(smallest)} agents`,
        value: scaling,
        unit: "ratio",
        display: scaling.toFixed(2),
        detail: `same ratio for get(addr), a plain Map lookup: ${addrScaling.toFixed(2)}; a scan would give ≈ ${(smallest / largest).toFixed(4)}`,
        target: `≥ ${SCALING_FLOOR} (no degradation beyond cache effects)`,
        pass: scaling >= SCALING_FLOOR,
    });
    return {
        key: "lookups",
        title: "1. Lookups",
        how: "A pool of N agents (addrs 10.x.y.z:8890, one frozen TLS object shared by all, as the loader " +
            "hands out) is built once per size. Each operation runs in its own tight loop over " +
            `${fmtInt(KEY_COUNT)} keys drawn at random from the pool's agents (fresh string objects, not ` +
            "the pool's own keys); the loop counts the agents found and the bench checks that every " +
            "lookup found one, so nothing can be optimised away. One warm-up round, then the median " +
            "of the timed rounds. The scaling row divides getAgent's rate at the largest pool by its " +
            "rate at the smallest: an index stays near 1 (less only through CPU cache misses, which " +
            "get(addr) shows too), a linear scan would fall by the size ratio.",
        figures,
        notes: [],
    };
}
