// The daemon on a real pseudo-terminal that hangs up, as when its terminal
// window closes or the SSH session drops: the kernel's SIGHUP must stop it
// (not reload it forever, logging into nothing), and Node 20's exit must not
// abort on the dead terminal (nodejs/node#51519).
import { execFile, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { CLI, requireBuiltCli } from "../support/daemon.js";
import { createWorkspace, type Workspace } from "../support/workspace.js";

const HARNESS = fileURLToPath(new URL("../fixtures/pty-hangup.py", import.meta.url));
const hasPython = spawnSync("python3", ["--version"], { stdio: "ignore" }).status === 0;
if (!hasPython) console.log("skip: python3 is not on PATH; the terminal hang-up tests do not run");

interface Ending {
  markerSeen: boolean;
  /** Still running 5 s after the hang-up (then sent SIGTERM). */
  outlived: boolean;
  exitCode: number | null;
  signal: number | null;
  output: string;
}

/** Runs the CLI on a new terminal, hangs it up once `marker` was printed, and tells how it ended. */
async function hangUpAfter(
  marker: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Ending> {
  const { stdout } = await promisify(execFile)(
    "python3",
    [HARNESS, marker, "5", process.execPath, CLI, ...args],
    // No colours: the markers are plain text.
    { env: { ...process.env, NO_COLOR: "1", ...env }, timeout: 60_000 },
  );
  return JSON.parse(stdout) as Ending;
}

let ws: Workspace | undefined;

beforeAll(() => {
  requireBuiltCli();
});

afterEach(async () => {
  await ws?.cleanup();
  ws = undefined;
});

async function runArgs(): Promise<string[]> {
  ws = await createWorkspace("agentpool-hangup-");
  await writeFile(ws.configPath, ws.yaml([]));
  return ["run", "-c", ws.configPath, "--listen", "off"];
}

describe.skipIf(!hasPython)(
  "a terminal that hangs up (skipped without python3)",
  { timeout: 60_000 },
  () => {
    it.each([
      ["pretty", ": ready"],
      ["json", '"msg":"ready"'],
    ])(
      "stops run (%s log) by itself, with exit 0; it used to reload forever, then abort at exit (JSON: hang in the log's flush)",
      async (format, marker) => {
        const ending = await hangUpAfter(marker, [...(await runArgs()), "--log-format", format]);
        expect(ending.markerSeen).toBe(true);
        expect({
          outlived: ending.outlived,
          exitCode: ending.exitCode,
          signal: ending.signal,
        }).toEqual({
          outlived: false,
          exitCode: 0,
          signal: null,
        });
      },
    );

    it("stops demo by itself, which removes its folder", async () => {
      const ending = await hangUpAfter(": ready", ["demo", "--listen", "off"]);
      expect(ending.markerSeen).toBe(true);
      expect([ending.outlived, ending.exitCode, ending.signal]).toEqual([false, 0, null]);
      const folder = /the demo folder (\S+) is removed/.exec(ending.output)?.[1];
      expect(folder).toBeDefined();
      expect(existsSync(folder as string)).toBe(false);
    });

    it.each([
      ["stdout and stderr", "2>&1"],
      ["stdout only, stderr on the terminal", ""],
    ])(
      "a daemon that logs to a file (%s) outlives the hang-up, reloads on SIGHUP, and exits 0 (no abort on the dead terminal)",
      async (_name, stderr) => {
        const args = await runArgs();
        const log = `${(ws as Workspace).dir}/daemon.log`;
        const line = ["exec", process.execPath, CLI, ...args, "--log-format", "json"]
          .map((word) => `'${word.replaceAll("'", `'\\''`)}'`)
          .join(" ")
          .replace(/^'exec'/, "exec");
        const { stdout } = await promisify(execFile)(
          "python3",
          [HARNESS, '"msg":"ready"', "2", "sh", "-c", `${line} > '${log}' ${stderr}`],
          { env: { ...process.env, MARKER_FILE: log, HUP_AFTER: "1" }, timeout: 60_000 },
        );
        const ending = JSON.parse(stdout) as Ending;
        expect(ending.markerSeen).toBe(true);
        const text = readFileSync(log, "utf8");
        // The kernel's SIGHUP at the hang-up (the daemon leads the session) and the operator's after it.
        expect(text.match(/"msg":"SIGHUP: reloading"/g)?.length ?? 0).toBeGreaterThanOrEqual(2);
        expect(text).not.toMatch(/hung up/);
        expect([ending.outlived, ending.exitCode, ending.signal]).toEqual([true, 0, null]);
      },
    );

    it("still reloads on an operator's SIGHUP while the terminal is there", async () => {
      const ending = await hangUpAfter(": ready", await runArgs(), {
        HUP_MARKER: "SIGHUP: reloading",
      });
      expect(ending.markerSeen).toBe(true);
      expect(ending.output).toMatch(/SIGHUP: reloading/);
      expect(ending.output).not.toMatch(/hung up/);
      expect([ending.outlived, ending.exitCode, ending.signal]).toEqual([false, 0, null]);
    });
  },
);
