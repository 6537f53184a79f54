import { createServer } from "node:https";
import { API_BASE } from "../agent/protocol.js";
import { createTestPki } from "./pki.js";
const DEFAULT_CONTAINERS = [
    {
        Id: "4f1c0ffee0",
        Names: ["/web"],
        Image: "nginx:1.27",
        State: "running",
        Status: "Up 2 hours",
    },
    {
        Id: "9abadcafe1",
        Names: ["/db"],
        Image: "postgres:17",
        State: "running",
        Status: "Up 2 hours",
    },
];
function json(res, status, body) {
    const text = JSON.stringify(body);
    res.writeHead(status, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(text),
    });
    res.end(text);
}
function text(res, status, body) {
    res.writeHead(status, {
        "content-type": "text/plain",
        "content-length": Buffer.byteLength(body),
    });
    res.end(body);
}
/** Starts a GoDoxy-compatible agent: `/godoxy/agent/info`, `/health`, the legacy endpoints and a little Docker API. */
export async function startTestAgent(options = {}) {
    const pki = options.pki ?? (await createTestPki());
    const name = options.name ?? "test-agent";
    const version = options.version ?? "v0.18.0";
    const runtime = options.runtime ?? "docker";
    const containers = options.containers ?? DEFAULT_CONTAINERS;
    let handshakes = 0;
    let requests = 0;
    const sockets = new Set();
    const route = (req, res) => {
        requests++;
        if (options.handle?.(req, res))
            return;
        const url = new URL(req.url ?? "/", "https://godoxy.agent");
        const path = url.pathname;
        if (path === `${API_BASE}/info`) {
            if (options.legacy)
                return text(res, 404, "404 page not found");
            return json(res, 200, { version, name, runtime });
        }
        if (path === `${API_BASE}/name`)
            return text(res, 200, name);
        if (path === `${API_BASE}/version`)
            return text(res, 200, version);
        if (path === `${API_BASE}/runtime`) {
            return options.legacy === "no-runtime"
                ? text(res, 404, "404 page not found")
                : text(res, 200, runtime);
        }
        if (path === `${API_BASE}/health`) {
            const target = url.searchParams.toString();
            return json(res, 200, { healthy: true, detail: `checked ${target}`, latency: 1_500_000 });
        }
        if (path === "/_ping")
            return text(res, 200, "OK");
        if (path === "/version")
            return json(res, 200, { Version: "27.3.1", ApiVersion: "1.47", Os: "linux" });
        if (path === "/containers/json")
            return json(res, 200, containers);
        return json(res, 404, { message: `page not found: ${path}` });
    };
    const server = createServer({
        key: pki.server.key,
        cert: pki.server.cert,
        ca: pki.ca.cert,
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: "TLSv1.2",
    }, (req, res) => {
        if (options.delayMs)
            setTimeout(() => route(req, res), options.delayMs);
        else
            route(req, res);
    });
    server.on("secureConnection", () => handshakes++);
    // Dropping tls.Server's own connection listener leaves sockets accepted but
    // never answered, so the client waits for a ServerHello that never comes.
    if (options.stallHandshake)
        server.removeAllListeners("connection");
    server.on("connection", (socket) => {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
    });
    server.on("tlsClientError", () => { });
    await new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
    });
    const { port, address } = server.address();
    const addr = address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
    return {
        addr,
        port,
        pki,
        get handshakes() {
            return handshakes;
        },
        get requests() {
            return requests;
        },
        config: (agentName) => ({
            addr,
            ...(agentName ? { name: agentName } : {}),
            tls: pki.clientTls,
        }),
        close: () => new Promise((resolve) => {
            for (const socket of sockets)
                socket.destroy();
            server.close(() => resolve());
        }),
    };
}
