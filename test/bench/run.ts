/**
 * `npm run bench`: runs every measure of issue 6, each in a process of its
 * own, and writes bench-results/latest.md and bench-results/latest.json
 * (with --quick, a smoke run with small counts: bench-results/quick.*).
 *
 *     node dist-bench/test/bench/run.js [--quick] [--only=lookups,commit,...]
 *
 * Measures: lookups, reload, commit, connections, throughput, docker-sockets, memory, startup, idle, soak.
 *
 * Timings never fail the bench: it exits 0 whatever the figures, and non-zero
 * only when a measure itself broke.
 */
import { execFileSync, fork } from "node:child_process";
import { statSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { MeasureResult } from "./lib/figure.js";

const MEASURE_SCRIPT = fileURLToPath(new URL("./measure.js", import.meta.url));
const RESULTS_DIR = fileURLToPath(new URL("../../../bench-results/", import.meta.url));
const REPO = fileURLToPath(new URL("../../../", import.meta.url));

/**
 * In order. Steps in one group run at the same time: memory (a leak test, no
 * timing) overlaps the 30 s idle window, which only counts the idle daemon's
 * own CPU time, so neither figure is disturbed and the bench is 30 s shorter.
 */
const PLAN: readonly (readonly string[])[] = [
  ["lookups"],
  ["commit"],
  ["reload"],
  ["connections"],
  ["throughput"],
  ["docker-sockets"],
  ["startup"],
  ["idle", "memory"],
  ["soak"],
];

/** Which code was measured: the commit, and files under src/ that differ from it. */
interface Tree {
  commit: string;
  uncommitted: string[];
  /** When dist/ (what the daemon measures run) was last built. */
  distBuilt: string;
}

function tree(): Tree {
  const git = (...args: string[]) =>
    execFileSync("git", args, { cwd: REPO, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  let distBuilt = "missing";
  try {
    distBuilt = statSync(join(REPO, "dist", "daemon", "cli.js")).mtime.toISOString();
  } catch {}
  try {
    return {
      distBuilt,
      commit: git("rev-parse", "--short", "HEAD").trim(),
      uncommitted: git("status", "--porcelain", "--", "src")
        .split("\n")
        .filter(Boolean)
        .map((line) => line.slice(3)),
    };
  } catch {
    return { commit: "unknown", uncommitted: [], distBuilt };
  }
}

const describeTree = (t: Tree) =>
  t.uncommitted.length === 0
    ? `commit ${t.commit}`
    : `commit ${t.commit} + uncommitted ${t.uncommitted.join(", ")}`;

interface Machine {
  node: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  loadAverage1m: number;
  date: string;
}

interface Failure {
  measure: string;
  error: string;
}

function machine(): Machine {
  const list = cpus();
  return {
    node: process.version,
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? "unknown",
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    kernel: `${process.platform} ${release()}`,
    loadAverage1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    date: new Date().toISOString(),
  };
}

function runMeasure(name: string, quick: boolean): Promise<MeasureResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = fork(MEASURE_SCRIPT, [name, ...(quick ? ["--quick"] : [])], {
      execArgv: ["--expose-gc"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let result: MeasureResult | undefined;
    child.on("message", (message: { result?: MeasureResult }) => {
      result = message.result;
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      if (result && code === 0) {
        process.stderr.write(`bench: ${name} done in ${seconds} s\n`);
        resolve(result);
      } else {
        reject(
          new Error(
            `measure "${name}" ended with ${signal ?? `exit code ${code}`} after ${seconds} s`,
          ),
        );
      }
    });
  });
}

const escapeCell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

function verdict(pass: boolean | null): string {
  if (pass === null) return "—";
  return pass ? "pass" : "**miss**";
}

export function renderMarkdown(
  host: Machine,
  code: { start: Tree; end: Tree },
  results: readonly MeasureResult[],
  failures: readonly Failure[],
  quick: boolean,
  seconds: number,
): string {
  const rebuilt = code.start.distBuilt !== code.end.distBuilt;
  const changed = describeTree(code.start) !== describeTree(code.end) || rebuilt;
  const lines: string[] = [
    `# agentpool benchmark${quick ? " (QUICK smoke run: small counts, figures not meaningful)" : ""}`,
    "",
    `Machine: Node ${host.node}, ${host.cpus} CPU${host.cpus === 1 ? "" : "s"} (${host.cpuModel}), ` +
      `${host.memoryGiB} GiB, ${host.kernel}; 1-min load average at start ${host.loadAverage1m}; ` +
      `${host.date}; whole run ${seconds.toFixed(0)} s.`,
    "",
    `Code: ${describeTree(code.start)}.` +
      (changed
        ? ` **The tree changed during the run**: at the end ${describeTree(code.end)}` +
          (rebuilt ? `, dist/ rebuilt at ${code.end.distBuilt}.` : ".")
        : ""),
    "",
    "| # | figure | value | detail | target | result |",
    "|---|---|---|---|---|---|",
  ];
  for (const result of results) {
    const section = result.title.split(".")[0];
    for (const f of result.figures) {
      lines.push(
        `| ${section} | ${escapeCell(f.label)} | ${escapeCell(f.display)} | ${escapeCell(f.detail ?? "")} | ${escapeCell(f.target ?? "—")} | ${verdict(f.pass)} |`,
      );
    }
  }
  const scored = results.flatMap((r) => r.figures).filter((f) => f.pass !== null);
  const missed = scored.filter((f) => f.pass === false);
  lines.push("", `${scored.length - missed.length} of ${scored.length} targets met.`);
  if (failures.length > 0) {
    lines.push("", "## Measures that broke", "");
    for (const f of failures) lines.push(`- ${f.measure}: ${f.error}`);
  }
  lines.push("", "## What each figure measures", "");
  for (const result of results) {
    lines.push(`### ${result.title}`, "", result.how, "");
    for (const note of result.notes) lines.push(`- ${note}`);
    if (result.notes.length > 0) lines.push("");
  }
  return `${lines.join("\n")}\n`;
}

async function main(argv: string[]): Promise<number> {
  const quick = argv.includes("--quick");
  const onlyArg = argv.find((a) => a.startsWith("--only="))?.slice("--only=".length);
  const only = onlyArg ? new Set(onlyArg.split(",")) : undefined;
  const host = machine();
  const startTree = tree();
  const started = performance.now();
  const results: MeasureResult[] = [];
  const failures: Failure[] = [];

  for (const group of PLAN) {
    const names = group.filter((name) => !only || only.has(name));
    const settled = await Promise.allSettled(names.map((name) => runMeasure(name, quick)));
    settled.forEach((outcome, i) => {
      if (outcome.status === "fulfilled") results.push(outcome.value);
      else
        failures.push({
          measure: names[i] as string,
          error: String(outcome.reason?.message ?? outcome.reason),
        });
    });
  }
  // Report in the issue's order (1 … 7), whatever order the plan ran them in.
  results.sort((a, b) => a.title.localeCompare(b.title, "en", { numeric: true }));

  const seconds = (performance.now() - started) / 1000;
  await mkdir(RESULTS_DIR, { recursive: true });
  const code = { start: startTree, end: tree() };
  const markdown = renderMarkdown(host, code, results, failures, quick, seconds);
  // A smoke run never overwrites the figures of the last full run.
  const base = quick ? "quick" : "latest";
  await writeFile(join(RESULTS_DIR, `${base}.md`), markdown);
  await writeFile(
    join(RESULTS_DIR, `${base}.json`),
    `${JSON.stringify({ machine: host, code, quick, seconds, results, failures }, null, 2)}\n`,
  );
  process.stdout.write(markdown);
  process.stderr.write(`bench: wrote ${RESULTS_DIR}${base}.md and ${base}.json\n`);
  return failures.length > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(
      `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  },
);
