import { buildConnector, type Dispatcher, Pool } from "undici";
import { AGENT_HOST, DOCKER_HOST } from "./protocol.js";
import type { TlsMaterial } from "./tls.js";

export interface ConnectionOptions {
  /** Most sockets open to one agent. */
  connections: number;
  /** How long a TCP connect plus TLS handshake may take. */
  connectTimeoutMs: number;
  /** How long `close()` waits for in-flight requests before it destroys the sockets. */
  closeTimeoutMs: number;
}

/**
 * The undici pool that reaches one agent: dials `host:port`, verifies the
 * server as `godoxy.agent` against the agent's CA, presents the client
 * certificate. Created on first use, so building thousands of agents in a
 * reload costs no sockets and little memory.
 */
export class Connection {
  readonly #host: string;
  readonly #port: number;
  readonly #tls: TlsMaterial;
  readonly #options: ConnectionOptions;
  #pool: Pool | undefined;
  #closing: Promise<void> | undefined;

  constructor(host: string, port: number, tls: TlsMaterial, options: ConnectionOptions) {
    this.#host = host;
    this.#port = port;
    this.#tls = tls;
    this.#options = options;
  }

  dispatcher(): Dispatcher {
    if (!this.#pool) {
      this.#pool = this.#createPool();
      // A retired agent must not open connections: hand out a closed pool.
      if (this.#closing) void this.#pool.close();
    }
    return this.#pool;
  }

  #createPool(): Pool {
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
    const connect: buildConnector.connector = (opts, callback) =>
      tlsConnect(
        { ...opts, hostname: host, host: `${host}:${port}`, port, servername: AGENT_HOST },
        callback,
      );
    return new Pool(DOCKER_HOST, { connect, connections: this.#options.connections });
  }

  /** Lets in-flight requests finish, then closes; destroys what is left after the bound. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const pool = this.#pool;
    if (!pool || pool.closed || pool.destroyed) return;
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), this.#options.closeTimeoutMs);
      timer.unref();
    });
    try {
      const outcome = await Promise.race([pool.close().then(() => "closed" as const), bound]);
      if (outcome === "timeout") await pool.destroy();
    } finally {
      clearTimeout(timer);
    }
  }
}
