import { unzipSync } from "fflate";
import type { TlsPart } from "../agent/tls.js";

/** The files of a GoDoxy agent bundle (`<certs dir>/<addr>.zip`), by role. */
export const BUNDLE_ENTRIES = Object.freeze({
  ca: "ca.pem",
  cert: "cert.pem",
  key: "key.pem",
} as const satisfies Record<TlsPart, string>);

export type BundlePart = keyof typeof BUNDLE_ENTRIES;

/** Largest PEM entry a bundle may hold, unpacked: bounds what a crafted zip can make us allocate. */
const MAX_ENTRY_BYTES = 1024 * 1024;
/** Smallest possible zip: its end-of-central-directory record. */
const MIN_ZIP_BYTES = 22;

export type BundleResult =
  | { ok: true; entries: Readonly<Record<BundlePart, Uint8Array>> }
  | { ok: false; reason: string };

/**
 * Unpacks `ca.pem`, `cert.pem` and `key.pem` from a GoDoxy agent bundle and
 * ignores anything else in it. `reason` completes "<zip path>: ...".
 */
export function unpackBundle(bytes: Uint8Array): BundleResult {
  if (bytes.length < MIN_ZIP_BYTES) return { ok: false, reason: "not a zip file" };
  const wanted = new Set<string>(Object.values(BUNDLE_ENTRIES));
  const tooLarge: string[] = [];
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, {
      filter: (file) => {
        if (!wanted.has(file.name)) return false;
        // fflate inflates into a buffer of the declared size and never grows
        // it, so checking the declared size bounds the memory used.
        if (file.originalSize > MAX_ENTRY_BYTES || file.size > MAX_ENTRY_BYTES) {
          tooLarge.push(file.name);
          return false;
        }
        return true;
      },
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return {
      ok: false,
      reason: /invalid zip data/.test(message) ? "not a zip file" : `cannot unpack: ${message}`,
    };
  }
  if (tooLarge.length > 0) {
    return { ok: false, reason: `${tooLarge.join(", ")} is too large for a PEM file` };
  }
  const missing = Object.values(BUNDLE_ENTRIES).filter((name) => files[name] === undefined);
  if (missing.length > 0) {
    return {
      ok: false,
      reason: `has no ${missing.join(", ")} (a GoDoxy agent bundle holds ca.pem, cert.pem and key.pem)`,
    };
  }
  return {
    ok: true,
    entries: Object.freeze({
      ca: files[BUNDLE_ENTRIES.ca] as Uint8Array,
      cert: files[BUNDLE_ENTRIES.cert] as Uint8Array,
      key: files[BUNDLE_ENTRIES.key] as Uint8Array,
    }),
  };
}
