import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { CLI, requireBuiltCli } from "../support/daemon.js";
import { waitFor } from "../support/wait.js";
import { createWorkspace, type Workspace } from "../support/workspace.js";

// util-linux's script(1) gives the daemon a real pseudo-terminal as stdout.
const hasScript = spawnSync("script", ["--version"], { stdio: "ignore" }).status === 0;
if (!hasScript)
  console.log(
    "skip: script(1) from util-linux is not on PATH; the pseudo-terminal tests do not run",
  );

// ESC [ … m: the colour codes pino-pretty writes.
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");
const PRETTY_LINE = /^\[\d\d:\d\d:\d\d\.\d{3}\] (INFO|WARN|ERROR|DEBUG|FATAL) *: /;

interface Run {
  child: ChildProcess;
  out(): string;
  exited: Promise<number | null>;
}

const runs: Run[] = [];
let ws: Workspace;

beforeAll(() => {
  requireBuiltCli();
});

afterEach(async () => {
  for (const run of runs.splice(0)) {
    if (run.child.exitCode === null) {
      // script(1)'s child, the daemon, is stopped by the closed terminal's
      // SIGHUP (terminal-hangup.test.ts); killed here all the same, so a
      // failing test leaves nothing behind.
      try {
        process.kill(childOf(run.child.pid as number), "SIGKILL");
      } catch {
        // not started yet, or gone already
      }
      run.child.kill("SIGKILL");
    }
    await run.exited;
  }
  await ws?.cleanup();
});

function spawnRun(command: string, args: string[]): Run {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: process.env });
  let out = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk;
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const run = { child, out: () => out, exited };
  runs.push(run);
  return run;
}

function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The daemon under script(1): its stdout is a pseudo-terminal. */
function underTerminal(extra: string[] = []): Run {
  const line = ["exec", process.execPath, CLI, ...daemonArgs(), ...extra].map(shellQuote);
  // `exec` leaves the daemon as script's only child, so the test can signal it alone.
  return spawnRun("script", ["-qfec", line.join(" ").replace(/^'exec'/, "exec"), "/dev/null"]);
}

function daemonArgs(): string[] {
  return ["run", "-c", ws.configPath, "--listen", "127.0.0.1:0"];
}

/** The daemon spawned by script(1) (the exec'd shell). */
function childOf(pid: number): number {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/);
  const child = Number(children[0]);
  if (!Number.isInteger(child) || child <= 0) throw new Error(`script ${pid} has no child yet`);
  return child;
}

async function prepare(): Promise<void> {
  ws = await createWorkspace("agentpool-logformat-");
  // An agent nobody answers for: its failed probe logs a line with an `err`.
  await writeFile(ws.configPath, ws.yaml([{ addr: "127.0.0.1:1", name: "nobody" }]));
}

function plainLines(text: string): string[] {
  return text
    .replace(ANSI, "")
    .split(/\r?\n/)
    .filter((line) => line.trim() !== "");
}

describe("log format", () => {
  it.skipIf(!hasScript)(
    "a terminal gets one human line per event, coloured, with the key fields (skipped without script(1))",
    async () => {
      await prepare();
      const run = underTerminal();
      await waitFor("the ready line", () => /: ready/.test(run.out().replace(ANSI, "")), 15_000);
      await waitFor(
        "the failed probe's line",
        () => /agent info probe failed/.test(run.out().replace(ANSI, "")),
        10_000,
      );
      // A rejected edit: the error line names the file, line and column.
      await writeFile(ws.configPath, "providers:\n  agents: [\n");
      await waitFor(
        "the rejection line",
        () => /config rejected/.test(run.out().replace(ANSI, "")),
        10_000,
      );
      const daemon = childOf(run.child.pid as number);
      process.kill(daemon, "SIGTERM");
      expect(await run.exited).toBe(0);

      const raw = run.out();
      expect(raw).toMatch(ANSI); // a terminal gets colours
      const lines = plainLines(raw);
      for (const line of lines) expect(line).toMatch(PRETTY_LINE);
      expect(lines.some((l) => l.includes("{"))).toBe(true);
      const loaded = lines.find((l) => l.includes("reload: config loaded"));
      expect(loaded).toMatch(/INFO/);
      expect(loaded).toContain('"result":"success"');
      expect(loaded).toContain('"cause":"initial"');
      const rejected = lines.find((l) => l.includes("reload: config rejected"));
      expect(rejected).toMatch(/ERROR/);
      expect(rejected).toContain(`${ws.configPath}:3:1`);
      expect(lines.at(-1)).toMatch(/INFO *: stopped/);
      // Regression: an `err` field was printed on lines of its own.
      const probe = lines.find((l) => l.includes("agent info probe failed"));
      expect(probe).toMatch(/WARN/);
      expect(probe).toContain("— agent 127.0.0.1:1:");
      // Nothing of the NDJSON form reaches the terminal.
      expect(lines.some((l) => l.startsWith('{"level"'))).toBe(false);
    },
  );

  it.skipIf(!hasScript)(
    "--log-format json keeps NDJSON on a terminal (skipped without script(1))",
    async () => {
      await prepare();
      const run = underTerminal(["--log-format", "json"]);
      await waitFor("the ready line", () => /"msg":"ready"/.test(run.out()), 15_000);
      process.kill(childOf(run.child.pid as number), "SIGTERM");
      expect(await run.exited).toBe(0);
      const records = plainLines(run.out()).map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(records.map((r) => r.msg)).toEqual(
        expect.arrayContaining(["starting", "config loaded", "ready", "stopped"]),
      );
    },
  );

  it("a pipe gets NDJSON, one record per line", async () => {
    await prepare();
    const run = spawnRun(process.execPath, [CLI, ...daemonArgs()]);
    await waitFor("the ready line", () => /"msg":"ready"/.test(run.out()), 15_000);
    run.child.kill("SIGTERM");
    expect(await run.exited).toBe(0);
    const records = plainLines(run.out()).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.find((r) => r.msg === "config loaded")).toMatchObject({
      level: 30,
      module: "reload",
      result: "success",
    });
    expect(run.out()).not.toMatch(ANSI);
  });

  it("--log-format pretty through a pipe: human lines without colours", async () => {
    await prepare();
    const run = spawnRun(process.execPath, [CLI, ...daemonArgs(), "--log-format", "pretty"]);
    await waitFor("the ready line", () => /: ready/.test(run.out()), 15_000);
    run.child.kill("SIGTERM");
    expect(await run.exited).toBe(0);
    expect(run.out()).not.toMatch(ANSI);
    const lines = plainLines(run.out());
    for (const line of lines) expect(line).toMatch(PRETTY_LINE);
    expect(lines.find((l) => l.includes("status: status endpoint listening"))).toMatch(
      /"address":"127\.0\.0\.1:\d+"/,
    );
  });

  it("an unknown --log-format is a usage error (exit 2)", async () => {
    await prepare();
    const run = spawnRun(process.execPath, [CLI, ...daemonArgs(), "--log-format", "xml"]);
    expect(await run.exited).toBe(2);
    expect(run.out()).toContain("--log-format must be one of json, pretty");
  });
});
