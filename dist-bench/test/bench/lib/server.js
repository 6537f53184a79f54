import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
const SCRIPT = fileURLToPath(new URL("./server-child.js", import.meta.url));
export function startRemoteTestAgent() {
    return new Promise((resolve, reject) => {
        const child = fork(SCRIPT, [], {
            stdio: ["ignore", "inherit", "inherit", "ipc"],
        });
        child.once("error", reject);
        child.once("exit", (code) => reject(new Error(`test agent process exited early (${code})`)));
        child.once("message", (message) => {
            child.removeAllListeners("exit");
            const exited = new Promise((done) => child.once("exit", () => done()));
            resolve({
                port: message.port,
                addr: `127.0.0.1:${message.port}`,
                tls: Object.freeze({ ...message.tls }),
                close: async () => {
                    if (child.connected)
                        child.send("close");
                    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
                    await exited;
                    clearTimeout(timer);
                },
            });
        });
    });
}
