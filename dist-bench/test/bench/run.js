/**
 * `npm run bench`: runs every measure of issue 6, each in a process of its
 * own, and writes bench-results/latest.md and bench-results/latest.json.
 *
 *     node dist-bench/test/bench/run.js [--quick] [--only lookups,commit,...]
 *
 * Timings never fail the bench: it exits 0 whatever the figures, and non-zero
 * only when a measure itself broke.
 */
import { fork } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
const MEASURE_SCRIPT = fileURLToPath(new URL("./measure.js", import.meta.url));
const RESULTS_DIR = fileURLToPath(new URL("../../../bench-results/", import.meta.url));
/**
 * In order. Steps in one group run at the same time: memory (a leak test, no
 * timing) overlaps the 30 s idle window, which only counts the idle daemon's
 * own CPU time, so neither figure is disturbed and the bench is 30 s shorter.
 */
const PLAN = [
    ["lookups"],
    ["commit"],
    ["reload"],
    ["connections"],
    ["throughput"],
    ["startup"],
    ["idle", "memory"],
];
function machine() {
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
function runMeasure(name, quick) {
    return new Promise((resolve, reject) => {
        const started = performance.now();
        const child = fork(MEASURE_SCRIPT, [name, ...(quick ? ["--quick"] : [])], {
            execArgv: ["--expose-gc"],
            stdio: ["ignore", "inherit", "inherit", "ipc"],
        });
        let result;
        child.on("message", (message) => {
            result = message.result;
        });
        child.on("error", reject);
        child.on("exit", (code, signal) => {
            const seconds = ((performance.now() - started) / 1000).toFixed(1);
            if (result && code === 0) {
                process.stderr.write(`bench: ${name} done in ${seconds} s\n`);
                resolve(result);
            }
            else {
                reject(new Error(`measure "${name}" ended with ${signal ?? `exit code ${code}`} after ${seconds} s`));
            }
        });
    });
}
const escapeCell = (text) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");
function verdict(pass) {
    if (pass === null)
        return "—";
    return pass ? "pass" : "**miss**";
}
export function renderMarkdown(host, results, failures, quick, seconds) {
    const lines = [
        `# agentpool benchmark${quick ? " (QUICK smoke run: small counts, figures not meaningful)" : ""}`,
        "",
        `Machine: Node ${host.node}, ${host.cpus} CPU${host.cpus === 1 ? "" : "s"} (${host.cpuModel}), ` +
            `${host.memoryGiB} GiB, ${host.kernel}; 1-min load average at start ${host.loadAverage1m}; ` +
            `${host.date}; whole run ${seconds.toFixed(0)} s.`,
        "",
        "| # | figure | value | detail | target | result |",
        "|---|---|---|---|---|---|",
    ];
    for (const result of results) {
        const section = result.title.split(".")[0];
        for (const f of result.figures) {
            lines.push(`| ${section} | ${escapeCell(f.label)} | ${escapeCell(f.display)} | ${escapeCell(f.detail ?? "")} | ${escapeCell(f.target ?? "—")} | ${verdict(f.pass)} |`);
        }
    }
    const scored = results.flatMap((r) => r.figures).filter((f) => f.pass !== null);
    const missed = scored.filter((f) => f.pass === false);
    lines.push("", `${scored.length - missed.length} of ${scored.length} targets met.`);
    if (failures.length > 0) {
        lines.push("", "## Measures that broke", "");
        for (const f of failures)
            lines.push(`- ${f.measure}: ${f.error}`);
    }
    lines.push("", "## What each figure measures", "");
    for (const result of results) {
        lines.push(`### ${result.title}`, "", result.how, "");
        for (const note of result.notes)
            lines.push(`- ${note}`);
        if (result.notes.length > 0)
            lines.push("");
    }
    return `${lines.join("\n")}\n`;
}
async function main(argv) {
    const quick = argv.includes("--quick");
    const onlyArg = argv.find((a) => a.startsWith("--only="))?.slice("--only=".length);
    const only = onlyArg ? new Set(onlyArg.split(",")) : undefined;
    const host = machine();
    const started = performance.now();
    const results = [];
    const failures = [];
    for (const group of PLAN) {
        const names = group.filter((name) => !only || only.has(name));
        const settled = await Promise.allSettled(names.map((name) => runMeasure(name, quick)));
        settled.forEach((outcome, i) => {
            if (outcome.status === "fulfilled")
                results.push(outcome.value);
            else
                failures.push({
                    measure: names[i],
                    error: String(outcome.reason?.message ?? outcome.reason),
                });
        });
    }
    // Report in the issue's order (1 … 7), whatever order the plan ran them in.
    results.sort((a, b) => a.title.localeCompare(b.title, "en", { numeric: true }));
    const seconds = (performance.now() - started) / 1000;
    await mkdir(RESULTS_DIR, { recursive: true });
    const markdown = renderMarkdown(host, results, failures, quick, seconds);
    await writeFile(join(RESULTS_DIR, "latest.md"), markdown);
    await writeFile(join(RESULTS_DIR, "latest.json"), `${JSON.stringify({ machine: host, quick, seconds, results, failures }, null, 2)}\n`);
    process.stdout.write(markdown);
    process.stderr.write(`bench: wrote ${RESULTS_DIR}latest.md and latest.json\n`);
    return failures.length > 0 ? 1 : 0;
}
main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
}, (err) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
});
