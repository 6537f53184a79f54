export const MEASURES = Object.freeze({
    lookups: () => import("./lookups.js"),
    commit: () => import("./commit.js"),
    reload: () => import("./reload-latency.js"),
    connections: () => import("./connections.js"),
    throughput: () => import("./throughput.js"),
    memory: () => import("./memory.js"),
    startup: () => import("./startup.js"),
    idle: () => import("./idle.js"),
});
async function main(argv) {
    const name = argv.find((a) => !a.startsWith("--"));
    const load = name ? MEASURES[name] : undefined;
    if (!load)
        throw new Error(`usage: measure.js <${Object.keys(MEASURES).join("|")}> [--quick]`);
    const result = await (await load()).run({ quick: argv.includes("--quick") });
    if (process.send) {
        await new Promise((resolve, reject) => process.send?.({ result }, (err) => (err ? reject(err) : resolve())));
        process.disconnect();
    }
    else {
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    }
    // Everything a measure opens it closes; if something still holds the event
    // loop, say what, and end anyway rather than hang the bench.
    setTimeout(() => {
        process.stderr.write(`bench ${name}: handles still open after the measure: ${process.getActiveResourcesInfo().join(", ")}\n`);
        process.exit(0);
    }, 5_000).unref();
}
main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`bench measure failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
});
