/**
 * A reload's swap — `batch(() => { removeAll(); add(each) })` — that re-adds
 * the published addrs in order is published without building new indexes;
 * these tests hold it to the same results as any other batch.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Agent, type AgentConfig, AgentPool, type PoolSnapshot } from "../../src/index.js";
import { poolFixture } from "./fixture.js";

const { state: fx, newPool } = poolFixture();

function record(pool: AgentPool): PoolSnapshot[] {
  const seen: PoolSnapshot[] = [];
  pool.snapshots$.subscribe((s) => seen.push(s));
  return seen;
}

const swap = (pool: AgentPool, configs: readonly AgentConfig[]) =>
  pool.batch(
    () => {
      pool.removeAll();
      for (const config of configs) pool.add(config);
    },
    { cause: "reload" },
  );

describe("a reload's swap of the same addrs", () => {
  it("an iterator part-way through when a swap renames every agent in place sees only the agents of before", () => {
    const pool = newPool();
    const addrs = ["a:1", "b:1", "c:1", "d:1"];
    swap(
      pool,
      addrs.map((addr, i) => ({ addr, name: `blue-${i}`, tls: fx.pki.clientTls })),
    );
    const iterator = pool.iter();
    const seen = [iterator.next().value?.[1].name];
    swap(
      pool,
      addrs.map((addr, i) => ({ addr, name: `green-${i}`, tls: fx.pki.clientTls })),
    );
    for (let step = iterator.next(); !step.done; step = iterator.next())
      seen.push(step.value[1].name);
    expect(seen).toEqual(["blue-0", "blue-1", "blue-2", "blue-3"]);
    expect([...pool].map(([, agent]) => agent.name)).toEqual([
      "green-0",
      "green-1",
      "green-2",
      "green-3",
    ]);
  });

  it("renaming every agent moves the name index and keeps addr and agent:// lookups", () => {
    const pool = newPool();
    const seen = record(pool);
    const addrs = ["a:1", "b:1", "c:1"];
    swap(
      pool,
      addrs.map((addr, i) => ({ addr, name: `blue-${i}`, tls: fx.pki.clientTls })),
    );
    const blue = pool.list();
    swap(
      pool,
      addrs.map((addr, i) => ({ addr, name: `green-${i}`, tls: fx.pki.clientTls })),
    );
    const last = seen.at(-1) as PoolSnapshot;
    expect(seen).toHaveLength(3);
    expect(last.changed).toEqual(addrs);
    expect(last.added).toEqual([]);
    expect(last.removed).toEqual([]);
    expect(last.cause).toBe("reload");
    expect(Object.isFrozen(last.agents)).toBe(true);
    expect(last.agents.map((a) => a.name)).toEqual(["green-0", "green-1", "green-2"]);
    for (const [i, addr] of addrs.entries()) {
      const agent = pool.get(addr) as Agent;
      expect(agent.name).toBe(`green-${i}`);
      expect(agent).not.toBe(blue[i]);
      expect(pool.get(`agent://${addr}`)).toBe(agent);
      expect(pool.getAgent(`green-${i}`)).toBe(agent);
      expect(pool.getAgent(`blue-${i}`)).toBeUndefined();
      // The successor took over its predecessor's sockets.
      expect(agent.httpClient()).toBe((blue[i] as Agent).httpClient());
    }
  });

  it("closes the sockets of an agent whose TLS material fx.rotated, and only those", () => {
    const pool = newPool();
    const configs = ["a:1", "b:1"].map((addr) => ({ addr, name: addr, tls: fx.pki.clientTls }));
    swap(pool, configs);
    const [a, b] = pool.list() as [Agent, Agent];
    const clientOfA = a.httpClient();
    const clientOfB = b.httpClient();
    swap(pool, [configs[0] as AgentConfig, { addr: "b:1", name: "b:1", tls: fx.rotated }]);
    expect(pool.get("a:1")).toBe(a);
    expect(pool.get("b:1")).not.toBe(b);
    expect(pool.snapshot.changed).toEqual(["b:1"]);
    expect((clientOfB as unknown as { closed: boolean }).closed).toBe(true);
    expect((clientOfA as unknown as { closed: boolean }).closed).toBe(false);
    expect(pool.get("b:1")?.httpClient()).not.toBe(clientOfB);
  });

  it("a swap that stops half-way through the addrs removes the rest", () => {
    const pool = newPool();
    swap(
      pool,
      ["a:1", "b:1", "c:1"].map((addr) => ({ addr, tls: fx.pki.clientTls })),
    );
    swap(pool, [{ addr: "a:1", name: "first", tls: fx.pki.clientTls }]);
    expect(pool.list().map((a) => a.addr)).toEqual(["a:1"]);
    expect(pool.snapshot.removed).toEqual(["b:1", "c:1"]);
    expect(pool.snapshot.changed).toEqual(["a:1"]);
    expect(pool.getAgent("first")?.addr).toBe("a:1");
    expect(pool.get("b:1")).toBeUndefined();
  });

  it("code in the batch sees its own changes half-way through a swap", () => {
    const pool = newPool();
    const configs = ["a:1", "b:1"].map((addr) => ({ addr, name: "old", tls: fx.pki.clientTls }));
    swap(pool, configs);
    const seen: Array<string | undefined> = [];
    pool.batch(() => {
      pool.removeAll();
      expect(pool.size).toBe(0);
      pool.add({ addr: "a:1", name: "new", tls: fx.pki.clientTls });
      expect(pool.size).toBe(1);
      expect(pool.list().map((a) => a.name)).toEqual(["new"]);
      seen.push(pool.get("a:1")?.name, pool.get("b:1")?.name, pool.getAgent("new")?.addr);
      pool.add({ addr: "b:1", name: "new", tls: fx.pki.clientTls });
    });
    expect(seen).toEqual(["new", undefined, "a:1"]);
    expect(pool.getAgent("new")?.addr).toBe("a:1");
    expect(pool.getAgent("old")).toBeUndefined();
    expect(pool.list().map((a) => a.name)).toEqual(["new", "new"]);
  });

  it("a swap that throws leaves the published agents and indexes as they were", () => {
    const pool = newPool();
    swap(
      pool,
      ["a:1", "b:1"].map((addr) => ({ addr, name: `${addr}-old`, tls: fx.pki.clientTls })),
    );
    const before = pool.list();
    const version = pool.snapshot.version;
    expect(() =>
      pool.batch(() => {
        pool.removeAll();
        pool.add({ addr: "a:1", name: "a:1-new", tls: fx.pki.clientTls });
        pool.add({ addr: "b:1", name: "b:1-new", tls: { ...fx.pki.clientTls, key: "garbage" } });
      }),
    ).toThrow(/b:1: tls\.key/);
    expect(pool.list()).toEqual(before);
    expect(pool.snapshot.version).toBe(version);
    expect(pool.getAgent("a:1-old")).toBe(before[0]);
    expect(pool.getAgent("a:1-new")).toBeUndefined();
    expect(pool.get("agent://a:1")).toBe(before[0]);
  });
});

describe("swaps with names and rotations (property)", () => {
  const addrs = ["a:1", "b:1", "c:1", "d:1"];
  const names = ["x", "y", "z"];
  type Entry = { addr: string; name: string; tls: 0 | 1 };
  const entry = (addr: string) =>
    fc.record({
      addr: fc.constant(addr),
      name: fc.constantFrom(...names, addr),
      tls: fc.constantFrom(0 as const, 1 as const),
    });
  // A swap usually re-adds the published addrs in order (the fast path),
  // sometimes a prefix, a reordering or a batch that throws half-way.
  const step = fc.record({
    pick: fc.constantFrom("same", "prefix", "any"),
    entries: fc.tuple(...addrs.map(entry)),
    order: fc.shuffledSubarray(addrs),
    count: fc.nat(addrs.length),
    fail: fc.boolean(),
  });

  it("every snapshot, list(), get() and getAgent() agree with a model of the pool", () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 20 }), (run) => {
        const pool = new AgentPool();
        const tlsOf = (t: 0 | 1) =>
          t === 0 ? fx.pki.clientTls : (fx.rotated as AgentConfig["tls"]);
        let model: Entry[] = [];
        let agents = new Map<string, Agent>();
        const violations: string[] = [];
        const check = (where: string, expected: readonly Entry[]) => {
          const got = pool.list().map((a) => `${a.addr}=${a.name}`);
          const want = expected.map((e) => `${e.addr}=${e.name}`);
          if (got.join() !== want.join()) violations.push(`${where}: list ${got} expected ${want}`);
          for (const name of [...names, ...addrs]) {
            const first = expected.find((e) => e.name === name)?.addr;
            if (pool.getAgent(name)?.addr !== first) violations.push(`${where}: getAgent ${name}`);
          }
          for (const addr of addrs) {
            const agent = pool.get(addr);
            if (agent !== pool.get(`agent://${addr}`))
              violations.push(`${where}: agent:// ${addr}`);
            if ((agent === undefined) !== !expected.some((e) => e.addr === addr))
              violations.push(`${where}: get ${addr}`);
          }
        };
        let expectedNow: Entry[] = [];
        pool.snapshots$.subscribe((s) => {
          const got = s.agents.map((a) => `${a.addr}=${a.name}`).join();
          if (got !== expectedNow.map((e) => `${e.addr}=${e.name}`).join())
            violations.push(`snapshot ${got}`);
          check("subscriber", expectedNow);
        });
        for (const s of run) {
          const published = model.map((e) => e.addr);
          const order =
            s.pick === "same"
              ? published
              : s.pick === "prefix"
                ? published.slice(0, s.count)
                : s.order;
          const next = order.map((addr) => s.entries[addrs.indexOf(addr)] as Entry);
          const version = pool.snapshot.version;
          if (s.fail) {
            expect(() =>
              pool.batch(() => {
                pool.removeAll();
                for (const e of next) pool.add({ addr: e.addr, name: e.name, tls: tlsOf(e.tls) });
                throw new Error("boom");
              }),
            ).toThrow("boom");
            expect(pool.snapshot.version).toBe(version);
            check("after a throwing swap", model);
            continue;
          }
          expectedNow = next;
          swap(
            pool,
            next.map((e) => ({ addr: e.addr, name: e.name, tls: tlsOf(e.tls) })),
          );
          const keep = (e: Entry) => {
            const old = model.find((m) => m.addr === e.addr);
            return old !== undefined && old.name === e.name && old.tls === e.tls;
          };
          const changed = next.filter((e) => model.some((m) => m.addr === e.addr) && !keep(e));
          const added = next.filter((e) => !model.some((m) => m.addr === e.addr));
          const removed = model.filter((m) => !next.some((e) => e.addr === m.addr));
          const sameOrder = published.join() === next.map((e) => e.addr).join();
          if (changed.length + added.length + removed.length === 0 && sameOrder) {
            expect(pool.snapshot.version).toBe(version);
          } else {
            expect(pool.snapshot.version).toBe(version + 1);
            expect(pool.snapshot.changed).toEqual(changed.map((e) => e.addr));
            expect(pool.snapshot.added).toEqual(added.map((e) => e.addr));
            expect(pool.snapshot.removed).toEqual(removed.map((e) => e.addr));
          }
          for (const e of next) {
            const agent = pool.get(e.addr) as Agent;
            if (keep(e)) expect(agent).toBe(agents.get(e.addr));
            else expect(agent).not.toBe(agents.get(e.addr));
          }
          model = next;
          agents = new Map(pool.list().map((a) => [a.addr, a]));
          check("after a swap", model);
        }
        expect(violations).toEqual([]);
        for (const agent of pool.list()) void agent.close();
      }),
      { numRuns: 150 },
    );
  });
});
