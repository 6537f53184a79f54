import { createHash } from "node:crypto";

/** Longest file name (before `.sock`) kept readable; longer names end in a hash. */
const MAX_STEM = 80;
const SAFE = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/**
 * The socket file name for an agent name, e.g. `edge-1` → `edge-1.sock`.
 *
 * Names made of `A-Z a-z 0-9 . _ -` that do not start with `.` are used as
 * they are. Every other byte of the UTF-8 name, and a leading `.`, becomes
 * `~XX` (two upper-case hex digits): `web/1` → `web~2F1.sock`,
 * `10.0.0.5:8890` → `10.0.0.5~3A8890.sock`, `.hidden` → `~2Ehidden.sock`.
 * `~` itself is always escaped, so two different names never map to the same
 * file. A result longer than 80 characters keeps its first 60 and ends in
 * `~~` plus 16 hex digits of the name's SHA-256; `~~` never occurs in an
 * unhashed name, so hashed and unhashed names cannot collide either.
 */
export function socketFileName(name: string): string {
  const stem = SAFE.test(name) && !name.includes("~") ? name : escapeName(name);
  if (stem.length <= MAX_STEM) return `${stem}.sock`;
  const hash = createHash("sha256").update(name, "utf8").digest("hex").slice(0, 16);
  return `${stem.slice(0, 60).replace(/~[0-9A-F]?$/, "")}~~${hash}.sock`;
}

function escapeName(name: string): string {
  let out = "";
  for (const byte of Buffer.from(name, "utf8")) {
    const ch = String.fromCharCode(byte);
    const safe = /[A-Za-z0-9._-]/.test(ch) && !(out === "" && ch === ".");
    out += safe ? ch : `~${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out === "" ? "~" : out;
}
