import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createInfoProber,
  type InfoChange,
  type InfoProberOptions,
} from "../../src/daemon/status/prober.js";
import { createTestPki, type TestPki } from "../../src/testing/index.js";
import { captureLogger } from "../support/logs.js";
import { closedPort } from "../support/ports.js";
import { waitFor } from "../support/wait.js";
import { Opened, openAgent, openPool } from "./harness.js";

let pki: TestPki;
const opened = new Opened();

beforeAll(async () => {
  pki = await createTestPki();
});

afterEach(() => opened.closeAll());

function openProber(options: Partial<InfoProberOptions> & Pick<InfoProberOptions, "pool">) {
  const { logger, lines } = captureLogger();
  const prober = createInfoProber({ logger, ...options });
  const changes: InfoChange[] = [];
  prober.changes$.subscribe((change) => changes.push(change));
  opened.add(() => prober.close());
  return { prober, changes, logs: lines };
}

describe("info prober", () => {
  it("fills version and runtime from a real mTLS agent", async () => {
    const edge = await openAgent(opened, pki, {
      name: "edge-7",
      version: "v0.19.2",
      runtime: "podman",
    });
    const pool = openPool(opened);
    const { prober, changes } = openProber({
      pool,
      now: () => Date.parse("2025-01-02T03:04:05.000Z"),
    });
    pool.add(edge.config("edge"));

    const entry = await waitFor("the probe", () => prober.get(edge.addr));
    expect(entry).toEqual({
      addr: edge.addr,
      name: "edge",
      info: { name: "edge-7", version: "v0.19.2", runtime: "podman" },
      at: "2025-01-02T03:04:05.000Z",
      since: "2025-01-02T03:04:05.000Z",
    });
    expect(prober.entries()).toEqual([entry]);
    expect(changes).toEqual([{ addr: edge.addr, entry }]);
    expect(Object.isFrozen(entry)).toBe(true);
  });

  it("classifies a failing probe by its error code and keeps since at the first failure", async () => {
    const port = await closedPort();
    const pool = openPool(opened);
    let clock = Date.parse("2025-01-02T03:04:05.000Z");
    const { changes } = openProber({
      pool,
      retryInitialMs: 5,
      retryMaxMs: 5,
      now: () => (clock += 1_000),
    });
    pool.add({ addr: `127.0.0.1:${port}`, name: "down", tls: pki.clientTls });
    // Read the entries as the prober emitted them: with 5 ms retries, polling
    // get() could already see the second failure.
    const failures = await waitFor("two failures", () => {
      const seen = changes.filter((change) => change.entry?.error !== undefined);
      return seen.length >= 2 ? seen.map((change) => change.entry) : undefined;
    });
    const [first, later] = failures;
    expect(first).toMatchObject({ errorCode: "ERR_AGENT_REQUEST", since: first?.at });
    expect(later?.at).not.toBe(first?.at);
    expect(later?.errorCode).toBe("ERR_AGENT_REQUEST");
    expect(later?.since).toBe(first?.at);
    expect(later?.error).toMatch(/ECONNREFUSED/);
  });

  it("probes agents already in the pool when it starts", async () => {
    const edge = await openAgent(opened, pki, { version: "v0.18.5" });
    const pool = openPool(opened);
    pool.add(edge.config());
    const { prober } = openProber({ pool });
    const entry = await waitFor("the probe", () => prober.get(edge.addr));
    expect(entry.info?.version).toBe("v0.18.5");
  });

  it("records an error naming the addr for an unreachable agent, and keeps retrying", async () => {
    const port = await closedPort();
    const addr = `127.0.0.1:${port}`;
    const pool = openPool(opened);
    const { prober, changes, logs } = openProber({ pool, retryInitialMs: 20, retryMaxMs: 40 });
    pool.add({ addr, name: "gone", tls: pki.clientTls });

    const entry = await waitFor("the failed probe", () => prober.get(addr));
    expect(entry.info).toBeUndefined();
    expect(entry.error).toContain(addr);
    expect(entry.error).toMatch(/ECONNREFUSED|connect/i);
    await waitFor("three attempts", () => changes.length >= 3);
    expect(pool.list().map((a) => a.addr)).toEqual([addr]);
    // Warned once, not once per retry.
    expect(logs().filter((l) => l.msg === "agent info probe failed")).toHaveLength(1);
  });

  it("recovers when an agent that was down comes up", async () => {
    const port = await closedPort();
    const pool = openPool(opened);
    const { prober } = openProber({ pool, retryInitialMs: 20, retryMaxMs: 20 });
    const config = { addr: `127.0.0.1:${port}`, name: "late", tls: pki.clientTls };
    pool.add(config);
    await waitFor("the failed probe", () => prober.get(config.addr)?.error);
    await openAgent(opened, pki, { port, version: "v0.22.0" });
    const entry = await waitFor(
      "the recovery",
      () => prober.get(config.addr)?.info && prober.get(config.addr),
    );
    expect(entry.error).toBeUndefined();
    expect(entry.info?.version).toBe("v0.22.0");
  });

  it("times out on an agent that never finishes the TLS handshake", async () => {
    // The pool is opened first so that the agent's server closes first, cutting the stalled socket.
    const pool = openPool(opened);
    const stalled = await openAgent(opened, pki, { stallHandshake: true });
    const { prober } = openProber({ pool, timeoutMs: 100 });
    pool.add(stalled.config());
    const entry = await waitFor("the timeout", () => prober.get(stalled.addr));
    expect(entry.error).toMatch(/timed out after 100 ms/);
  });

  it("never delays pool publishing, even with a slow agent", async () => {
    const pool = openPool(opened);
    const slow = await openAgent(opened, pki, { delayMs: 2_000 });
    const { prober } = openProber({ pool });
    let published = 0;
    const subscription = pool.snapshots$.subscribe(() => published++);
    opened.add(() => subscription.unsubscribe());

    const version = pool.batch(() => {
      pool.add(slow.config());
      return pool.snapshot.version;
    });
    // The batch returned, its snapshot is out, and no probe work happened inside it.
    expect(pool.snapshot.version).toBe(version + 1);
    expect(published).toBe(2);
    expect(slow.handshakes).toBe(0);
    expect(prober.get(slow.addr)).toBeUndefined();

    // The probe runs in the background (connected, request sent) while the agent sits on it.
    await waitFor("the probe to reach the agent", () => slow.handshakes === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(prober.get(slow.addr)).toBeUndefined();
    pool.batch(() => pool.removeAll());
    expect(pool.size).toBe(0);
    expect(prober.get(slow.addr)).toBeUndefined();
  });

  it("keeps at most `concurrency` probes in flight", async () => {
    const pool = openPool(opened);
    const agents = await Promise.all(
      [0, 1, 2, 3, 4].map(() => openAgent(opened, pki, { delayMs: 150 })),
    );
    const { prober } = openProber({ pool, concurrency: 2 });
    let inFlight = 0;
    let most = 0;
    const sampler = setInterval(() => {
      // One agent, one connection: a handshake marks the start of its probe.
      const started = agents.reduce((sum, a) => sum + a.handshakes, 0);
      inFlight = started - prober.entries().length;
      most = Math.max(most, inFlight);
    }, 5);
    opened.add(() => clearInterval(sampler));
    pool.batch(() => {
      for (const agent of agents) pool.add(agent.config());
    });
    await waitFor("all probes", () => prober.entries().length === 5, 10_000);
    expect(most).toBe(2);
  });

  it("drops removed agents and probes changed ones again", async () => {
    const a = await openAgent(opened, pki, { version: "v1" });
    const b = await openAgent(opened, pki, { version: "v2" });
    const pool = openPool(opened);
    const { prober, changes } = openProber({ pool });
    pool.batch(() => {
      pool.add(a.config("a"));
      pool.add(b.config("b"));
    });
    await waitFor("both probes", () => prober.entries().length === 2);

    pool.remove({ addr: a.addr });
    expect(prober.get(a.addr)).toBeUndefined();
    expect(changes.at(-1)).toEqual({ addr: a.addr, entry: undefined });

    const requestsBefore = b.requests;
    pool.batch(() => {
      pool.removeAll();
      pool.add(b.config("b-renamed"));
    });
    const renamed = await waitFor("the new probe", () =>
      prober.get(b.addr)?.name === "b-renamed" ? prober.get(b.addr) : undefined,
    );
    expect(renamed.info?.version).toBe("v2");
    expect(b.requests).toBeGreaterThan(requestsBefore);
    expect(prober.entries().map((e) => e.addr)).toEqual([b.addr]);
  });

  it("stops probing on close", async () => {
    const port = await closedPort();
    const pool = openPool(opened);
    const { prober, changes } = openProber({ pool, retryInitialMs: 10, retryMaxMs: 10 });
    pool.add({ addr: `127.0.0.1:${port}`, tls: pki.clientTls });
    await waitFor("a failed probe", () => changes.length >= 1);
    prober.close();
    const seen = changes.length;
    await new Promise((r) => setTimeout(r, 60));
    expect(changes.length).toBe(seen);
    pool.add({ addr: `127.0.0.1:${port + 1 > 65_535 ? port - 1 : port + 1}`, tls: pki.clientTls });
    expect(changes.length).toBe(seen);
  });

  it("validates its options with one sentence each", () => {
    const pool = openPool(opened);
    const { logger } = captureLogger();
    expect(() => createInfoProber({ pool, logger, concurrency: 0 })).toThrow(
      "concurrency must be a positive integer.",
    );
    expect(() => createInfoProber({ pool, logger, timeoutMs: -1 })).toThrow(
      "timeoutMs must be a positive number of milliseconds.",
    );
    expect(() => createInfoProber({ pool, logger, retryInitialMs: 100, retryMaxMs: 10 })).toThrow(
      "retryMaxMs must not be smaller than retryInitialMs.",
    );
  });
});
