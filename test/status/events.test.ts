import { connect, type Socket } from "node:net";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createInfoProber } from "../../src/daemon/status/prober.js";
import { createTestPki, type TestPki } from "../../src/testing/index.js";
import { captureLogger } from "../support/logs.js";
import { waitFor } from "../support/wait.js";
import { Opened, openAgent, openPool, openStatus } from "./harness.js";
import {
  failedResult,
  httpGet,
  LOCATED_ERROR,
  okResult,
  openEvents,
  parsePrometheusText,
  sampleValue,
  target,
} from "./helpers.js";

let pki: TestPki;
const opened = new Opened();

beforeAll(async () => {
  pki = await createTestPki();
});

afterEach(() => opened.closeAll());

interface SnapshotData {
  version: number;
  cause: string;
  at: string;
  agents: Array<{ addr: string; name: string; dockerHost: string }>;
  added: string[];
  removed: string[];
  changed: string[];
}

describe("/events", () => {
  it("sends the current snapshot, then one event per pool change, in order", async () => {
    const a = await openAgent(opened, pki);
    const b = await openAgent(opened, pki);
    const { server, pool } = await openStatus(opened);
    pool.add(a.config("a"));

    const client = await openEvents(server.address);
    opened.add(() => client.close());
    expect(client.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
    await waitFor("the initial snapshot", () => client.events.length === 1);

    pool.batch(() => pool.add(b.config("b")), { cause: "reload" });
    pool.remove({ addr: a.addr });
    pool.batch(
      () => {
        pool.removeAll();
        pool.add(b.config("b-renamed"));
      },
      { cause: "reload" },
    );
    // Probe outcomes of a and b come as agent-info events in between.
    const snapshots = () => client.events.filter((e) => e.event === "snapshot");
    await waitFor("three more snapshots", () => snapshots().length === 4);

    expect(client.events.filter((e) => e.event !== "agent-info").map((e) => e.event)).toEqual([
      "snapshot",
      "snapshot",
      "snapshot",
      "snapshot",
    ]);
    expect(snapshots().map((e) => e.id)).toEqual(["1", "2", "3", "4"]);
    const data = snapshots().map((e) => JSON.parse(e.data) as SnapshotData);
    expect(data[0]).toEqual({
      version: 1,
      cause: "api",
      at: expect.any(String),
      agents: [{ addr: a.addr, name: "a", dockerHost: `agent://${a.addr}` }],
      added: [a.addr],
      removed: [],
      changed: [],
    });
    expect(data[1]).toMatchObject({ version: 2, cause: "reload", added: [b.addr] });
    expect(data[1]?.agents.map((x) => x.name)).toEqual(["a", "b"]);
    expect(data[2]).toMatchObject({ version: 3, cause: "api", removed: [a.addr] });
    expect(data[3]).toMatchObject({
      version: 4,
      changed: [b.addr],
      agents: [{ addr: b.addr, name: "b-renamed", dockerHost: `agent://${b.addr}` }],
    });
    expect(client.events.map((e) => e.data).join("")).not.toMatch(/PRIVATE KEY/);
  });

  it("sends a reload-error event for each failed reload result, nothing for good ones", async () => {
    const { server, results$ } = await openStatus(opened);
    // Replayed to the server before the client came: not an event for this client.
    results$.next(failedResult());
    const client = await openEvents(server.address);
    opened.add(() => client.close());
    await waitFor("the initial snapshot", () => client.events.length === 1);

    const first = failedResult();
    results$.next(first);
    results$.next(okResult());
    const second = failedResult();
    results$.next(second);
    const errors = () => client.events.filter((e) => e.event === "reload-error");
    await waitFor("two reload errors", () => errors().length === 2);

    expect(JSON.parse(errors()[0]?.data ?? "")).toEqual({ at: first.at, error: LOCATED_ERROR });
    expect(JSON.parse(errors()[1]?.data ?? "")).toEqual({ at: second.at, error: LOCATED_ERROR });
    expect(errors()[0]?.id).toBeUndefined();
  });

  it("sends a reload event with the history record for every result, good or bad", async () => {
    const { server, results$ } = await openStatus(opened);
    const client = await openEvents(server.address);
    opened.add(() => client.close());
    await waitFor("the initial snapshot", () => client.events.length === 1);

    const good = okResult({ version: 4, added: ["a:1", "b:1"], changed: ["c:1"], durationMs: 7 });
    const bad = failedResult({ durationMs: 2 });
    results$.next(good);
    results$.next(bad);
    await waitFor("a reload-error after two reloads", () => client.events.length === 4);

    expect(client.events.map((e) => e.event)).toEqual([
      "snapshot",
      "reload",
      "reload",
      "reload-error",
    ]);
    expect(JSON.parse(client.events[1]?.data ?? "")).toEqual({
      ok: true,
      at: good.at,
      cause: "file",
      durationMs: 7,
      version: 4,
      added: 2,
      removed: 0,
      changed: 1,
    });
    expect(JSON.parse(client.events[2]?.data ?? "")).toEqual({
      ok: false,
      at: bad.at,
      cause: "file",
      durationMs: 2,
      error: LOCATED_ERROR,
      code: "ERR_CONFIG_INVALID",
    });
  });

  it("sends an agent-info event when a probe of an agent ends", async () => {
    const edge = await openAgent(opened, pki);
    const { server, pool } = await openStatus(opened);
    const client = await openEvents(server.address);
    opened.add(() => client.close());
    pool.add(edge.config("edge"));
    const info = await waitFor("the probe's event", () =>
      client.events.find((e) => e.event === "agent-info"),
    );
    expect(JSON.parse(info.data)).toEqual({ addr: edge.addr });
  });

  it("sends comment heartbeats at the configured interval", async () => {
    const { server } = await openStatus(opened, { heartbeatMs: 20 });
    const client = await openEvents(server.address);
    opened.add(() => client.close());
    await waitFor(
      "two heartbeats",
      () => client.comments.filter((c) => c === "heartbeat").length >= 2,
    );
    expect(client.events).toHaveLength(1);
  });

  it("answers HEAD with the stream's headers and no body", async () => {
    const { server } = await openStatus(opened);
    const res = await httpGet(server.address, "/events", "HEAD");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
    expect(res.body).toBe("");
  });

  it("forgets a client that disconnects and keeps serving the others", async () => {
    const { server, pool, logs } = await openStatus(opened);
    const gone = await openEvents(server.address);
    const staying = await openEvents(server.address);
    opened.add(() => staying.close());
    await waitFor("both initial snapshots", () => gone.events.length + staying.events.length === 2);
    const clients = async () =>
      sampleValue(
        parsePrometheusText((await httpGet(server.address, "/metrics")).body),
        "agentpool_events_clients",
      );
    expect(await clients()).toBe(2);

    gone.close();
    await waitFor("the server to notice", async () => (await clients()) === 1);
    pool.add((await openAgent(opened, pki)).config());
    await waitFor("the next snapshot", () => staying.events.length === 2);
    expect(logs().filter((l) => (l.level as number) >= 50)).toEqual([]);
  });

  it("drops a client that stops reading without stalling the pool or other clients", async () => {
    // No probing here: the agents below are only big names, nobody listens at their addrs.
    const { logger } = captureLogger();
    const prober = createInfoProber({ pool: openPool(opened), logger });
    opened.add(() => prober.close());
    const { server, pool, logs } = await openStatus(opened, { prober });

    // About half a MiB per snapshot: 12 agents with 44 KiB names.
    pool.batch(() => {
      for (let i = 0; i < 12; i++)
        pool.add({
          addr: `127.0.0.1:${10_001 + i}`,
          name: `agent-${i}-${"x".repeat(44 * 1024)}`,
          tls: pki.clientTls,
        });
    });

    const stuck = await new Promise<Socket>((resolve, reject) => {
      const socket = connect(target(server.address) as { host: string; port: number }, () => {
        socket.write("GET /events HTTP/1.1\r\nHost: status\r\nAccept: text/event-stream\r\n\r\n");
        resolve(socket);
      });
      socket.on("error", reject);
    });
    opened.add(() => {
      stuck.destroy();
    });
    // Read nothing, ever: the kernel buffers fill, then the server's.
    stuck.pause();

    const good = await openEvents(server.address);
    opened.add(() => good.close());
    await waitFor("the first snapshot", () => good.events.length === 1);

    const publishes = 24;
    let slowestMs = 0;
    for (let i = 0; i < publishes; i++) {
      const started = performance.now();
      if (i % 2 === 0) pool.add({ addr: "127.0.0.1:10999", name: "toggle", tls: pki.clientTls });
      else pool.remove({ addr: "127.0.0.1:10999" });
      slowestMs = Math.max(slowestMs, performance.now() - started);
      await waitFor(`snapshot ${i + 2} at the reading client`, () => good.events.length === i + 2);
    }

    // A correctness guard, not a speed target: publishing never waits for a client.
    expect(slowestMs).toBeLessThan(1_000);
    const ids = good.events.map((e) => Number(e.id));
    expect(ids).toEqual(Array.from({ length: publishes + 1 }, (_, i) => (ids[0] as number) + i));
    expect((JSON.parse(good.events.at(-1)?.data ?? "{}") as SnapshotData).version).toBe(
      pool.snapshot.version,
    );

    const dropped = await waitFor("the drop to be logged", () =>
      logs().find((l) => typeof l.msg === "string" && l.msg.startsWith("dropping /events client")),
    );
    expect(dropped.buffered as number).toBeGreaterThan(1024 * 1024);
    const metrics = parsePrometheusText((await httpGet(server.address, "/metrics")).body);
    expect(sampleValue(metrics, "agentpool_events_clients")).toBe(1);

    // The stuck client, once it reads again, finds its stream cut short.
    let received = 0;
    const closed = new Promise<void>((resolve) => stuck.on("close", () => resolve()));
    stuck.on("data", (chunk: Buffer) => {
      received += chunk.length;
    });
    stuck.resume();
    await closed;
    const total = good.events.reduce((sum, e) => sum + e.data.length, 0);
    expect(received).toBeLessThan(total);
  });
});

describe("/events with an unreachable agent in the pool", () => {
  it("keeps streaming while the agent's probe fails", async () => {
    const { server, pool } = await openStatus(opened);
    const client = await openEvents(server.address);
    opened.add(() => client.close());
    pool.add({ addr: "127.0.0.1:1", name: "closed-port", tls: pki.clientTls });
    const snapshots = () => client.events.filter((e) => e.event === "snapshot");
    await waitFor("the snapshot", () => snapshots().length === 2);
    expect(JSON.parse(snapshots()[1]?.data ?? "{}")).toMatchObject({ added: ["127.0.0.1:1"] });
    // The failed probe is an event too, and the stream goes on.
    await waitFor("the failed probe", () => client.events.some((e) => e.event === "agent-info"));
  });
});
