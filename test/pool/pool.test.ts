import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type AgentConfig, AgentPool, type PoolSnapshot } from "../../src/index.js";
import { poolFixture } from "./fixture.js";

const { state: fx, newPool } = poolFixture();

function cfg(addr: string, name?: string, tls = fx.pki.clientTls): AgentConfig {
  return name === undefined ? { addr, tls } : { addr, name, tls };
}

function record(pool: AgentPool): PoolSnapshot[] {
  const seen: PoolSnapshot[] = [];
  pool.snapshots$.subscribe((s) => seen.push(s));
  return seen;
}

describe("AgentPool", () => {
  it("adds, finds by addr, by agent://addr and by name", () => {
    const pool = newPool();
    expect(pool.add(cfg("10.0.0.1:8890", "alpha"))).toBe(true);
    expect(pool.add(cfg("[::1]:8890"))).toBe(true);
    expect(pool.get("10.0.0.1:8890")?.name).toBe("alpha");
    expect(pool.get("agent://10.0.0.1:8890")).toBe(pool.get("10.0.0.1:8890"));
    expect(pool.getAgent("alpha")?.addr).toBe("10.0.0.1:8890");
    expect(pool.getAgent("[::1]:8890")?.dockerHost).toBe("agent://[::1]:8890");
    expect(pool.get("agent://nope:1")).toBeUndefined();
    expect(pool.num()).toBe(2);
    expect(pool.size).toBe(2);
  });

  it("keeps the first agent on a duplicate add", () => {
    const pool = newPool();
    pool.add(cfg("h:1", "first"));
    const first = pool.get("h:1");
    expect(pool.add(cfg("h:1", "second"))).toBe(false);
    expect(pool.get("h:1")).toBe(first);
    expect(pool.getAgent("second")).toBeUndefined();
  });

  it("keeps the name index right through renames and removals", () => {
    const pool = newPool();
    pool.add(cfg("a:1", "web"));
    pool.batch(() => {
      pool.removeAll();
      pool.add(cfg("a:1", "api"));
      pool.add(cfg("b:1", "web"));
    });
    expect(pool.getAgent("api")?.addr).toBe("a:1");
    expect(pool.getAgent("web")?.addr).toBe("b:1");
    pool.remove(cfg("b:1"));
    expect(pool.getAgent("web")).toBeUndefined();
    expect(pool.has(cfg("b:1"))).toBe(false);
    expect(pool.has(cfg("a:1"))).toBe(true);
  });

  it("hands out a fresh array from list() and iterates in insertion order", () => {
    const pool = newPool();
    for (const addr of ["c:1", "a:1", "b:1"]) pool.add(cfg(addr));
    const list = pool.list();
    list.pop();
    expect(pool.list().map((a) => a.addr)).toEqual(["c:1", "a:1", "b:1"]);
    expect(pool.list()).not.toBe(pool.list());
    expect([...pool].map(([addr]) => addr)).toEqual(["c:1", "a:1", "b:1"]);
    expect([...pool.iter()].map(([, a]) => a.addr)).toEqual(["c:1", "a:1", "b:1"]);
  });

  it("gives a new subscriber the current snapshot, then one per change", () => {
    const pool = newPool();
    pool.add(cfg("a:1"));
    const seen = record(pool);
    expect(seen.map((s) => s.version)).toEqual([1]);
    pool.add(cfg("b:1"));
    pool.remove(cfg("a:1"));
    expect(seen.map((s) => [s.version, s.added, s.removed, s.cause])).toEqual([
      [1, ["a:1"], [], "api"],
      [2, ["b:1"], [], "api"],
      [3, [], ["a:1"], "api"],
    ]);
  });

  it("publishes nothing for changes that change nothing", () => {
    const pool = newPool();
    pool.add(cfg("a:1"));
    const seen = record(pool);
    pool.add(cfg("a:1"));
    pool.remove(cfg("zz:1"));
    pool.batch(() => {});
    pool.batch(() => {
      pool.removeAll();
      pool.add(cfg("a:1"));
    });
    newPool().removeAll();
    expect(seen).toHaveLength(1);
  });

  it("publishes one snapshot per batch, with added, removed and changed", () => {
    const pool = newPool();
    pool.batch(() => {
      pool.add(cfg("a:1", "a"));
      pool.add(cfg("b:1", "b"));
      pool.add(cfg("c:1", "c", fx.rotated));
    });
    const seen = record(pool);
    pool.batch(
      () => {
        pool.removeAll();
        pool.add(cfg("a:1", "a"));
        pool.add(cfg("b:1", "renamed"));
        pool.add(cfg("c:1", "c"));
        pool.add(cfg("d:1", "d"));
      },
      { cause: "reload" },
    );
    expect(seen).toHaveLength(2);
    const last = seen[1] as PoolSnapshot;
    expect(last.version).toBe((seen[0] as PoolSnapshot).version + 1);
    expect(last.cause).toBe("reload");
    expect(last.added).toEqual(["d:1"]);
    expect(last.removed).toEqual([]);
    expect([...last.changed].sort()).toEqual(["b:1", "c:1"]);
    expect(last.agents.map((a) => a.addr)).toEqual(["a:1", "b:1", "c:1", "d:1"]);
  });

  it("keeps the same Agent object when a batch re-adds it unchanged", () => {
    const pool = newPool();
    pool.add(cfg("a:1", "a"));
    const before = pool.get("a:1");
    pool.batch(() => {
      pool.removeAll();
      pool.add(cfg("a:1", "a"));
    });
    expect(pool.get("a:1")).toBe(before);
    expect(pool.snapshot.changed).toEqual([]);
  });

  it("freezes snapshots deeply", () => {
    const pool = newPool();
    pool.add(cfg("a:1"));
    const s = pool.snapshot;
    expect(Object.isFrozen(s)).toBe(true);
    expect(Object.isFrozen(s.agents)).toBe(true);
    expect(Object.isFrozen(s.added)).toBe(true);
    expect(Object.isFrozen(s.agents[0])).toBe(true);
    expect(() => {
      (s as { version: number }).version = 99;
    }).toThrow(TypeError);
  });

  it("rolls a throwing batch back and publishes nothing", () => {
    const pool = newPool();
    pool.add(cfg("a:1"));
    const seen = record(pool);
    expect(() =>
      pool.batch(() => {
        pool.removeAll();
        pool.add(cfg("b:1"));
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(pool.list().map((a) => a.addr)).toEqual(["a:1"]);
    expect(pool.getAgent("a:1")?.addr).toBe("a:1");
    expect(seen).toHaveLength(1);
  });

  it("refuses a config with bad TLS without changing the pool", () => {
    const pool = newPool();
    expect(() => pool.add({ addr: "a:1", tls: { ...fx.pki.clientTls, key: "garbage" } })).toThrow(
      /a:1: tls\.key/,
    );
    expect(pool.size).toBe(0);
    expect(pool.snapshot.version).toBe(0);
  });

  it("a tls object shared by many add()s and then given another key is verified again", () => {
    const pool = newPool();
    // Not frozen, as code building a pool naturally writes it.
    const tls = { ca: fx.pki.ca.cert, cert: fx.pki.client.cert, key: fx.pki.client.key };
    for (let i = 0; i < 50; i++) pool.add({ addr: `10.0.0.${i}:1`, tls });
    expect(pool.size).toBe(50);
    // The once-verified object now holds a key of another certificate.
    tls.key = (fx.rotated as { key: string }).key;
    expect(() => pool.add({ addr: "10.0.1.1:1", tls })).toThrow(/10\.0\.1\.1:1: tls\.key/);
    tls.cert = (fx.rotated as { cert: string }).cert;
    expect(pool.add({ addr: "10.0.1.1:1", tls })).toBe(true);
    expect(pool.size).toBe(51);
  });

  it("never leaks the private key into a snapshot", async () => {
    const { inspect } = await import("node:util");
    const pool = newPool();
    pool.add(cfg("a:1"));
    const body = fx.pki.client.key.split("\n")[1] as string;
    expect(JSON.stringify(pool.snapshot)).not.toContain(body);
    // Walk every own property, enumerable or not, of the snapshot and its agents.
    const seen = new Set<unknown>();
    const walk = (value: unknown): void => {
      if (typeof value === "string") expect(value).not.toContain(body);
      if (value === null || typeof value !== "object" || seen.has(value)) return;
      seen.add(value);
      for (const key of Reflect.ownKeys(value)) walk((value as Record<PropertyKey, unknown>)[key]);
    };
    walk(pool.snapshot);
    expect(inspect(pool.snapshot, { depth: 10, showHidden: true })).not.toContain(body);
  });

  it("delivers snapshots in order when a subscriber changes the pool", () => {
    const pool = newPool();
    const late: number[] = [];
    pool.snapshots$.subscribe((s) => {
      if (s.version === 1) pool.add(cfg("b:1"));
    });
    pool.snapshots$.subscribe((s) => late.push(s.version));
    pool.add(cfg("a:1"));
    expect(late).toEqual([0, 1, 2]);
  });
});

// No observer may see the pool half-way through a batch. Model: the list of
// addrs that exists between operations; every snapshot and every get() made
// from a subscriber must match one of those states.
describe("no partial view (property)", () => {
  const addrs = ["a:1", "b:1", "c:1", "d:1", "e:1"];
  const op = fc.oneof(
    fc.record({ kind: fc.constant("add" as const), addr: fc.constantFrom(...addrs) }),
    fc.record({ kind: fc.constant("remove" as const), addr: fc.constantFrom(...addrs) }),
    fc.record({ kind: fc.constant("removeAll" as const) }),
  );
  const step = fc.oneof(
    fc.record({ batch: fc.constant(false), ops: fc.array(op, { minLength: 1, maxLength: 1 }) }),
    fc.record({ batch: fc.constant(true), ops: fc.array(op, { maxLength: 8 }) }),
    fc.record({
      batch: fc.constant(true),
      reload: fc.constant(true),
      ops: fc
        .uniqueArray(fc.constantFrom(...addrs), { maxLength: 5 })
        .map((list) => [
          { kind: "removeAll" as const },
          ...list.map((addr) => ({ kind: "add" as const, addr })),
        ]),
    }),
  );

  type Op = { kind: "add" | "remove"; addr: string } | { kind: "removeAll" };

  function modelAfter(state: readonly string[], ops: readonly Op[]): string[] {
    const next = [...state];
    for (const o of ops) {
      if (o.kind === "add" && !next.includes(o.addr)) next.push(o.addr);
      if (o.kind === "remove" && next.includes(o.addr)) next.splice(next.indexOf(o.addr), 1);
      if (o.kind === "removeAll") next.length = 0;
    }
    return next;
  }

  it("every snapshot and every get() from a subscriber is the state after a whole step", () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 25 }), (run) => {
        const pool = new AgentPool();
        let expected: string[] = [];
        const violations: string[] = [];
        pool.snapshots$.subscribe((s) => {
          const fromSnapshot = s.agents.map((a) => a.addr);
          const fromList = pool.list().map((a) => a.addr);
          const fromGet = addrs.filter((a) => pool.get(a) !== undefined);
          const viaDockerHost = addrs.filter((a) => pool.get(`agent://${a}`) !== undefined);
          if (addrs.some((a) => pool.get(`agent://${a}`) !== pool.get(a)))
            violations.push("agent:// lookup");
          if (JSON.stringify(fromSnapshot) !== JSON.stringify(expected)) {
            violations.push(`snapshot ${fromSnapshot} expected ${expected}`);
          }
          if (JSON.stringify(fromList) !== JSON.stringify(expected))
            violations.push(`list ${fromList}`);
          if (JSON.stringify(fromGet) !== JSON.stringify([...expected].sort()))
            violations.push(`get ${fromGet}`);
          if (JSON.stringify(viaDockerHost) !== JSON.stringify(fromGet))
            violations.push(`agent:// ${viaDockerHost}`);
        });
        const apply = (o: Op) => {
          if (o.kind === "add") pool.add(cfg(o.addr));
          else if (o.kind === "remove") pool.remove(cfg(o.addr));
          else pool.removeAll();
        };
        for (const s of run) {
          expected = modelAfter(expected, s.ops);
          if (s.batch) pool.batch(() => s.ops.forEach(apply));
          else s.ops.forEach(apply);
          expect(pool.list().map((a) => a.addr)).toEqual(expected);
        }
        expect(violations).toEqual([]);
        for (const agent of pool.list()) void agent.close();
      }),
      { numRuns: 200 },
    );
  });
});
