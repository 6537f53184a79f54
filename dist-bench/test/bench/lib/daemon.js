import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
export const CLI = fileURLToPath(new URL("../../../../dist/daemon/cli.js", import.meta.url));
export const REPO = fileURLToPath(new URL("../../../../", import.meta.url));
export function bindNotifySocket(path) {
    const require = createRequire(import.meta.url);
    const dgram = require("unix-dgram");
    let readyAt;
    const waiters = [];
    const socket = dgram.createSocket("unix_dgram", (message) => {
        if (readyAt !== undefined)
            return;
        if (!message.toString("utf8").split("\n").includes("READY=1"))
            return;
        readyAt = performance.now();
        for (const wake of waiters.splice(0))
            wake(readyAt);
    });
    socket.on("error", (err) => {
        throw err;
    });
    socket.bind(path);
    return {
        path,
        ready: () => readyAt !== undefined
            ? Promise.resolve(readyAt)
            : new Promise((resolve) => waiters.push(resolve)),
        close: () => socket.close(),
    };
}
export function assertBuilt() {
    if (!existsSync(CLI))
        throw new Error(`${CLI} is missing: run \`npm run build\` first`);
}
/** The daemon as systemd would start it, minus systemd: `run -c PATH --listen off`, NOTIFY_SOCKET set. */
export function spawnDaemon(configPath, notifySocket) {
    const env = { ...process.env, NOTIFY_SOCKET: notifySocket };
    delete env.WATCHDOG_USEC;
    delete env.WATCHDOG_PID;
    return spawn(process.execPath, [CLI, "run", "-c", configPath, "--listen", "off"], {
        cwd: REPO,
        env,
        stdio: ["ignore", "ignore", "pipe"],
    });
}
/** SIGTERM, then wait for the exit (SIGKILL after a bound). */
export async function stopProcess(child) {
    if (child.exitCode !== null || child.signalCode !== null)
        return;
    const exited = new Promise((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
}
/** Rejects if the child exits before `promise` settles, with its stderr. */
export function orExit(child, promise, timeoutMs = 30_000) {
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (chunk) => {
        stderr += chunk;
    });
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no READY=1 within ${timeoutMs} ms`)), timeoutMs);
        const onExit = (code) => reject(new Error(`daemon exited (${code}) before READY=1: ${stderr.trim()}`));
        child.once("exit", onExit);
        promise.then((value) => {
            clearTimeout(timer);
            child.off("exit", onExit);
            resolve(value);
        }, (err) => {
            clearTimeout(timer);
            reject(err);
        });
    });
}
