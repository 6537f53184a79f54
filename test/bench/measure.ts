/**
 * Runs ONE measure in this process and hands its result to the parent (the
 * runner forks one process per measure, so heaps, JIT state and open handles
 * of one measure never colour another's figures).
 *
 *     node --expose-gc dist-bench/test/bench/measure.js <measure> [--quick]
 *
 * Without a parent, prints the result as JSON.
 */
import type { BenchOptions, MeasureResult } from "./lib/figure.js";

type Module = { run(options: BenchOptions): Promise<MeasureResult> };

export const MEASURES: Readonly<Record<string, () => Promise<Module>>> = Object.freeze({
  lookups: () => import("./lookups.js"),
  commit: () => import("./commit.js"),
  reload: () => import("./reload-latency.js"),
  connections: () => import("./connections.js"),
  throughput: () => import("./throughput.js"),
  "docker-sockets": () => import("./docker-sockets.js"),
  memory: () => import("./memory.js"),
  startup: () => import("./startup.js"),
  idle: () => import("./idle.js"),
  soak: () => import("./soak.js"),
});

async function main(argv: string[]): Promise<void> {
  const name = argv.find((a) => !a.startsWith("--"));
  const load = name ? MEASURES[name] : undefined;
  if (!load) throw new Error(`usage: measure.js <${Object.keys(MEASURES).join("|")}> [--quick]`);
  const result = await (await load()).run({ quick: argv.includes("--quick") });
  if (process.send) {
    await new Promise<void>((resolve, reject) =>
      process.send?.({ result }, (err: Error | null) => (err ? reject(err) : resolve())),
    );
    process.disconnect();
  } else {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  }
  // Everything a measure opens it closes; if something still holds the event
  // loop, say what, and end anyway rather than hang the bench.
  setTimeout(() => {
    process.stderr.write(
      `bench ${name}: handles still open after the measure: ${process.getActiveResourcesInfo().join(", ")}\n`,
    );
    process.exit(0);
  }, 5_000).unref();
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(
    `bench measure failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
