/**
 * 1. Lookups: get(addr), get("agent://addr") and getAgent(name) at 10, 1,000
 * and 10,000 agents, in operations per second.
 */
import { AgentPool } from "../../src/pool/pool.js";
import { createTestPki } from "../../src/testing/index.js";
import { type BenchOptions, type Figure, fmtInt, type MeasureResult } from "./lib/figure.js";
import { agentConfigs } from "./lib/fixture.js";
import { formatRate, median } from "./lib/stats.js";

const TARGET_OPS = 10_000_000;
/**
 * getAgent's speed at the largest pool over its speed at the smallest must be
 * at least this share of the same ratio for a bare Map of as many entries: a
 * hash index also slows down as it outgrows the CPU caches; a scan would fall
 * by the size ratio (1,000×).
 */
const SCALING_SHARE = 0.5;
const KEY_COUNT = 1 << 16;

// One loop per operation, each with a single call site, so V8 sees one
// receiver class there (as in real use). Results are counted and checked, so
// no lookup can be optimised away.
function loopGet(pool: AgentPool, keys: readonly string[], ops: number): number {
  const mask = keys.length - 1;
  let found = 0;
  for (let i = 0; i < ops; i++) if (pool.get(keys[i & mask] as string) !== undefined) found++;
  return found;
}

function loopGetDockerHost(pool: AgentPool, keys: readonly string[], ops: number): number {
  const mask = keys.length - 1;
  let found = 0;
  for (let i = 0; i < ops; i++) if (pool.get(keys[i & mask] as string) !== undefined) found++;
  return found;
}

function loopGetAgent(pool: AgentPool, keys: readonly string[], ops: number): number {
  const mask = keys.length - 1;
  let found = 0;
  for (let i = 0; i < ops; i++) if (pool.getAgent(keys[i & mask] as string) !== undefined) found++;
  return found;
}

/** The control: a bare Map from name to agent config, the fastest index there is. */
function loopPlainMap(map: Map<string, object>, keys: readonly string[], ops: number): number {
  const mask = keys.length - 1;
  let found = 0;
  for (let i = 0; i < ops; i++) if (map.get(keys[i & mask] as string) !== undefined) found++;
  return found;
}

/** A deterministic generator, so every run looks the same keys up. */
function rng(seed: number): () => number {
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
function keysOf(values: readonly string[], seed: number): string[] {
  const random = rng(seed);
  const keys: string[] = [];
  for (let i = 0; i < KEY_COUNT; i++) {
    const value = values[Math.floor(random() * values.length)] as string;
    keys.push(value.split("").join(""));
  }
  return keys;
}

type Loop<T> = (target: T, keys: readonly string[], ops: number) => number;

function opsPerSecond<T>(loop: Loop<T>, target: T, keys: string[], ops: number, rounds: number) {
  loop(target, keys, ops); // warm-up: compile, hash every key string once
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const started = performance.now();
    const found = loop(target, keys, ops);
    const seconds = (performance.now() - started) / 1000;
    if (found !== ops) throw new Error(`lookup loop found ${found} of ${ops}: wrong keys`);
    rates.push(ops / seconds);
  }
  return { median: median(rates), rounds: rates };
}

export async function run(options: BenchOptions): Promise<MeasureResult> {
  const sizes = options.quick ? [10, 1_000] : [10, 1_000, 10_000];
  const ops = options.quick ? 100_000 : 2_000_000;
  const rounds = options.quick ? 3 : 5;
  const pki = await createTestPki();
  const figures: Figure[] = [];
  const getAgentRates = new Map<number, number>();
  const getRates = new Map<number, number>();
  const plainRates = new Map<number, number>();

  for (const size of sizes) {
    const pool = new AgentPool();
    const configs = agentConfigs(size, pki.clientTls);
    pool.batch(() => {
      for (const config of configs) pool.add(config);
    });
    const addrList = configs.map((c) => c.addr);
    const nameKeys = keysOf(
      configs.map((c) => c.name as string),
      size + 2,
    );
    const cases: Array<{ op: string; label: string; loop: Loop<AgentPool>; keys: string[] }> = [
      { op: "get.addr", label: "get(addr)", loop: loopGet, keys: keysOf(addrList, size) },
      {
        op: "get.dockerHost",
        label: 'get("agent://addr")',
        loop: loopGetDockerHost,
        keys: keysOf(
          addrList.map((a) => `agent://${a}`),
          size + 1,
        ),
      },
      { op: "getAgent", label: "getAgent(name)", loop: loopGetAgent, keys: nameKeys },
    ];
    for (const c of cases) {
      const rate = opsPerSecond(c.loop, pool, c.keys, ops, rounds);
      if (c.op === "getAgent") getAgentRates.set(size, rate.median);
      if (c.op === "get.addr") getRates.set(size, rate.median);
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
    const plain = new Map<string, object>(configs.map((c) => [c.name as string, c]));
    const control = opsPerSecond(loopPlainMap, plain, nameKeys, ops, rounds);
    plainRates.set(size, control.median);
    figures.push({
      id: `lookups.plainMap.${size}`,
      label: `control: bare Map.get(name) at ${fmtInt(size)} entries`,
      value: control.median,
      unit: "ops/s",
      display: `${formatRate(control.median)} ops/s`,
      detail: `same keys as getAgent; median of ${rounds} rounds × ${fmtInt(ops)} ops`,
      target: null,
      pass: null,
      data: { rounds: control.rounds, ops },
    });
    pool.removeAll();
  }

  const smallest = sizes[0] as number;
  const largest = sizes[sizes.length - 1] as number;
  const ratio = (rates: Map<number, number>) =>
    (rates.get(largest) as number) / (rates.get(smallest) as number);
  const scaling = ratio(getAgentRates);
  const plainScaling = ratio(plainRates);
  figures.push({
    id: "lookups.getAgent.scaling",
    label: `getAgent(name): ops/s at ${fmtInt(largest)} ÷ at ${fmtInt(smallest)} agents`,
    value: scaling,
    unit: "ratio",
    display: scaling.toFixed(2),
    detail:
      `bare Map control: ${plainScaling.toFixed(2)}; get(addr): ${ratio(getRates).toFixed(2)}; ` +
      `a scan would give ≈ ${(smallest / largest).toFixed(4)}`,
    target: `≥ ${SCALING_SHARE} × the bare Map's ratio (≥ ${(SCALING_SHARE * plainScaling).toFixed(2)})`,
    pass: scaling >= SCALING_SHARE * plainScaling,
    data: { getAgent: scaling, plainMap: plainScaling, getAddr: ratio(getRates) },
  });

  return {
    key: "lookups",
    title: "1. Lookups",
    how:
      "A pool of N agents (addrs 10.x.y.z:8890, one frozen TLS object shared by all, as the loader " +
      "hands out) is built once per size. Each operation runs in its own tight loop over " +
      `${fmtInt(KEY_COUNT)} keys drawn at random from the pool's agents (fresh string objects, not ` +
      "the pool's own keys); the loop counts the agents found and the bench checks that every " +
      "lookup found one, so nothing can be optimised away. One warm-up round, then the median " +
      "of the timed rounds. The scaling row divides getAgent's rate at the largest pool by its " +
      "rate at the smallest. A hash index slows down too as it outgrows the CPU caches, so the " +
      "same ratio is measured for a control — a bare Map from name to object, same keys, same " +
      "sizes — and getAgent passes when it keeps at least half the control's ratio; a linear scan " +
      "would fall by the size ratio (1,000×).",
    figures,
    notes: [],
  };
}
