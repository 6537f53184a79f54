import { rm } from "node:fs/promises";
import type { Server } from "node:http";
import { type AddressInfo, isIPv4, isIPv6 } from "node:net";
import { splitHostPort } from "../../agent/protocol.js";
import { socketPathState } from "../../unix-socket.js";

/*
 * Where the status endpoint listens, and the socket's life: parse the
 * `--listen` value, clear a stale unix socket, bind, and close gracefully.
 * No routes here; `agentpool status` and `check --diff` use the parser too.
 */

/** Where the status endpoint listens. */
export type ListenAddress =
  | { kind: "tcp"; host: string; port: number }
  | { kind: "unix"; path: string };

/** Running requests get this long to finish on close before their sockets are cut. */
export const CLOSE_GRACE_MS = 2_000;

/**
 * Parses a `--listen` value: `HOST:PORT`, `[IPv6]:PORT`, or a unix socket
 * path (anything containing `/`). Throws a `TypeError` saying what is expected.
 */
export function parseListen(listen: string): ListenAddress {
  const invalid = () =>
    new TypeError(
      `listen must be HOST:PORT, [IPv6]:PORT or a unix socket path containing "/"; got ${JSON.stringify(listen)}.`,
    );
  if (typeof listen !== "string" || listen.length === 0) throw invalid();
  if (listen.includes("/")) return { kind: "unix", path: listen };
  // Port 0 is allowed here: the system picks one, and `address` tells it.
  const split = splitHostPort(listen);
  if (!split) throw invalid();
  return { kind: "tcp", host: split.host, port: split.port };
}

/** A bound address as shown to people: `127.0.0.1:9410`, `[::1]:9410`, or the socket path. */
export function formatAddress(info: AddressInfo | string | null, fallback: string): string {
  if (typeof info === "string") return info;
  if (!info) return fallback;
  return isIPv6(info.address) ? `[${info.address}]:${info.port}` : `${info.address}:${info.port}`;
}

/** Whether a bound address (`host:port`, `[v6]:port`) is on the loopback interface. */
export function isLoopbackAddress(address: string): boolean {
  const host = (splitHostPort(address)?.host ?? address).replace(/^::ffff:/i, "");
  if (isIPv4(host)) return host.startsWith("127.");
  return host === "::1";
}

/**
 * A unix socket file left by a daemon that died is removed; one that somebody
 * still listens on, or a path that is not a socket, is left alone.
 */
async function removeStaleSocket(path: string): Promise<void> {
  const found = await socketPathState(path);
  if (found.state === "unknown") throw found.error;
  if (found.state === "in-use") throw new Error(`another process is listening on ${path}.`);
  if (found.state === "stale") await rm(path, { force: true });
}

/**
 * Binds `server` to `where` (clearing a stale unix socket first) and resolves
 * with the bound address as {@link formatAddress} writes it. Rejects with one
 * sentence naming `listen` and the reason; the server is closed then.
 */
export async function listenOn(
  server: Server,
  where: ListenAddress,
  listen: string,
): Promise<string> {
  try {
    if (where.kind === "unix") await removeStaleSocket(where.path);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      if (where.kind === "unix") server.listen(where.path, resolve);
      else server.listen({ host: where.host, port: where.port }, resolve);
    });
  } catch (err) {
    server.close();
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`status endpoint cannot listen on ${listen}: ${reason}`, { cause: err });
  }
  return formatAddress(server.address(), listen);
}

/**
 * Stops listening, lets running requests finish for up to
 * {@link CLOSE_GRACE_MS}, then cuts what is left; removes the socket file.
 */
export async function closeGracefully(server: Server, where: ListenAddress): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const cut = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
  await closed;
  clearTimeout(cut);
  if (where.kind === "unix") await rm(where.path, { force: true });
}
