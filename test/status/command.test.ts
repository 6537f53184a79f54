import { createServer } from "node:http";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { STATUS_EXIT, statusCommand } from "../../src/daemon/commands/status.js";
import { createTestPki, type TestPki } from "../../src/testing/index.js";
import { makeTempDir } from "../support/temp.js";
import { waitFor } from "../support/wait.js";
import { Opened, openAgent, openStatus } from "./harness.js";
import { failedResult, getJson, LOCATED_ERROR, okResult } from "./helpers.js";

let pki: TestPki;
const opened = new Opened();

beforeAll(async () => {
  pki = await createTestPki();
});

afterEach(() => opened.closeAll());

async function run(argv: string[], env: Record<string, string | undefined> = {}) {
  let stdout = "";
  let stderr = "";
  const code = await statusCommand(argv, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    env,
  });
  return { code, stdout, stderr };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("agentpool status", () => {
  it("prints agents, snapshot version and an ok reload, and exits 0", async () => {
    const edge = await openAgent(opened, pki, { version: "v0.20.1", runtime: "podman" });
    const { server, pool, results$ } = await openStatus(opened);
    pool.add(edge.config("edge-1"));
    pool.add({ addr: "127.0.0.1:1", name: "down", tls: pki.clientTls });
    const good = okResult({ version: pool.snapshot.version, durationMs: 7 });
    results$.next(good);
    await waitFor("both probes", async () => {
      const rows = await getJson<Array<{ infoAt?: string }>>(server.address, "/agents");
      return rows.every((r) => r.infoAt);
    });

    const { code, stdout, stderr } = await run(["--listen", server.address]);
    expect(stderr).toBe("");
    expect(code).toBe(STATUS_EXIT.ok);
    expect(stdout).toContain(`agentpool at ${server.address}`);
    expect(stdout).toContain(`snapshot: version ${pool.snapshot.version}, 2 agents`);
    expect(stdout).toContain(`reload:   ok at ${good.at} (7 ms)`);
    const lines = stdout.split("\n");
    const header = lines.findIndex((l) => /^NAME\s+ADDR\s+VERSION\s+RUNTIME\s+INFO$/.test(l));
    expect(header).toBeGreaterThan(0);
    expect(lines[header + 1]).toMatch(
      new RegExp(`^edge-1\\s+${edge.addr.replace(/\./g, "\\.")}\\s+v0\\.20\\.1\\s+podman$`),
    );
    expect(lines[header + 2]).toMatch(/^down\s+127\.0\.0\.1:1\s+-\s+-\s+agent 127\.0\.0\.1:1: /);
  });

  it("shows a failed reload with its located error and exits 1", async () => {
    const { server, results$ } = await openStatus(opened);
    const good = okResult();
    results$.next(good);
    const bad = failedResult();
    results$.next(bad);
    const { code, stdout } = await run([`--listen=${server.address}`]);
    expect(code).toBe(STATUS_EXIT.reloadFailed);
    expect(stdout).toContain(`reload:   FAILED at ${bad.at}`);
    expect(stdout).toContain(`still serving the config loaded at ${good.at}`);
    expect(stdout).toContain(LOCATED_ERROR);
    expect(stdout).toContain("(no agents)");
  });

  it("exits 1 when the daemon has not loaded a config yet", async () => {
    const { server } = await openStatus(opened);
    const { code, stdout } = await run(["--listen", server.address]);
    expect(code).toBe(STATUS_EXIT.reloadFailed);
    expect(stdout).toContain("none finished yet");
  });

  it("exits 3 naming the address when nothing listens there", async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const { code, stdout, stderr } = await run(["--listen", address]);
    expect(code).toBe(STATUS_EXIT.unreachable);
    expect(stdout).toBe("");
    expect(stderr).toContain(`cannot reach the daemon at ${address}`);
    expect(stderr).toContain("ECONNREFUSED");
  });

  it("exits 3 when what answers is not an agentpool status endpoint", async () => {
    const other = createServer((_req, res) => res.end("<html>hello</html>"));
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
    opened.add(() => new Promise<void>((resolve) => other.close(() => resolve())));
    const address = `127.0.0.1:${(other.address() as { port: number }).port}`;
    const { code, stderr } = await run(["--listen", address]);
    expect(code).toBe(STATUS_EXIT.unreachable);
    expect(stderr).toMatch(/not an agentpool status endpoint/);
  });

  it("reads AGENTPOOL_LISTEN and talks over a unix socket", async () => {
    const { dir, cleanup } = await makeTempDir("agentpool-status-cmd-");
    opened.add(cleanup);
    const path = join(dir, "status.sock");
    const { results$ } = await openStatus(opened, { listen: path });
    results$.next(okResult());
    const { code, stdout } = await run([], { AGENTPOOL_LISTEN: path });
    expect(code).toBe(STATUS_EXIT.ok);
    expect(stdout).toContain(`agentpool at ${path}`);
  });

  it("prints JSON with --json", async () => {
    const { server, results$ } = await openStatus(opened);
    results$.next(okResult());
    const { code, stdout } = await run(["--listen", server.address, "--json"]);
    expect(code).toBe(STATUS_EXIT.ok);
    const body = JSON.parse(stdout) as {
      status: { lastReload: { ok: boolean } };
      agents: unknown[];
    };
    expect(body.status.lastReload.ok).toBe(true);
    expect(body.agents).toEqual([]);
  });

  it("exits 2 on a bad command line", async () => {
    const unknown = await run(["--nope"]);
    expect(unknown.code).toBe(STATUS_EXIT.usage);
    expect(unknown.stderr).toMatch(/Unknown option '--nope'/);
    expect(unknown.stderr).toContain("Usage: agentpool status");
    const badListen = await run(["--listen", "localhost"]);
    expect(badListen.code).toBe(STATUS_EXIT.usage);
    expect(badListen.stderr).toMatch(/listen must be HOST:PORT/);
    const help = await run(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Exit status: 0 last reload ok, 1 last reload failed");
  });
});
