import { rename } from "node:fs/promises";
import type { Server } from "node:http";
import { join, resolve } from "node:path";
import type { Subscription } from "rxjs";
import type { Agent } from "../../agent/agent.js";
import { createLogger, type Logger } from "../../log.js";
import { check, resolveOptions } from "../../options.js";
import type { AgentPool } from "../../pool/pool.js";
import type { PoolSnapshot } from "../../pool/snapshot.js";
import { socketFileName } from "./names.js";
import { createProxyServer, type ProxyTarget } from "./proxy.js";
import {
  bindPrivate,
  type Modes,
  modesFor,
  place,
  prepareDir,
  privatePath,
  resolveGroup,
  unlinkSocket,
} from "./socket-file.js";

/** Options of {@link serveDockerSockets}; all optional. */
export interface DockerSocketsOptions {
  /**
   * Group (name or gid) that may use the sockets: they become 0660 and the
   * folder 0750, both owned by that group. By default sockets are 0600 and
   * the folder 0700, reachable by the daemon's user (and root) only.
   */
  group?: string | number;
  /** Default: a silent logger (errors still show in `list()`). */
  logger?: Logger;
  /** How long a removed agent's open streams may go on before they are cut. Default 30 000 ms. */
  drainMs?: number;
}

/** One agent's socket as `/status`, `/agents` and the metrics show it. */
export interface DockerSocketInfo {
  addr: string;
  name: string;
  /** Absolute path of the socket, while it is served. */
  path: string | undefined;
  /** Requests received since the socket was created (upgrades included). */
  requests: number;
  /** Answers still streaming and upgraded streams still open. */
  openStreams: number;
  /** Why the socket is not served, if it is not. */
  error?: string;
}

/** The running socket set. Close it with `close()` or `await using`. */
export interface DockerSockets extends AsyncDisposable {
  /** Absolute path of the sockets folder. */
  readonly dir: string;
  /** Settles once the snapshots published so far have been applied. */
  settled(): Promise<void>;
  /** Every agent of the last applied snapshot, in pool order. */
  list(): DockerSocketInfo[];
  /** Stops following the pool, removes every socket, cuts streams still open after a short grace. */
  close(): Promise<void>;
}

const DEFAULTS = Object.freeze({ drainMs: 30_000 });
/** On `close()`, open streams get this long before they are cut. */
const CLOSE_GRACE_MS = 2_000;

interface Entry {
  readonly addr: string;
  name: string;
  target: ProxyTarget;
  server: Server | undefined;
  /** Where the socket is now (public name, or a private one during renames). */
  path: string | undefined;
  error: string | undefined;
}

/**
 * Serves every agent of `pool` as a unix socket speaking the Docker Engine
 * API, `dir/<name>.sock` (see {@link socketFileName} for names that are not
 * safe file names), so `docker -H unix://dir/edge-1.sock ps` runs against
 * that agent. The set follows `pool.snapshots$` one snapshot at a time:
 * sockets appear for added agents, disappear for removed ones, are renamed
 * with their agent (open streams go on), and keep serving when an agent's TLS
 * material changes (new requests use the new connection).
 *
 * Each socket is as powerful as root on the agent's host.
 *
 * Rejects when the folder cannot be created or is writable by everyone, or
 * the group does not exist. A socket that cannot be placed (its path is not
 * a socket, another process serves it) is logged and shown in `list()`; the
 * other agents are served.
 */
export async function serveDockerSockets(
  pool: AgentPool,
  dir: string,
  options: DockerSocketsOptions = {},
): Promise<DockerSockets> {
  if (typeof dir !== "string" || dir === "") throw new TypeError("dir must be a folder path.");
  const opts = resolveOptions(options, DEFAULTS, {
    drainMs: (value) => check.nonNegativeMs(value) && "must be a number of milliseconds",
  });
  const root = resolve(dir);
  const log = (opts.logger ?? createLogger("silent")).child({ module: "docker-sockets" });
  const gid = opts.group === undefined ? undefined : await resolveGroup(opts.group);
  const modes: Modes = modesFor(gid);
  await prepareDir(root, modes);

  const entries = new Map<string, Entry>();
  let order: string[] = [];
  let work: Promise<void> = Promise.resolve();
  let closed = false;

  const apply = async (snapshot: PoolSnapshot) => {
    if (closed) return;
    const next = new Map<string, Agent>(snapshot.agents.map((agent) => [agent.addr, agent]));
    order = snapshot.agents.map((agent) => agent.addr);
    for (const [addr, entry] of entries) {
      if (next.has(addr)) continue;
      entries.delete(addr);
      log.info({ addr, path: entry.path }, "docker socket removed");
      await retire(entry, opts.drainMs);
    }
    // Renames go through private names first, so agents may swap names.
    const moving: Entry[] = [];
    for (const [addr, agent] of next) {
      const entry = entries.get(addr);
      if (!entry) continue;
      entry.target.agent = agent;
      const wanted = join(root, socketFileName(agent.name));
      entry.name = agent.name;
      if (entry.path !== wanted) moving.push(entry);
    }
    const from = new Map<Entry, string | undefined>();
    for (const entry of moving) {
      from.set(entry, entry.path);
      if (!entry.path) continue;
      const parked = privatePath(root);
      await rename(entry.path, parked).catch(() => {});
      entry.path = parked;
    }
    for (const entry of moving) {
      await settle(entry);
      if (entry.error === undefined)
        log.info(
          { addr: entry.addr, path: entry.path, from: from.get(entry) },
          "docker socket renamed",
        );
    }
    for (const [addr, agent] of next) {
      if (entries.has(addr)) continue;
      const entry: Entry = {
        addr,
        name: agent.name,
        target: {
          agent,
          requests: 0,
          openStreams: 0,
          upgraded: new Set(),
          log: log.child({ addr }),
        },
        server: undefined,
        path: undefined,
        error: undefined,
      };
      entries.set(addr, entry);
      await settle(entry);
    }
    // Earlier failures (a path in the way) are retried with every snapshot.
    for (const entry of entries.values()) if (entry.error !== undefined) await settle(entry);
  };

  /** Puts the entry's socket at its public name, binding it first if needed. */
  const settle = async (entry: Entry) => {
    const wanted = join(root, socketFileName(entry.name));
    const fresh = !entry.server;
    try {
      if (!entry.server) {
        const server = createProxyServer(entry.target);
        entry.path = await bindPrivate(server, root, modes);
        entry.server = server;
      }
      if (entry.path !== wanted) {
        await place(entry.path as string, wanted);
        entry.path = wanted;
      }
      if (entry.error !== undefined)
        log.info({ addr: entry.addr, path: wanted }, "docker socket recovered");
      entry.error = undefined;
      if (fresh) log.info({ addr: entry.addr, path: wanted }, "docker socket ready");
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (entry.error !== message)
        log.error({ addr: entry.addr, path: wanted, err: message }, "docker socket not served");
      entry.error = message;
    }
  };

  const subscription: Subscription = pool.snapshots$.subscribe((snapshot) => {
    work = work
      .then(() => apply(snapshot))
      .catch((err: unknown) => log.error({ err }, "docker sockets could not follow a snapshot"));
  });

  await work;
  log.info(
    { dir: root, mode: modes.socket.toString(8), sockets: entries.size },
    "serving docker sockets",
  );

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      subscription.unsubscribe();
      await work;
      closed = true;
      const all = [...entries.values()];
      entries.clear();
      await Promise.all(all.map((entry) => retire(entry, CLOSE_GRACE_MS)));
    })();
    return closing;
  };

  return {
    dir: root,
    settled: () => work,
    list: () =>
      order.flatMap((addr) => {
        const entry = entries.get(addr);
        if (!entry) return [];
        const info: DockerSocketInfo = {
          addr,
          name: entry.name,
          path: entry.error === undefined ? entry.path : undefined,
          requests: entry.target.requests,
          openStreams: entry.target.openStreams,
        };
        if (entry.error !== undefined) info.error = entry.error;
        return [info];
      }),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Stops listening and removes the socket file; open streams get `graceMs`, then are cut. */
async function retire(entry: Entry, graceMs: number): Promise<void> {
  const { server, path } = entry;
  entry.server = undefined;
  if (path) await unlinkSocket(path).catch(() => {});
  if (!server) return;
  const closed = new Promise<void>((done) => server.close(() => done()));
  server.closeIdleConnections();
  const cut = setTimeout(() => {
    server.closeAllConnections();
    for (const socket of entry.target.upgraded) socket.destroy();
  }, graceMs);
  cut.unref();
  // Removal does not wait for long streams: the next snapshot must not.
  if (graceMs > CLOSE_GRACE_MS) {
    void closed.finally(() => clearTimeout(cut));
    return;
  }
  await closed;
  clearTimeout(cut);
}
