import { buildConnector, Pool } from "undici";
import { AGENT_HOST, DOCKER_HOST } from "./protocol.js";
/**
 * The undici pool that reaches one agent: dials `host:port`, verifies the
 * server as `godoxy.agent` against the agent's CA, presents the client
 * certificate. Created on first use, so building thousands of agents in a
 * reload costs no sockets and little memory.
 */
export class Connection {
    #host;
    #port;
    #tls;
    #options;
    #pool;
    #closing;
    constructor(host, port, tls, options) {
        this.#host = host;
        this.#port = port;
        this.#tls = tls;
        this.#options = options;
    }
    dispatcher() {
        this.#pool ??= this.#createPool();
        return this.#pool;
    }
    #createPool() {
        const tlsConnect = buildConnector({
            ca: this.#tls.ca,
            cert: this.#tls.cert,
            key: this.#tls.key,
            servername: AGENT_HOST,
            minVersion: "TLSv1.2",
            rejectUnauthorized: true,
            timeout: this.#options.connectTimeoutMs,
        });
        const host = this.#host;
        const port = String(this.#port);
        // The origin stays https://godoxy.agent (Host header, SNI); only the dial target changes.
        const connect = (opts, callback) => tlsConnect({ ...opts, hostname: host, host: `${host}:${port}`, port, servername: AGENT_HOST }, callback);
        return new Pool(DOCKER_HOST, { connect, connections: this.#options.connections });
    }
    /** Lets in-flight requests finish, then closes; destroys what is left after the bound. */
    close() {
        this.#closing ??= this.#close();
        return this.#closing;
    }
    async #close() {
        const pool = this.#pool;
        if (!pool || pool.closed || pool.destroyed)
            return;
        let timer;
        const bound = new Promise((resolve) => {
            timer = setTimeout(() => resolve("timeout"), this.#options.closeTimeoutMs);
            timer.unref();
        });
        try {
            const outcome = await Promise.race([pool.close().then(() => "closed"), bound]);
            if (outcome === "timeout")
                await pool.destroy();
        }
        finally {
            clearTimeout(timer);
        }
    }
}
