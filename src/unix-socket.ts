import { lstat } from "node:fs/promises";
import { connect } from "node:net";

/**
 * What stands at a path where a unix socket is to be bound: nothing, a socket
 * nobody listens on (left by a daemon that was killed: safe to replace), or a
 * socket another process serves, or a socket that could not be asked (`error`
 * says why: each caller decides what that means for it). Anything that is not
 * a socket is refused with one sentence: it is never replaced. Used by the
 * status endpoint and the docker sockets alike.
 */
export async function socketPathState(
  path: string,
): Promise<{ state: "free" | "stale" | "in-use" } | { state: "unknown"; error: Error }> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { state: "free" };
    throw err;
  }
  if (!isSocket) throw new Error(`${path} exists and is not a socket; refusing to replace it.`);
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once("connect", () => {
      probe.destroy();
      resolve({ state: "in-use" });
    });
    probe.once("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "ECONNREFUSED" || error.code === "ENOENT") resolve({ state: "stale" });
      else resolve({ state: "unknown", error });
    });
  });
}
