import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { ReplaySubject } from "rxjs";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { isLoopbackAddress, parseListen } from "../../src/daemon/status/listen.js";
import { startStatusServer } from "../../src/daemon/status/server.js";
import type { AgentRow, StatusBody } from "../../src/daemon/status/views.js";
import type { ReloadResult } from "../../src/reload/result.js";
import { createTestPki, type TestPki } from "../../src/testing/index.js";
import { captureLogger } from "../support/logs.js";
import { makeTempDir } from "../support/temp.js";
import { waitFor } from "../support/wait.js";
import { CONFIG_PATH, Opened, openAgent, openPool, openStatus } from "./harness.js";
import { failedResult, getJson, httpGet, LOCATED_ERROR, okResult, openEvents } from "./helpers.js";

const hasIpv6Loopback = Object.values(networkInterfaces())
  .flat()
  .some((i) => i?.address === "::1");

let pki: TestPki;
const opened = new Opened();

beforeAll(async () => {
  pki = await createTestPki();
});

afterEach(() => opened.closeAll());

describe("status endpoint routes", () => {
  it("answers /healthz with 200 ok", async () => {
    const { server } = await openStatus(opened);
    const res = await httpGet(server.address, "/healthz");
    expect(res.status).toBe(200);
    expect(res.body.trim()).toBe("ok");
    expect(server.address).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it("answers /readyz 503 until the first good result, then 200, also after a failed one", async () => {
    const { server, results$ } = await openStatus(opened);
    const before = await httpGet(server.address, "/readyz");
    expect(before.status).toBe(503);

    results$.next(failedResult({ cause: "initial" }));
    expect((await httpGet(server.address, "/readyz")).status).toBe(503);

    results$.next(okResult());
    const after = await httpGet(server.address, "/readyz");
    expect(after.status).toBe(200);
    expect(after.body).not.toMatch(/failed/);

    results$.next(failedResult());
    const stale = await httpGet(server.address, "/readyz");
    expect(stale.status).toBe(200);
    expect(stale.body).toMatch(/last reload failed/);
  });

  it("lists the pool's agents on /agents with probed version and runtime, never key material", async () => {
    const edge = await openAgent(opened, pki, {
      name: "edge-1",
      version: "v0.20.1",
      runtime: "podman",
    });
    const { server, pool } = await openStatus(opened);
    pool.add(edge.config("edge-1"));

    const rows = await waitFor("the probe of edge-1", async () => {
      const list = await getJson<AgentRow[]>(server.address, "/agents");
      return list[0]?.version ? list : undefined;
    });
    expect(rows).toEqual([
      {
        addr: edge.addr,
        name: "edge-1",
        dockerHost: `agent://${edge.addr}`,
        version: "v0.20.1",
        runtime: "podman",
        infoAt: expect.any(String),
        infoSince: rows[0]?.infoAt,
        // Public fingerprints only, as openssl prints them: `check --diff` compares them.
        tls: {
          certSha256: new X509Certificate(pki.client.cert).fingerprint256,
          caSha256: [new X509Certificate(pki.ca.cert).fingerprint256],
        },
      },
    ]);
    const raw = (await httpGet(server.address, "/agents")).body;
    expect(raw).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE/);
    const keyLine = pki.clientTls.key.split("\n")[1] as string;
    expect(raw).not.toContain(keyLine);
  });

  it("shows a failed reload's located error on /status while /agents keeps the last good agents", async () => {
    const a = await openAgent(opened, pki);
    const b = await openAgent(opened, pki);
    const { server, pool, results$ } = await openStatus(opened);

    pool.batch(
      () => {
        pool.add(a.config("a"));
        pool.add(b.config("b"));
      },
      { cause: "reload" },
    );
    const good = okResult({
      version: pool.snapshot.version,
      durationMs: 4.591864000001806,
      agents: 2,
      warnings: ["key.pem is readable by others"],
    });
    results$.next(good);

    const first = await getJson<StatusBody>(server.address, "/status");
    expect(first).toEqual({
      version: pool.snapshot.version,
      agents: 2,
      configPath: CONFIG_PATH,
      ready: true,
      lastReload: {
        ok: true,
        at: good.at,
        // Regression: raw float durations (4.591864000001806 ms) reached /status.
        durationMs: 4.59,
        cause: "file",
        version: good.version,
        warnings: ["key.pem is readable by others"],
      },
      lastSuccess: { at: good.at, version: good.version },
      recentReloads: [
        {
          ok: true,
          at: good.at,
          cause: "file",
          durationMs: 4.59,
          version: good.version,
          added: 0,
          removed: 0,
          changed: 0,
        },
      ],
    });

    const bad = failedResult();
    results$.next(bad);
    const after = await getJson<StatusBody>(server.address, "/status");
    expect(after.lastReload).toMatchObject({ ok: false, at: bad.at, error: LOCATED_ERROR });
    expect(after.lastSuccess).toEqual({ at: good.at, version: good.version });
    expect(after.version).toBe(first.version);

    const agents = await getJson<AgentRow[]>(server.address, "/agents");
    expect(agents.map((row) => row.name)).toEqual(["a", "b"]);
  });

  it("answers /status with lastReload null before any result", async () => {
    const { server } = await openStatus(opened);
    const body = await getJson<StatusBody>(server.address, "/status");
    expect(body).toEqual({
      version: 0,
      agents: 0,
      configPath: CONFIG_PATH,
      ready: false,
      lastReload: null,
      recentReloads: [],
    });
  });

  it("lists the last 20 reload attempts on /status, newest first, with the located error of each failure", async () => {
    const { server, results$ } = await openStatus(opened);
    const at = (i: number) => new Date(Date.UTC(2025, 0, 1, 0, 0, i)).toISOString();
    for (let i = 0; i < 25; i++) {
      results$.next(
        i % 5 === 4
          ? failedResult({ at: at(i) })
          : okResult({ at: at(i), version: i, added: ["x:1"], removed: [], changed: [] }),
      );
    }
    const body = await getJson<StatusBody>(server.address, "/status");
    expect(body.recentReloads).toHaveLength(20);
    expect(body.recentReloads.map((r) => r.at)).toEqual(
      Array.from({ length: 20 }, (_, k) => at(24 - k)),
    );
    expect(body.recentReloads[0]).toEqual({
      ok: false,
      at: at(24),
      cause: "file",
      durationMs: 2,
      error: LOCATED_ERROR,
      code: "ERR_CONFIG_INVALID",
    });
    expect(body.recentReloads[1]).toMatchObject({ ok: true, version: 23, added: 1 });
  });

  it("serves Prometheus text on /metrics with its content type", async () => {
    const { server } = await openStatus(opened);
    const res = await httpGet(server.address, "/metrics");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toMatch(/^# HELP agentpool_agents /m);
  });

  it("answers 405 with Allow for other methods and 404 JSON for unknown paths", async () => {
    const { server } = await openStatus(opened);
    for (const method of ["POST", "PUT", "DELETE"]) {
      const res = await httpGet(server.address, "/status", method);
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe("GET, HEAD");
      expect(JSON.parse(res.body)).toMatchObject({ allow: ["GET", "HEAD"] });
    }
    const missing = await httpGet(server.address, "/nope?x=1");
    expect(missing.status).toBe(404);
    expect(missing.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(missing.body)).toMatchObject({ error: "no endpoint /nope" });
  });

  it("answers HEAD like GET without a body", async () => {
    const { server } = await openStatus(opened);
    const res = await httpGet(server.address, "/status", "HEAD");
    expect(res.status).toBe(200);
    expect(Number(res.headers["content-length"])).toBeGreaterThan(0);
    expect(res.body).toBe("");
  });

  it("ignores the query string when routing", async () => {
    const { server } = await openStatus(opened);
    expect((await httpGet(server.address, "/healthz?verbose=1")).status).toBe(200);
  });
});

describe("status endpoint on a unix socket", () => {
  let dir: string;

  beforeAll(async () => {
    const temp = await makeTempDir("agentpool-status-");
    dir = temp.dir;
    return temp.cleanup;
  });

  it("listens on the path, replaces a stale socket file and removes it on close", async () => {
    const path = join(dir, "stale.sock");
    // A daemon killed with SIGKILL leaves its socket file behind.
    const killed = spawnSync(process.execPath, [
      "-e",
      `require("node:net").createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, "SIGKILL"))`,
    ]);
    expect(killed.signal).toBe("SIGKILL");
    expect(existsSync(path)).toBe(true);

    const { server } = await openStatus(opened, { listen: path });
    expect(server.address).toBe(path);
    const res = await httpGet(path, "/healthz");
    expect(res.status).toBe(200);
    await server.close();
    expect(existsSync(path)).toBe(false);
  });

  it("refuses a path where another server listens, or that is not a socket", async () => {
    const path = join(dir, "busy.sock");
    const { server } = await openStatus(opened, { listen: path });
    await expect(openStatus(opened, { listen: path })).rejects.toThrow(
      /cannot listen on .*busy\.sock: another process is listening/,
    );
    expect((await httpGet(server.address, "/healthz")).status).toBe(200);

    const file = join(dir, "regular-file");
    await writeFile(file, "keep me");
    await expect(openStatus(opened, { listen: file })).rejects.toThrow(/is not a socket/);
    expect(existsSync(file)).toBe(true);
  });
});

describe("status server options and lifecycle", () => {
  it("rejects a bad listen value with one sentence", async () => {
    const { logger } = captureLogger();
    await expect(
      startStatusServer({
        listen: "localhost",
        pool: openPool(opened),
        results$: new ReplaySubject<ReloadResult>(1),
        configPath: CONFIG_PATH,
        logger,
      }),
    ).rejects.toThrow(
      'listen must be HOST:PORT, [IPv6]:PORT or a unix socket path containing "/"; got "localhost".',
    );
  });

  it("parses listen values", () => {
    expect(parseListen("127.0.0.1:9410")).toEqual({ kind: "tcp", host: "127.0.0.1", port: 9410 });
    expect(parseListen("[::1]:9410")).toEqual({ kind: "tcp", host: "::1", port: 9410 });
    expect(parseListen("localhost:0")).toEqual({ kind: "tcp", host: "localhost", port: 0 });
    expect(parseListen("/run/agentpool/status.sock")).toEqual({
      kind: "unix",
      path: "/run/agentpool/status.sock",
    });
    for (const bad of ["", "9410", "127.0.0.1:70000", "[nope]:1", "::1:9410", "host:"])
      expect(() => parseListen(bad)).toThrow(/listen must be/);
  });

  it("tells loopback addresses from others (a warning is logged for the latter)", () => {
    expect(isLoopbackAddress("127.0.0.1:9410")).toBe(true);
    expect(isLoopbackAddress("127.10.0.1:9410")).toBe(true);
    expect(isLoopbackAddress("[::1]:9410")).toBe(true);
    expect(isLoopbackAddress("[::ffff:127.0.0.1]:9410")).toBe(true);
    expect(isLoopbackAddress("0.0.0.0:9410")).toBe(false);
    expect(isLoopbackAddress("[::]:9410")).toBe(false);
    expect(isLoopbackAddress("192.0.2.1:9410")).toBe(false);
  });

  it("does not warn on loopback, and logs where it listens", async () => {
    const { server, logs } = await openStatus(opened);
    const lines = logs();
    expect(
      lines.some((l) => l.msg === "status endpoint listening" && l.address === server.address),
    ).toBe(true);
    expect(lines.some((l) => l.level === 40)).toBe(false);
  });

  it.skipIf(!hasIpv6Loopback)(
    "binds [::1] when asked (skipped: no IPv6 loopback here)",
    async () => {
      const { server } = await openStatus(opened, { listen: "[::1]:0" });
      expect(server.address).toMatch(/^\[::1\]:\d+$/);
      expect((await httpGet(server.address, "/healthz")).status).toBe(200);
    },
  );

  it("ends /events streams and stops listening on close", async () => {
    const { server } = await openStatus(opened);
    const client = await openEvents(server.address);
    await waitFor("the initial snapshot", () => client.events.length === 1);
    await server.close();
    await client.ended;
    await expect(httpGet(server.address, "/healthz")).rejects.toThrow(/ECONNREFUSED/);
  });
});
