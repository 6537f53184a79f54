import type { TLSSocket } from "node:tls";
import type { buildConnector, Dispatcher, Pool } from "undici";
import type { AgentError } from "./errors.js";
import { AGENT_HOST, DOCKER_HOST } from "./protocol.js";
import type { TlsMaterial } from "./tls.js";
import {
  classifyTlsError,
  explainConnectError,
  guardEstablished,
  traceHandshake,
} from "./tls-errors.js";
import { undici } from "./undici.js";

export interface ConnectionOptions {
  /** Most sockets open to one agent. */
  connections: number;
  /** How long a TCP connect plus TLS handshake may take. */
  connectTimeoutMs: number;
  /** How long `close()` waits for in-flight requests before it destroys the sockets. */
  closeTimeoutMs: number;
  /** The agent's addr as configured, for error messages. Default `host:port`. */
  addr?: string;
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
    const { buildConnector, Pool } = undici();
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
    const context = {
      addr: this.#options.addr ?? (host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`),
      host,
      port: this.#port,
      tls: this.#tls,
    };
    // The origin stays https://godoxy.agent (Host header, SNI); only the dial target changes.
    // Every TLS failure leaves here as one ERR_AGENT_TLS sentence (see tls-errors.ts).
    const connect: buildConnector.connector = (opts, callback) => {
      let keyExchange = () => false;
      const socket = tlsConnect(
        { ...opts, hostname: host, host: `${host}:${port}`, port, servername: AGENT_HOST },
        (err, established) => {
          const reachedKeyExchange = keyExchange();
          if (err) {
            explainConnectError(err, context, reachedKeyExchange).then(
              (explained) => callback(explained, null),
              () => callback(err, null),
            );
            return;
          }
          guardEstablished(established as TLSSocket, context);
          callback(null, established as TLSSocket);
        },
        // undici's connector returns the socket it made, though its type says void.
      ) as unknown as TLSSocket | undefined;
      if (socket) keyExchange = traceHandshake(socket);
    };
    return new Pool(DOCKER_HOST, { connect, connections: this.#options.connections });
  }

  /** `err` as an `ERR_AGENT_TLS` error of `addr` when it is a TLS failure. */
  classify(addr: string, err: unknown): AgentError | undefined {
    return classifyTlsError(addr, err, this.#tls);
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
