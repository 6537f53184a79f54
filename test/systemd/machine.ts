// A Debian 12 root booted with systemd as PID 1 under systemd-nspawn, for the
// real-systemd suite: build (once, cached), copy, boot, run commands inside,
// read the journal, power off.
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../..", import.meta.url));
const BUILD_ROOT = fileURLToPath(new URL("./build-root.sh", import.meta.url));

/** Where the debootstrapped root is kept between runs (CI caches this folder). */
export const ROOTFS_CACHE =
  process.env.AGENTPOOL_TEST_ROOTFS || "/var/cache/agentpool-test/bookworm";

const PATH_INSIDE = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], timeoutMs = 60_000, input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: "utf8" },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

const has = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;

/**
 * Why this machine cannot boot a container, or undefined if it can: the
 * checks that need no network and take no time.
 */
export function cannotBoot(): string | undefined {
  if (process.platform !== "linux") return "not Linux";
  if (process.getuid?.() !== 0) return "not root (systemd-nspawn and debootstrap need root)";
  for (const tool of ["systemd-nspawn", "nsenter", "npm", "systemd-sysusers", "systemd-tmpfiles"])
    if (!has(tool)) return `${tool} is not installed`;
  if (!existsSync(join(REPO, "dist/daemon/cli.js"))) return "dist/ is missing (npm run build)";
  return undefined;
}

/**
 * Makes sure the cached root exists, building it with debootstrap from the
 * host's apt mirror if not. Resolves with a reason when that is impossible.
 */
export async function ensureRootfs(): Promise<string | undefined> {
  if (existsSync(join(ROOTFS_CACHE, ".agentpool-root-complete"))) return undefined;
  if (!has("debootstrap"))
    return `no cached root at ${ROOTFS_CACHE} and debootstrap is not installed`;
  const started = Date.now();
  const built = await run("sh", [BUILD_ROOT, ROOTFS_CACHE], 20 * 60_000);
  if (built.code !== 0) {
    const tail = `${built.stdout}\n${built.stderr}`.trim().split("\n").slice(-5).join("\n");
    return `debootstrap could not build ${ROOTFS_CACHE} (no network?):\n${tail}`;
  }
  console.log(
    `systemd suite: built ${ROOTFS_CACHE} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return undefined;
}

/** systemd-nspawn ended before the container's systemd started: this machine cannot run it. */
export class NspawnUnavailable extends Error {
  constructor(output: string) {
    super(`systemd-nspawn cannot run here:\n${output.trim().split("\n").slice(-5).join("\n")}`);
  }
}

/** Unit properties, as `systemctl show` prints them. */
export type Props = Record<string, string>;

export interface Machine {
  /** The root folder on the host. */
  root: string;
  /** Runs a command inside (all namespaces of the container's PID 1). */
  exec(
    cmd: string,
    args?: string[],
    options?: { timeoutMs?: number; input?: string },
  ): Promise<Run>;
  show(unit: string, props: string[]): Promise<Props>;
  /** Journal entries of a unit after `cursor` (all if none), with the cursor of the last. */
  journal(
    unit: string,
    cursor?: string,
  ): Promise<{ messages: string[]; cursor: string | undefined }>;
  /** What the container printed on its console, for failure messages. */
  console(): string;
  poweroff(): Promise<void>;
}

/** Copies the cached root to a temporary folder, for one run. */
export async function copyRootfs(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "agentpool-systemd-"));
  const root = join(dir, "root");
  const copied = await run("cp", ["-a", "--reflink=auto", ROOTFS_CACHE, root], 5 * 60_000);
  if (copied.code !== 0) throw new Error(`cp -a ${ROOTFS_CACHE}: ${copied.stderr}`);
  return root;
}

export async function removeRootfs(root: string): Promise<void> {
  await rm(join(root, ".."), { recursive: true, force: true });
}

function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) found.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Boots `root` with systemd as PID 1: no registration with a host systemd
 * (there may be none), a network namespace of its own (only `lo`, so the
 * status endpoint's default port cannot clash with the host's), and the
 * host's node bound in as /usr/bin/node, where the unit expects it.
 */
export async function boot(root: string): Promise<Machine> {
  const node = realpathSync(process.execPath);
  const nspawn: ChildProcess = spawn(
    "systemd-nspawn",
    [
      "--quiet",
      "--boot",
      "--register=no",
      "--keep-unit",
      "--private-network",
      "--link-journal=no",
      "--resolv-conf=off",
      "--timezone=off",
      `--machine=agentpool-test-${process.pid}`,
      `--bind-ro=${node}:/usr/bin/node`,
      "--console=pipe",
      "--directory",
      root,
    ],
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  let output = "";
  nspawn.stdout?.setEncoding("utf8").on("data", (c: string) => {
    output = (output + c).slice(-20_000);
  });
  nspawn.stderr?.setEncoding("utf8").on("data", (c: string) => {
    output = (output + c).slice(-20_000);
  });
  const exited = new Promise<void>((done) => nspawn.once("exit", () => done()));
  const nspawnPid = nspawn.pid;
  if (nspawnPid === undefined) throw new Error("systemd-nspawn did not start");

  let leader: number | undefined;
  const deadline = Date.now() + 30_000;
  while (leader === undefined) {
    if (nspawn.exitCode !== null) throw new NspawnUnavailable(output);
    if (Date.now() > deadline) throw new Error(`no PID 1 in the container:\n${output}`);
    // nspawn's child becomes the container's PID 1 once it has exec'd systemd.
    leader = childrenOf(nspawnPid).find((pid) => commOf(pid) === "systemd");
    if (leader === undefined) await sleep(50);
  }
  const pid1 = String(leader);

  const exec: Machine["exec"] = (cmd, args = [], options = {}) =>
    run(
      "nsenter",
      [
        "-t",
        pid1,
        "-a",
        "env",
        "-i",
        PATH_INSIDE,
        "LANG=C.UTF-8",
        "SYSTEMD_COLORS=0",
        cmd,
        ...args,
      ],
      options.timeoutMs ?? 60_000,
      options.input,
    );

  const machine: Machine = {
    root,
    exec,
    async show(unit, props) {
      const out = await exec("systemctl", ["show", unit, ...props.map((p) => `--property=${p}`)]);
      const values: Props = {};
      for (const line of out.stdout.split("\n")) {
        const eq = line.indexOf("=");
        if (eq > 0) values[line.slice(0, eq)] = line.slice(eq + 1);
      }
      return values;
    },
    async journal(unit, cursor) {
      const out = await exec("journalctl", [
        "--no-pager",
        "-u",
        unit,
        "-o",
        "json",
        ...(cursor ? [`--after-cursor=${cursor}`] : []),
      ]);
      const messages: string[] = [];
      let last = cursor;
      for (const line of out.stdout.split("\n")) {
        if (line.trim() === "") continue;
        const entry = JSON.parse(line) as { MESSAGE?: unknown; __CURSOR: string };
        last = entry.__CURSOR;
        const m = entry.MESSAGE;
        messages.push(
          typeof m === "string" ? m : Array.isArray(m) ? Buffer.from(m as number[]).toString() : "",
        );
      }
      return { messages, cursor: last };
    },
    console: () => output,
    async poweroff() {
      if (nspawn.exitCode !== null) return;
      await exec("systemctl", ["poweroff", "--no-block"], { timeoutMs: 10_000 });
      const timeout = sleep(30_000).then(() => "timeout");
      if ((await Promise.race([exited.then(() => "exited"), timeout])) === "timeout") {
        nspawn.kill("SIGKILL");
        await exited;
      }
    },
  };

  // Boot finished: `running`, or `degraded` when some unrelated unit failed.
  // `offline` or no answer: the manager is not listening yet.
  let up: Run = { code: null, stdout: "", stderr: "" };
  const bootDeadline = Date.now() + 60_000;
  while (Date.now() < bootDeadline) {
    up = await exec("systemctl", ["is-system-running", "--wait"], { timeoutMs: 60_000 });
    if (/^(running|degraded)/.test(up.stdout.trim())) break;
    await sleep(200);
  }
  if (!/^(running|degraded)/.test(up.stdout.trim())) {
    await machine.poweroff();
    throw new Error(`the container did not boot (${up.stdout.trim()}):\n${output}`);
  }
  return machine;
}

/** Sends the suite's skip line where vitest's summary cannot show the reason. */
export function skipLine(reason: string): void {
  console.log(`SKIP systemd suite: ${reason}`);
}
