// The resync safety net, against a watcher that really cannot watch
// everything: the daemon runs in a user namespace of its own whose inotify
// watch limit (/proc/sys/user/max_inotify_watches) leaves room for the
// config's folder only, so its TLS folder gets ENOSPC, as on a host whose
// fs.inotify.max_user_watches is used up.
import { spawnSync } from "node:child_process";
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { StatusBody } from "../../src/daemon/status/views.js";
import { createTestPki } from "../../src/testing/index.js";
import { getJson, httpGet, parsePrometheusText, sampleValue } from "../status/helpers.js";
import { type DaemonProcess, requireBuiltCli, startDaemon } from "../support/daemon.js";
import { sleep } from "../support/wait.js";
import { createWorkspace, type Workspace } from "../support/workspace.js";

/** Runs the daemon where only `watches` inotify watches may exist. */
const limited = (watches: number) => [
  "unshare",
  "--user",
  "--map-root-user",
  "sh",
  "-c",
  `echo ${watches} > /proc/sys/user/max_inotify_watches && exec "$0" "$@"`,
];

const canLimit = (() => {
  const probe = spawnSync(limited(1)[0] as string, [...limited(1).slice(1), "true"], {
    stdio: "ignore",
  });
  return probe.status === 0;
})();
if (!canLimit)
  console.log(
    "SKIP resync tests: cannot set an inotify watch limit in a user namespace (unshare --user --map-root-user and /proc/sys/user/max_inotify_watches are needed)",
  );

const A = [{ addr: "10.0.0.1:8890", name: "alpha" }];
const loaded = (l: Record<string, unknown>) => l.msg === "config loaded";

let ws: Workspace;
let daemon: DaemonProcess | undefined;

beforeAll(() => {
  requireBuiltCli();
});

afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  await ws?.cleanup();
});

async function rotateTls(): Promise<void> {
  const next = await createTestPki();
  await ws.writeTls("next", next);
  for (const file of ["key.pem", "cert.pem", "ca.pem"])
    await rename(join(ws.dir, "tls", "next", file), join(ws.dir, "tls", "main", file));
}

async function start(resync: string): Promise<string> {
  ws = await createWorkspace("agentpool-resync-");
  await writeFile(ws.configPath, ws.yaml(A));
  daemon = startDaemon(
    ["run", "-c", ws.configPath, "--listen", "127.0.0.1:0", "--resync", resync],
    {},
    undefined,
    limited(1),
  );
  const listening = await daemon.waitForLog((l) => l.msg === "status endpoint listening", 15_000);
  await daemon.waitForLog((l) => l.msg === "ready", 15_000);
  return String(listening.address);
}

describe.skipIf(!canLimit)("resync: the safety net under a watcher that misses events", () => {
  it("the inotify watch limit is named in a warning and in /status; the resync reloads a TLS rotation no event told of, with one warning naming the file, and counts it", async () => {
    const address = await start("300");
    const limit = await daemon?.waitForLog((l) => l.code === "ENOSPC");
    expect(limit?.msg).toMatch(/fs\.inotify\.max_user_watches/);
    expect(limit?.path).toBe(join(ws.dir, "tls", "main"));
    const status = await getJson<StatusBody>(address, "/status");
    expect(status.watchProblem).toMatchObject({
      code: "ENOSPC",
      path: join(ws.dir, "tls", "main"),
    });
    expect(status.watchProblem?.message).toMatch(/fs\.inotify\.max_user_watches/);

    // Let the attempt that follows a change of the watched set finish, so the
    // rotation is seen by nothing but the resync.
    await sleep(500);
    await rotateTls();
    const missed = await daemon?.waitForLog((l) => /a file event was missed/.test(String(l.msg)));
    expect(String(missed?.path)).toMatch(/tls\/main\/(key|cert|ca)\.pem$/);
    const reload = await daemon?.waitForLog((l) => loaded(l) && l.cause === "resync");
    expect(reload).toMatchObject({ changed: 1, added: 0, removed: 0 });
    // A change is warned about once: the next periods find nothing new.
    const warnings = () =>
      daemon?.logs.filter((l) => /a file event was missed/.test(String(l.msg))).length;
    await sleep(700);
    const settled = warnings();
    await sleep(1_000);
    expect(warnings()).toBe(settled);

    const after = await getJson<StatusBody>(address, "/status");
    expect(after.lastReload).toMatchObject({ ok: true, cause: "resync" });
    const metrics = parsePrometheusText((await httpGet(address, "/metrics")).body);
    expect(sampleValue(metrics, "agentpool_reload_resync_total")).toBeGreaterThanOrEqual(1);

    // The limit raised: the next period watches the folder again, /status
    // clears, and a rotation is a file event again.
    const pid = String(daemon?.child.pid);
    const raised = spawnSync("nsenter", [
      "-U",
      "-t",
      pid,
      "sh",
      "-c",
      "echo 100 > /proc/sys/user/max_inotify_watches",
    ]);
    expect(raised.status, String(raised.stderr)).toBe(0);
    await daemon?.waitForLog((l) => l.msg === "every watched folder is watched again");
    expect((await getJson<StatusBody>(address, "/status")).watchProblem).toBeUndefined();
    await sleep(500);
    await rotateTls();
    await daemon?.waitForLog((l) => loaded(l) && l.cause === "file" && l.changed === 1);

    // The watched folder still reloads at once, as a file event; SIGHUP as a signal.
    await writeFile(ws.configPath, ws.yaml([{ ...A[0], name: "renamed" } as (typeof A)[0]]));
    await daemon?.waitForLog((l) => loaded(l) && l.cause === "file");
    daemon?.child.kill("SIGHUP");
    await daemon?.waitForLog((l) => loaded(l) && l.cause === "signal");
  });

  it("--resync 0 turns it off: the missed rotation stays missed until SIGHUP", async () => {
    await start("0");
    await daemon?.waitForLog((l) => l.code === "ENOSPC");
    await sleep(500);
    const before = daemon?.logs.filter(loaded).length;
    await rotateTls();
    await sleep(1_000);
    expect(daemon?.logs.filter(loaded).length).toBe(before);
    daemon?.child.kill("SIGHUP");
    const reload = await daemon?.waitForLog((l) => loaded(l) && l.cause === "signal");
    expect(reload).toMatchObject({ changed: 1 });
  });
});
