import { randomBytes } from "node:crypto";
import { chmod, chown, lstat, mkdir, rename, rm, stat } from "node:fs/promises";
import type { Server } from "node:http";
import { join } from "node:path";
import { groupId } from "../../unix-group.js";
import { socketPathState } from "../../unix-socket.js";

/** `sun_path` holds 108 bytes on Linux, the last one a NUL. */
const MAX_SOCKET_PATH_BYTES = 107;

/** File modes of the sockets and their folder, with or without a group. */
export interface Modes {
  socket: number;
  dir: number;
  /** Group id to hand the sockets and the folder to, if any. */
  gid: number | undefined;
}

export function modesFor(gid: number | undefined): Modes {
  return gid === undefined
    ? { socket: 0o600, dir: 0o700, gid }
    : { socket: 0o660, dir: 0o750, gid };
}

/** A group name or numeric id → gid. */
export async function resolveGroup(group: string | number): Promise<number> {
  if (typeof group === "number" || /^\d+$/.test(group)) {
    const gid = Number(group);
    if (!Number.isSafeInteger(gid) || gid < 0) throw new Error(`invalid group id ${group}.`);
    return gid;
  }
  const gid = groupId(group);
  if (gid !== undefined) return gid;
  throw new Error(`docker socket group "${group}" does not exist.`);
}

/**
 * Creates the sockets folder (0700, or 0750 with a group) or checks an
 * existing one: it must be a directory and must not be writable by others.
 */
export async function prepareDir(dir: string, modes: Modes): Promise<void> {
  let created = false;
  try {
    await mkdir(dir, { mode: modes.dir });
    created = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
      throw new Error(`cannot create docker sockets folder ${dir}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  const info = await stat(dir);
  if (!info.isDirectory()) throw new Error(`docker sockets folder ${dir} is not a directory.`);
  if (created) {
    // mkdir's mode is masked by the umask; set it exactly.
    if (modes.gid !== undefined) await chown(dir, -1, modes.gid);
    await chmod(dir, modes.dir);
    return;
  }
  if (info.mode & 0o002) {
    throw new Error(
      `docker sockets folder ${dir} is writable by everyone (mode ${(info.mode & 0o7777).toString(8)}); refusing to use it.`,
    );
  }
}

/** A free, unguessable name in `dir` to bind a socket at before it is renamed into place. */
export function privatePath(dir: string): string {
  return join(dir, `.agentpool-${randomBytes(8).toString("hex")}.sock`);
}

export function checkPathLength(path: string): void {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw new Error(
      `socket path ${path} is longer than ${MAX_SOCKET_PATH_BYTES} bytes; use a shorter --docker-sockets folder.`,
    );
  }
}

/**
 * Binds `server` at a private name, sets its mode and group, and returns that
 * name. The socket is bound away from its public name because closing a unix
 * server unlinks the path it was bound at: after a rename that path may
 * belong to another agent's socket.
 */
export async function bindPrivate(server: Server, dir: string, modes: Modes): Promise<string> {
  const path = privatePath(dir);
  checkPathLength(path);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once("error", onError);
    server.listen(path, () => {
      server.off("error", onError);
      resolve();
    });
  });
  try {
    if (modes.gid !== undefined) await chown(path, -1, modes.gid);
    await chmod(path, modes.socket);
  } catch (err) {
    await rm(path, { force: true });
    throw err;
  }
  return path;
}

/**
 * Makes sure `path` may be taken: free, or a socket nobody listens on (left
 * by a daemon that was killed). A path that is not a socket, or a socket
 * another process serves, is refused with one sentence.
 */
export async function checkTarget(path: string): Promise<void> {
  checkPathLength(path);
  // A socket that cannot be asked counts as stale here: it is replaced.
  if ((await socketPathState(path)).state === "in-use")
    throw new Error(`another process is listening on ${path}; refusing to replace it.`);
}

/** Moves a socket file to its public name; a stale socket there is replaced in one step. */
export async function place(from: string, to: string): Promise<void> {
  await checkTarget(to);
  await rename(from, to);
}

/** Removes a socket file if it is still a socket (never anything else). */
export async function unlinkSocket(path: string): Promise<void> {
  try {
    if ((await lstat(path)).isSocket()) await rm(path, { force: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}
