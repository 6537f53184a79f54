import type { Dispatcher } from "undici";
import { check, resolveOptions } from "../options.js";
import { Connection } from "./connection.js";
import { type DeadlineOptions, withDeadline } from "./deadline.js";
import { AgentError } from "./errors.js";
import {
  type AgentInfo,
  API_BASE,
  API_BASE_URL,
  type ContainerRuntime,
  dockerHostOf,
  type HealthCheckResult,
  parseAddr,
} from "./protocol.js";
import { type TlsIdentity, type TlsLabels, type TlsMaterial, verifyTls } from "./tls.js";
import { oneLine } from "./tls-errors.js";
import { undici } from "./undici.js";

/** What `add`, `has` and `remove` take: one agent with its TLS material as PEM text. */
export interface AgentConfig {
  /** `host:port` the client dials. */
  addr: string;
  /** Defaults to `addr`. */
  name?: string;
  tls: TlsMaterial;
}

export interface AgentOptions {
  /** Most sockets open to one agent. Default 100. */
  connections?: number;
  /** Bound on TCP connect plus TLS handshake. Default 10 000 ms. */
  connectTimeoutMs?: number;
  /** How long `close()` lets in-flight requests run before destroying sockets. Default 30 000 ms. */
  closeTimeoutMs?: number;
  /** Names of the TLS parts used in error messages (e.g. the files they came from). */
  tlsLabels?: TlsLabels;
}

const DEFAULTS = Object.freeze({
  connections: 100,
  connectTimeoutMs: 10_000,
  closeTimeoutMs: 30_000,
});

/** Default bound for `info()` and `healthCheck()`, as in GoDoxy. */
export const DEFAULT_AGENT_TIMEOUT_MS = 5_000;

export type RequestOptions = Omit<Dispatcher.RequestOptions, "origin" | "path" | "method"> &
  Partial<Pick<Dispatcher.RequestOptions, "method">> & {
    /** Give up after this many milliseconds (until the response headers). */
    timeoutMs?: number;
  };

const OPTION_CHECKS = Object.freeze({
  connections: check.positiveInteger,
  connectTimeoutMs: check.positiveMs,
  closeTimeoutMs: check.nonNegativeMs,
  tlsLabels: check.object,
});

const NO_OPTIONS: AgentOptions = Object.freeze({});

// A pool hands every agent the same options object: resolve it once, not once per agent.
const resolvedOptions = new WeakMap<AgentOptions, ReturnType<typeof resolveAgentOptions>>();
const resolveAgentOptions = (options: AgentOptions) =>
  resolveOptions(options, DEFAULTS, OPTION_CHECKS);

function agentOptions(options: AgentOptions) {
  let resolved = resolvedOptions.get(options);
  if (!resolved) {
    resolved = resolveAgentOptions(options);
    // Only a frozen object cannot change behind the cache's back.
    if (Object.isFrozen(options)) resolvedOptions.set(options, resolved);
  }
  return resolved;
}

/**
 * The agent the next `new Agent` succeeds: it takes over that agent's sockets
 * (and its `agent://` string) instead of making its own. Set only for the
 * length of that call by {@link agentSharingConnection}, so the public
 * constructor has no parameter that only the pool may use.
 */
let succeeding: Agent | undefined;

let internals: {
  fingerprint(agent: Agent): string;
  tlsIdentity(agent: Agent): TlsIdentity;
  connection(agent: Agent): Connection;
};

/**
 * One remote agent. Frozen: its fields never change; a reload that renames it
 * or rotates its certificates puts a new `Agent` in the pool.
 */
export class Agent {
  readonly addr: string;
  readonly name: string;
  /** `agent://<addr>`: what GoDoxy's docker providers use to name this agent. */
  readonly dockerHost: string;
  readonly #fingerprint: string;
  readonly #tlsIdentity: TlsIdentity;
  readonly #connection: Connection;

  static {
    internals = {
      fingerprint: (agent) => agent.#fingerprint,
      tlsIdentity: (agent) => agent.#tlsIdentity,
      connection: (agent) => agent.#connection,
    };
  }

  /**
   * Throws an {@link AgentError} when `addr` is not `host:port`, or when the
   * certificate or key does not parse or does not match.
   */
  constructor(config: AgentConfig, options: AgentOptions = NO_OPTIONS) {
    const previous = succeeding;
    succeeding = undefined;
    const reuse = previous ? previous.#connection : undefined;
    const opts = agentOptions(options);
    // A reused connection was made for this very addr: it needs no parsing again.
    const parsed = reuse
      ? undefined
      : parseAddr(typeof config?.addr === "string" ? config.addr : "");
    if (!reuse && !parsed) {
      throw new AgentError(
        "ERR_AGENT_CONFIG",
        String(config?.addr),
        "addr must be host:port (hostname, IPv4 or [IPv6], port 1-65535)",
      );
    }
    const verified = verifyTls(config.addr, config.tls, opts.tlsLabels);
    this.addr = config.addr;
    this.name = config.name || config.addr;
    // The same string as before: a swap of 10,000 renamed agents then builds
    // no new keys for the pool's agent:// index (their hashes are cached).
    this.dockerHost = previous ? previous.dockerHost : dockerHostOf(config.addr);
    this.#fingerprint = verified.fingerprint;
    this.#tlsIdentity = verified.identity;
    this.#connection =
      reuse ??
      new Connection(parsed?.host ?? "", parsed?.port ?? 0, config.tls, {
        connections: opts.connections,
        connectTimeoutMs: opts.connectTimeoutMs,
        closeTimeoutMs: opts.closeTimeoutMs,
        addr: config.addr,
      });
    Object.freeze(this);
  }

  /**
   * The undici dispatcher for this agent: use it with `request()` or `fetch()`
   * on `https://godoxy.agent/...` URLs (Docker Engine API at the root, the
   * agent's own API under `/godoxy/agent`).
   */
  httpClient(): Dispatcher {
    return this.#connection.dispatcher();
  }

  /**
   * `method` on `API_BASE_URL + endpoint`, e.g. `request("GET", "/info")`.
   * With `timeoutMs` or an `AbortSignal`, the call gives up on time even while
   * the TLS handshake is under way.
   */
  request(
    method: string,
    endpoint: string,
    options: RequestOptions = {},
  ): Promise<Dispatcher.ResponseData> {
    const { timeoutMs, signal, ...rest } = options;
    if (timeoutMs === undefined && !(signal instanceof AbortSignal)) {
      return this.#send(method, endpoint, signal ? { ...rest, signal } : rest);
    }
    return withDeadline(
      this.addr,
      `${method} ${API_BASE}${endpoint}`,
      {
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
        ...(signal instanceof AbortSignal ? { signal } : {}),
      },
      (deadline) => this.#send(method, endpoint, { ...rest, signal: deadline }),
    );
  }

  async #send(
    method: string,
    endpoint: string,
    options: RequestOptions,
  ): Promise<Dispatcher.ResponseData> {
    try {
      return await undici().request(API_BASE_URL + endpoint, {
        ...options,
        method: method as Dispatcher.HttpMethod,
        dispatcher: this.httpClient(),
      });
    } catch (err) {
      if (err instanceof Error && err.name === "AbortError") throw err;
      // The connector already names TLS failures; anything TLS that slipped past it is named here.
      const tlsError = this.#connection.classify(this.addr, err);
      if (tlsError) throw tlsError;
      const reason = oneLine(err instanceof Error ? err.message : String(err), 300);
      throw new AgentError(
        "ERR_AGENT_REQUEST",
        this.addr,
        `${method} ${API_BASE}${endpoint}: ${reason}`,
        {
          cause: err,
        },
      );
    }
  }

  /**
   * The agent's version, name and runtime. Agents that predate `/info` (404)
   * are asked `/name`, `/version` and `/runtime` instead; no `/runtime` means docker.
   */
  info(options: DeadlineOptions = {}): Promise<AgentInfo> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_AGENT_TIMEOUT_MS;
    return withDeadline(
      this.addr,
      `GET ${API_BASE}/info`,
      { ...options, timeoutMs },
      async (signal) => {
        const res = await this.#send("GET", "/info", { signal });
        if (res.statusCode === 200) return this.#parseInfo(await res.body.json());
        const text = await res.body.text();
        if (res.statusCode !== 404) this.#badStatus("/info", res.statusCode, text);
        return this.#legacyInfo(signal);
      },
    );
  }

  async #legacyInfo(signal: AbortSignal): Promise<AgentInfo> {
    const get = async (endpoint: string) => {
      const res = await this.#send("GET", endpoint, { signal });
      return { status: res.statusCode, text: (await res.body.text()).trim() };
    };
    const name = await get("/name");
    if (name.status !== 200) this.#badStatus("/name", name.status, name.text);
    const version = await get("/version");
    if (version.status !== 200) this.#badStatus("/version", version.status, version.text);
    const runtime = await get("/runtime");
    if (runtime.status === 404)
      return { name: name.text, version: version.text, runtime: "docker" };
    if (runtime.status !== 200) this.#badStatus("/runtime", runtime.status, runtime.text);
    return { name: name.text, version: version.text, runtime: this.#runtime(runtime.text) };
  }

  #parseInfo(body: unknown): AgentInfo {
    const info = body as Partial<Record<keyof AgentInfo, unknown>> | null;
    if (
      !info ||
      typeof info !== "object" ||
      typeof info.name !== "string" ||
      typeof info.version !== "string"
    ) {
      throw new AgentError(
        "ERR_AGENT_RESPONSE",
        this.addr,
        `GET ${API_BASE}/info: expected {"version","name","runtime"}`,
      );
    }
    return {
      name: info.name,
      version: info.version,
      runtime: this.#runtime(info.runtime ?? "docker"),
    };
  }

  #runtime(value: unknown): ContainerRuntime {
    if (value === "docker" || value === "podman") return value;
    throw new AgentError(
      "ERR_AGENT_RESPONSE",
      this.addr,
      `unknown container runtime ${JSON.stringify(value)}`,
    );
  }

  #badStatus(endpoint: string, status: number, body: string): never {
    const detail = body.length > 200 ? `${body.slice(0, 200)}…` : body;
    throw new AgentError(
      "ERR_AGENT_RESPONSE",
      this.addr,
      `GET ${API_BASE}${endpoint}: HTTP ${status} ${detail}`.trim(),
    );
  }

  /**
   * Asks the agent to health-check a target (`GET /godoxy/agent/health?<query>`).
   * A non-200 answer is an unhealthy result whose `detail` carries the status.
   */
  healthCheck(
    query: Record<string, string | number | boolean> | URLSearchParams | string,
    options: DeadlineOptions = {},
  ): Promise<HealthCheckResult> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_AGENT_TIMEOUT_MS;
    const qs = typeof query === "string" ? query.replace(/^\?/, "") : queryString(query);
    const endpoint = qs ? `/health?${qs}` : "/health";
    return withDeadline(
      this.addr,
      `GET ${API_BASE}/health`,
      { ...options, timeoutMs },
      async (signal) => {
        const started = performance.now();
        const res = await this.#send("GET", endpoint, {
          signal,
          headers: { "accept-encoding": "identity" },
        });
        const text = await res.body.text();
        const measured = Math.round((performance.now() - started) * 1e6);
        if (res.statusCode !== 200) {
          return {
            healthy: false,
            detail: `HTTP ${res.statusCode} ${text}`.trim(),
            latency: measured,
          };
        }
        let body: Partial<HealthCheckResult>;
        try {
          body = JSON.parse(text) as Partial<HealthCheckResult>;
        } catch (err) {
          throw new AgentError(
            "ERR_AGENT_RESPONSE",
            this.addr,
            `GET ${API_BASE}/health: answer is not JSON`,
            { cause: err },
          );
        }
        return {
          healthy: body.healthy === true,
          detail: typeof body.detail === "string" ? body.detail : "",
          latency: typeof body.latency === "number" ? body.latency : measured,
        };
      },
    );
  }

  /** Lets in-flight requests finish, then closes the agent's sockets (destroyed after a bound). */
  close(): Promise<void> {
    return this.#connection.close();
  }

  toJSON(): { addr: string; name: string; dockerHost: string } {
    return { addr: this.addr, name: this.name, dockerHost: this.dockerHost };
  }
}

function queryString(query: Record<string, string | number | boolean> | URLSearchParams): string {
  if (query instanceof URLSearchParams) return query.toString();
  return new URLSearchParams(
    Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]),
  ).toString();
}

/** @internal TLS identity of an agent, for telling a rotation from a plain re-add. */
export function fingerprintOf(agent: Agent): string {
  return internals.fingerprint(agent);
}

/** @internal The public fingerprints of an agent's certificates, for status and `check --diff`. */
export function tlsIdentityOf(agent: Agent): TlsIdentity {
  return internals.tlsIdentity(agent);
}

/** @internal The sockets behind an agent; shared between an agent and its renamed successor. */
export function connectionOf(agent: Agent): Connection {
  return internals.connection(agent);
}

/**
 * @internal A new agent for `config` that keeps `previous`'s sockets: used when a
 * reload renames an agent but leaves its addr and TLS material alone.
 */
export function agentSharingConnection(
  config: AgentConfig,
  previous: Agent,
  options?: AgentOptions,
): Agent {
  succeeding = previous;
  try {
    return new Agent(config, options);
  } finally {
    succeeding = undefined;
  }
}
