// The unit under a real systemd 252 as PID 1 (issue 12): a Debian 12 root,
// installed into with systemd/install.sh --root exactly as an operator would,
// booted with systemd-nspawn, checked from inside with systemctl and
// journalctl. `npm run test:systemd`; not part of `npm test`.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, chown, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, type TestContext } from "vitest";
import { EXIT } from "../../src/daemon/exit-codes.js";
import { createTestPki } from "../../src/testing/index.js";
import {
  boot,
  cannotBoot,
  copyRootfs,
  ensureRootfs,
  type Machine,
  NspawnUnavailable,
  REPO,
  removeRootfs,
  skipLine,
} from "./machine.js";

const UNIT = "agentpool.service";
const CONFIG = "/etc/agentpool/config.yml";
const STATUS_URL = "http://127.0.0.1:9410/status";

let skipReason = cannotBoot();
let root: string | undefined;
let machine: Machine | undefined;
let gid = 0;
let cursor: string | undefined;
let secondInstall: { code: number; out: string } | undefined;
let hostBefore: string | undefined;
let hostAfter: string | undefined;

function installInto(dir: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) =>
    execFile(
      join(REPO, "systemd/install.sh"),
      ["--root", dir],
      { timeout: 10 * 60_000, encoding: "utf8" },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number(err.code ?? 1) : 0, out: `${stdout}${stderr}` }),
    ),
  );
}

/** What `install.sh --root` must leave alone on the host: its users, groups and units. */
async function hostState(): Promise<string> {
  const read = (path: string) => readFile(path, "utf8").catch(() => "(none)");
  return [
    await read("/etc/passwd"),
    await read("/etc/group"),
    await read("/etc/systemd/system/agentpool.service"),
    await read("/etc/sysusers.d/agentpool.conf"),
    await read("/etc/tmpfiles.d/agentpool.conf"),
    existsSync("/etc/agentpool") ? "has /etc/agentpool" : "",
    existsSync("/opt/agentpool") ? "has /opt/agentpool" : "",
  ].join("\n--\n");
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function agentsYaml(ports: number[], comment: string): string {
  const lines = [`# ${comment}`, "providers:", "  agents:"];
  for (const port of ports) {
    lines.push(
      `    - addr: 127.0.0.1:${port}`,
      `      name: edge-${port}`,
      "      tls:",
      "        ca_file: tls/ca.pem",
      "        cert_file: tls/client.pem",
      "        key_file: tls/client-key.pem",
    );
  }
  return `${lines.join("\n")}\n`;
}

/** Writes a file into the container's /etc/agentpool, as `root:agentpool` with `mode`. */
async function put(path: string, text: string, mode: number): Promise<void> {
  if (!root) throw new Error("no root");
  const file = join(root, path);
  await writeFile(file, text);
  await chown(file, 0, gid);
  await chmod(file, mode);
}

/** Saves config.yml the way editors and config managers do: a new file renamed over it. */
async function saveByRename(text: string): Promise<void> {
  await put("/etc/agentpool/.config.yml.new", text, 0o640);
  const mv = await inside("mv", ["-f", "/etc/agentpool/.config.yml.new", CONFIG]);
  expect(mv.code, mv.stderr).toBe(0);
}

function inside(cmd: string, args: string[] = [], timeoutMs?: number) {
  if (!machine) throw new Error("the container is not running");
  return machine.exec(cmd, args, timeoutMs ? { timeoutMs } : {});
}

/** Journal lines of the unit since the last call (or the start), waiting until `match` is among them. */
async function journalUntil(match: (line: string) => boolean, what: string): Promise<string[]> {
  if (!machine) throw new Error("the container is not running");
  const seen: string[] = [];
  const deadline = Date.now() + 20_000;
  for (;;) {
    const next = await machine.journal(UNIT, cursor);
    cursor = next.cursor;
    seen.push(...next.messages);
    if (seen.some(match)) return seen;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what} in the journal:\n${seen.join("\n")}`);
    await sleep(100);
  }
}

async function skipUnlessUp(ctx: TestContext): Promise<Machine> {
  if (skipReason || !machine) ctx.skip(skipReason ?? "the container is not running");
  return machine as Machine;
}

/** The unit's properties once `check` holds for them (systemd updates them asynchronously). */
async function showUntil(
  props: string[],
  check: (p: Record<string, string>) => boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<Record<string, string>> {
  if (!machine) throw new Error("the container is not running");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const values = await machine.show(UNIT, props);
    if (check(values)) return values;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}: ${JSON.stringify(values)}`);
    await sleep(100);
  }
}

function startToReadyMs(p: Record<string, string>): number {
  return (
    (Number(p.ActiveEnterTimestampMonotonic) - Number(p.ExecMainStartTimestampMonotonic)) / 1000
  );
}

const loaded = (agents: number, cause: string) => (line: string) =>
  line.includes('"msg":"config loaded"') &&
  line.includes(`"agents":${agents},`) &&
  line.includes(`"cause":"${cause}"`);

beforeAll(async () => {
  if (skipReason) return skipLine(skipReason);
  skipReason = await ensureRootfs();
  if (skipReason) return skipLine(skipReason);
  root = await copyRootfs();

  // The install, as the README tells an operator to do it.
  hostBefore = await hostState();
  const install = await installInto(root);
  if (install.code !== 0) throw new Error(`install.sh --root failed:\n${install.out}`);

  const group = (await readFile(join(root, "etc/group"), "utf8"))
    .split("\n")
    .find((line) => line.startsWith("agentpool:"));
  gid = Number(group?.split(":")[2]);
  if (!Number.isInteger(gid) || gid === 0)
    throw new Error(`install.sh made no group agentpool: ${group}`);

  // TLS material the way the README hands it to the service: the key 0640 root:agentpool.
  const pki = await createTestPki();
  await put("/etc/agentpool/tls/ca.pem", pki.ca.cert, 0o644);
  await put("/etc/agentpool/tls/client.pem", pki.client.cert, 0o644);
  await put("/etc/agentpool/tls/client-key.pem", pki.client.key, 0o640);
  await put(CONFIG, agentsYaml([1, 2], "two agents"), 0o640);
  // Again, as after an upgrade: the program is replaced, /etc/agentpool is kept.
  secondInstall = await installInto(root);
  hostAfter = await hostState();

  try {
    machine = await boot(root);
  } catch (err) {
    if (!(err instanceof NspawnUnavailable)) throw err;
    skipReason = err.message;
    return skipLine(skipReason);
  }
  const node = await inside("node", ["--version"]);
  if (node.code !== 0) {
    skipReason = `the host's node does not run in a Debian 12 root: ${node.stderr.trim()}`;
    skipLine(skipReason);
  }
}, 25 * 60_000);

afterAll(async () => {
  await machine?.poweroff();
  if (root) await removeRootfs(root);
}, 120_000);

describe("under a real systemd (systemd-nspawn -b, Debian 12)", () => {
  it("install.sh --root runs again cleanly, keeps the config, and leaves the host alone", async (ctx) => {
    const m = await skipUnlessUp(ctx);
    expect(secondInstall?.code, secondInstall?.out).toBe(0);
    expect(hostAfter).toBe(hostBefore);
    const config = await m.exec("cat", [CONFIG]);
    expect(config.stdout).toBe(agentsYaml([1, 2], "two agents"));
    const users = await m.exec("grep", ["-c", "^agentpool:", "/etc/passwd", "/etc/group"]);
    expect(users.stdout.trim().split("\n")).toEqual(["/etc/passwd:1", "/etc/group:1"]);
  });

  it("install.sh made the user, the group and /etc/agentpool root:agentpool 0750", async (ctx) => {
    const m = await skipUnlessUp(ctx);
    const id = await m.exec("id", ["agentpool"]);
    expect(id.stdout).toMatch(/uid=\d+\(agentpool\) gid=\d+\(agentpool\)/);
    const dir = await m.exec("stat", ["-c", "%U:%G %a", "/etc/agentpool", CONFIG]);
    expect(dir.stdout.trim().split("\n")).toEqual(["root:agentpool 750", "root:agentpool 640"]);
    const unit = await m.exec("systemctl", ["cat", UNIT]);
    expect(unit.stdout).toContain("User=agentpool");
  });

  it("start reaches active with READY=1, and status shows STATUS=", async (ctx) => {
    const m = await skipUnlessUp(ctx);
    const start = await m.exec("systemctl", ["start", UNIT]);
    expect(start.code, `${start.stderr}\n${(await m.journal(UNIT)).messages.join("\n")}`).toBe(0);
    const props = await m.show(UNIT, [
      "ActiveState",
      "SubState",
      "StatusText",
      "NRestarts",
      "ExecMainStartTimestampMonotonic",
      "ActiveEnterTimestampMonotonic",
    ]);
    expect(props).toMatchObject({ ActiveState: "active", SubState: "running", NRestarts: "0" });
    expect(props.StatusText).toBe("2 agents, snapshot 1");
    console.log(`systemd suite: ExecStart → READY=1 took ${startToReadyMs(props).toFixed(0)} ms`);

    const status = await m.exec("systemctl", ["status", "--no-pager", UNIT]);
    expect(status.stdout).toContain('Status: "2 agents, snapshot 1"');
    // The key is 0640 root:agentpool and the daemon runs in group agentpool: no warning.
    const lines = await journalUntil(loaded(2, "initial"), "the first load");
    expect(lines.find(loaded(2, "initial"))).not.toContain("warnings");
  });

  it("agentpool check run as root does not flag the installed 0640 root:agentpool key", async (ctx) => {
    const m = await skipUnlessUp(ctx);
    const out = await m.exec("node", ["/opt/agentpool/dist/daemon/cli.js", "check", "-c", CONFIG]);
    expect(out.code, out.stderr).toBe(0);
    expect(`${out.stdout}${out.stderr}`).not.toMatch(/readable by|warning/i);
  });

  it("the status endpoint answers", async (ctx) => {
    const m = await skipUnlessUp(ctx);
    const script = `fetch(${JSON.stringify(STATUS_URL)}).then(async (r) => console.log(r.status, await r.text()))`;
    const out = await m.exec("node", ["-e", script]);
    expect(out.code, out.stderr).toBe(0);
    const [code, ...body] = out.stdout.trim().split(" ");
    expect(code).toBe("200");
    expect(JSON.parse(body.join(" "))).toMatchObject({
      agents: 2,
      configPath: CONFIG,
      ready: true,
    });
  });

  it("systemctl reload is applied (journal)", async (ctx) => {
    const m = await skipUnlessUp(ctx);
    const reload = await m.exec("systemctl", ["reload", UNIT]);
    expect(reload.code, reload.stderr).toBe(0);
    const lines = await journalUntil(loaded(2, "signal"), "the forced reload");
    expect(lines.some((l) => l.includes("SIGHUP: reloading"))).toBe(true);
    expect((await m.show(UNIT, ["ActiveState"])).ActiveState).toBe("active");
  });

  it("an edit saved by rename is applied (journal, STATUS=)", async (ctx) => {
    await skipUnlessUp(ctx);
    await saveByRename(agentsYaml([1, 2, 3], "three agents"));
    await journalUntil(loaded(3, "file"), "the edit");
    await showUntil(
      ["StatusText"],
      (p) => p.StatusText?.startsWith("3 agents") ?? false,
      "STATUS= after the edit",
    );
  });

  it("a bad edit is rejected with its located error; the service stays active", async (ctx) => {
    const m = await skipUnlessUp(ctx);
    const before = await m.show(UNIT, ["MainPID"]);
    await saveByRename(agentsYaml([1, 2, 3], "a typo").replace("127.0.0.1:3", "127.0.0.1:99999"));
    const lines = await journalUntil((l) => l.includes("config rejected"), "the rejection");
    const rejected = lines.find((l) => l.includes("config rejected")) ?? "";
    expect(rejected).toMatch(
      /\/etc\/agentpool\/config\.yml:\d+:\d+: providers\.agents\[2\]\.addr: /,
    );
    const after = await showUntil(
      ["ActiveState", "MainPID", "StatusText", "NRestarts"],
      (p) => p.StatusText?.includes("last reload failed") ?? false,
      "STATUS= after the rejection",
    );
    expect(after).toMatchObject({ ActiveState: "active", MainPID: before.MainPID, NRestarts: "0" });
    expect(after.StatusText).toMatch(/^3 agents, snapshot 2; last reload failed: /);
    await saveByRename(agentsYaml([1, 2], "fixed"));
    await journalUntil(loaded(2, "file"), "the fix");
  });

  it("survives longer than WatchdogSec", async (ctx) => {
    const m = await skipUnlessUp(ctx);
    const { WatchdogUSec, MainPID } = await m.show(UNIT, ["WatchdogUSec", "MainPID"]);
    const watchdogMs = parseSeconds(WatchdogUSec ?? "") * 1000;
    expect(watchdogMs).toBeGreaterThan(0);
    await sleep(watchdogMs + 5_000);
    const after = await m.show(UNIT, ["ActiveState", "MainPID", "NRestarts", "Result"]);
    expect(after).toMatchObject({
      ActiveState: "active",
      MainPID,
      NRestarts: "0",
      Result: "success",
    });
  }, 120_000);

  it("start time, ExecStart → READY=1 (printed, not asserted)", async (ctx) => {
    const m = await skipUnlessUp(ctx);
    const bare = await m.exec("sh", [
      "-c",
      "s=$(date +%s%N); node -e 0; e=$(date +%s%N); echo $(( (e - s) / 1000000 ))",
    ]);
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      expect((await m.exec("systemctl", ["restart", UNIT])).code).toBe(0);
      times.push(
        startToReadyMs(
          await m.show(UNIT, ["ExecMainStartTimestampMonotonic", "ActiveEnterTimestampMonotonic"]),
        ),
      );
    }
    console.log(
      `systemd suite: ExecStart → READY=1 over 3 restarts: ${times.map((t) => t.toFixed(0)).join(", ")} ms (node -e 0 alone: ${bare.stdout.trim()} ms)`,
    );
    for (const t of times) expect(t).toBeGreaterThan(0);
    await journalUntil(loaded(2, "initial"), "the last restart's load");
  });

  it("systemd-analyze security rates the unit at most 1.5", async (ctx) => {
    const m = await skipUnlessUp(ctx);
    const out = await m.exec("systemd-analyze", ["security", "--no-pager", UNIT]);
    const level = Number(/Overall exposure level for \S+: ([\d.]+)/.exec(out.stdout)?.[1]);
    console.log(`systemd suite: systemd-analyze security ${UNIT}: ${level}`);
    expect(level).toBeLessThanOrEqual(1.5);
  });

  it("systemctl stop exits cleanly (exit 0, STOPPING=1)", async (ctx) => {
    const m = await skipUnlessUp(ctx);
    const stop = await m.exec("systemctl", ["stop", UNIT]);
    expect(stop.code, stop.stderr).toBe(0);
    const props = await m.show(UNIT, ["ActiveState", "Result", "ExecMainStatus", "ExecMainCode"]);
    expect(props).toMatchObject({
      ActiveState: "inactive",
      Result: "success",
      ExecMainStatus: "0",
    });
    await journalUntil((l) => l.includes('"msg":"stopped"'), "the daemon's last line");
  });

  it("a bad config at start fails with the error in the journal and does not restart", async (ctx) => {
    const m = await skipUnlessUp(ctx);
    await put(CONFIG, "providers:\n  agents:\n    - addr: nowhere\n", 0o640);
    const start = await m.exec("systemctl", ["start", UNIT]);
    expect(start.code).not.toBe(0);
    const lines = await journalUntil((l) => l.includes("start-up failed"), "the start-up failure");
    expect(lines.join("\n")).toContain(
      `${CONFIG}:3:13: providers.agents[0].addr: "nowhere" is not host:port`,
    );
    // RestartSec=2s: three of them pass without a restart.
    await sleep(7_000);
    const props = await m.show(UNIT, ["ActiveState", "NRestarts", "ExecMainStatus", "Result"]);
    expect(props).toMatchObject({
      ActiveState: "failed",
      NRestarts: "0",
      ExecMainStatus: String(EXIT.invalidConfig),
      Result: "exit-code",
    });
  }, 60_000);

  it("a crash (SIGKILL) is restarted", async (ctx) => {
    const m = await skipUnlessUp(ctx);
    await m.exec("systemctl", ["reset-failed", UNIT]);
    await put(CONFIG, agentsYaml([1], "one agent"), 0o640);
    const start = await m.exec("systemctl", ["start", UNIT]);
    expect(start.code, start.stderr).toBe(0);
    const { MainPID } = await m.show(UNIT, ["MainPID"]);
    await m.exec("systemctl", ["kill", "--signal=KILL", "--kill-who=main", UNIT]);
    const after = await showUntil(
      [
        "ActiveState",
        "NRestarts",
        "MainPID",
        "StatusText",
        "ExecMainStartTimestampMonotonic",
        "ActiveEnterTimestampMonotonic",
      ],
      (p) => p.NRestarts === "1" && p.ActiveState === "active",
      "the restart",
    );
    expect(after.MainPID).not.toBe(MainPID);
    expect(after.StatusText).toBe("1 agent, snapshot 1");
    console.log(
      `systemd suite: ExecStart → READY=1 after the restart took ${startToReadyMs(after).toFixed(0)} ms`,
    );
    expect((await m.exec("systemctl", ["stop", UNIT])).code).toBe(0);
  }, 60_000);
});

/** `30s`, `1min 30s`, `500ms` (systemctl show's time spans) in seconds. */
function parseSeconds(span: string): number {
  let total = 0;
  for (const [, n, unit] of span.matchAll(/([\d.]+)\s*(ms|us|min|s|h)/g)) {
    const value = Number(n);
    total +=
      unit === "ms"
        ? value / 1000
        : unit === "us"
          ? value / 1e6
          : unit === "min"
            ? value * 60
            : unit === "h"
              ? value * 3600
              : value;
  }
  return total;
}
