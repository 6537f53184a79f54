import { createHash } from "node:crypto";
import { constants, type Stats } from "node:fs";
import { open, stat } from "node:fs/promises";

/** The bytes of a file, their sha256 and what `fstat` said while it was open. */
export interface FileBytes {
  readonly bytes: Buffer;
  /** sha256 of `bytes`, hex. */
  readonly sha256: string;
  readonly stats: Stats;
}

/** A file that could not be read; `reason` is a short human phrase such as "no such file". */
export class FileReadError extends Error {
  override readonly name = "FileReadError";
  readonly reason: string;

  constructor(reason: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.reason = reason;
  }
}

const MIB = 1024 * 1024;

/** config.yml larger than this is refused before it is read; no file the loader reads is larger. */
export const MAX_CONFIG_BYTES = 16 * MIB;

/** `17.0 MiB`, `512 bytes`: sizes as a user reads them. */
export function formatSize(bytes: number): string {
  if (bytes >= MIB) return `${(bytes / MIB).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} bytes`;
}

const ERRNO_REASONS: Readonly<Record<string, string>> = Object.freeze({
  ENOENT: "no such file",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EISDIR: "is a directory",
  ENOTDIR: "a part of the path is not a directory",
  ELOOP: "too many levels of symbolic links",
  ENAMETOOLONG: "the path is too long",
  EMFILE: "too many open files",
  ENFILE: "too many open files",
  EIO: "input/output error",
  // open(2) says ENXIO for a unix socket (and a device with nothing behind it).
  ENXIO: "is a socket or a device, not a regular file",
  ENODEV: "is a device, not a regular file",
});

/** A short phrase for a file-system error, without the stack or the syscall. */
export function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code && ERRNO_REASONS[code]) return ERRNO_REASONS[code];
  if (code) return code;
  return err instanceof Error ? err.message.split("\n")[0] || "unknown error" : String(err);
}

/**
 * Reads a regular file of at most `limit` bytes. The size is checked with
 * `fstat` before reading, so a huge file is refused without being read, and
 * the read itself stops at `limit + 1` bytes in case the file grows meanwhile.
 * `O_NONBLOCK` keeps a FIFO at that path from blocking the open.
 * Throws {@link FileReadError}.
 */
export async function readFileBounded(path: string, limit: number): Promise<FileBytes> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENXIO") {
      const kind = await stat(path).then(
        (s) =>
          s.isSocket()
            ? "is a socket"
            : s.isCharacterDevice() || s.isBlockDevice()
              ? "is a device"
              : undefined,
        () => undefined,
      );
      if (kind) throw new FileReadError(`${kind}, not a regular file`, { cause: err });
    }
    throw new FileReadError(describeFsError(err), { cause: err });
  }
  try {
    const stats = await handle.stat();
    if (stats.isDirectory()) throw new FileReadError("is a directory");
    if (!stats.isFile()) throw new FileReadError("is not a regular file");
    if (stats.size > limit) {
      throw new FileReadError(
        `too large (${formatSize(stats.size)}; the limit is ${formatSize(limit)})`,
      );
    }
    let buffer = Buffer.allocUnsafe(stats.size + 1);
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length > limit) {
          throw new FileReadError(`too large (it grew past ${formatSize(limit)} while being read)`);
        }
        // Written to since fstat: keep reading, still within the limit.
        const grown = Buffer.allocUnsafe(Math.min(buffer.length * 2, limit + 1));
        buffer.copy(grown, 0, 0, length);
        buffer = grown;
      }
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    const bytes = buffer.subarray(0, length);
    return { bytes, sha256: createHash("sha256").update(bytes).digest("hex"), stats };
  } catch (err) {
    if (err instanceof FileReadError) throw err;
    throw new FileReadError(describeFsError(err), { cause: err });
  } finally {
    await handle.close().catch(() => {});
  }
}
