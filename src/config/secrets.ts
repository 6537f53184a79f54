import { createPrivateKey } from "node:crypto";
import type { PathSegment } from "./path.js";

/*
 * A private key pasted into config.yml where it does not belong (a name, an
 * addr, a path, an ignored key) must be refused without being repeated: a
 * message quoting it would carry it into logs, /status, /events, a terminal
 * and Prometheus. Keys come in several clothes — PEM with its armor, the
 * base64 body alone (what secret stores hand out), hex, folded by `>-` into
 * one line with spaces — so the test is whether some part of the text parses
 * as a DER private key, not whether it is long or looks random.
 */

/** What every message about a pasted key says; it never repeats the key. */
export const PRIVATE_KEY_MESSAGE =
  "looks like a private key; it belongs in a file named by key_file";

/** The armor of any PEM private key (PKCS#8, encrypted PKCS#8, SEC1, PKCS#1, OpenSSH). */
const PEM_ARMOR = /-----(?:BEGIN|END) [A-Z0-9 ]*PRIVATE KEY-----/;

/** The smallest DER private key (Ed25519/X25519 PKCS#8) is 48 bytes. */
const MIN_DER_BYTES = 48;
/** RSA 16384-bit PKCS#8 is under 10 KiB; a longer "key" is not worth parsing. */
const MAX_DER_BYTES = 16 * 1024;
const MIN_BASE64_CHARS = Math.ceil(MIN_DER_BYTES / 3) * 4;
const MIN_HEX_CHARS = MIN_DER_BYTES * 2;

const DER_TYPES = ["pkcs8", "sec1", "pkcs1"] as const;

/**
 * True when `text` is, or contains, a private key: PEM armor, or base64 (also
 * URL-safe) or hex of a DER private key, with any whitespace inside it.
 */
export function containsPrivateKey(text: string): boolean {
  if (text.length < MIN_BASE64_CHARS) return false;
  if (PEM_ARMOR.test(text)) return true;
  // Folding and line breaks put whitespace inside the key; hex dumps put colons.
  const compact = text.replace(/\s+/g, "");
  if (compact.length < MIN_BASE64_CHARS) return false;
  for (const run of compact.match(/[A-Za-z0-9+/=_-]{16,}/g) ?? []) {
    if (run.length >= MIN_BASE64_CHARS && base64RunHoldsKey(run)) return true;
  }
  for (const run of compact.replace(/:/g, "").match(/[0-9A-Fa-f]{16,}/g) ?? []) {
    if (run.length >= MIN_HEX_CHARS && hexRunHoldsKey(run)) return true;
  }
  return false;
}

/** Every place a DER SEQUENCE could start: base64 of 0x30 begins with "M". */
function base64RunHoldsKey(run: string): boolean {
  for (let i = run.indexOf("M"); i >= 0 && run.length - i >= MIN_BASE64_CHARS; ) {
    // The second character holds the top of the length byte: A-H short form, I for 0x81/0x82.
    const second = run.charCodeAt(i + 1);
    if (second < 0x41 || second > 0x49) {
      i = run.indexOf("M", i + 1);
      continue;
    }
    const head = Buffer.from(run.slice(i, i + 12), "base64");
    const length = derKeyLength(head);
    if (length !== undefined) {
      const chars = Math.ceil(length / 3) * 4;
      if (run.length - i >= chars - 3) {
        const der = Buffer.from(run.slice(i, i + chars), "base64").subarray(0, length);
        if (der.length === length && parsesAsKey(der)) return true;
      }
    }
    i = run.indexOf("M", i + 1);
  }
  return false;
}

function hexRunHoldsKey(run: string): boolean {
  for (let i = run.indexOf("30"); i >= 0 && run.length - i >= MIN_HEX_CHARS; ) {
    const head = Buffer.from(run.slice(i, i + 16), "hex");
    const length = derKeyLength(head);
    if (length !== undefined && run.length - i >= length * 2) {
      const der = Buffer.from(run.slice(i, i + length * 2), "hex");
      if (der.length === length && parsesAsKey(der)) return true;
    }
    i = run.indexOf("30", i + 1);
  }
  return false;
}

/**
 * The total length of the DER structure starting at `head` when it has the
 * shape of a private key — SEQUENCE { INTEGER 0|1, … } (PKCS#8, SEC1, PKCS#1)
 * or SEQUENCE { SEQUENCE … } (encrypted PKCS#8) — else undefined. A cheap
 * filter before asking OpenSSL.
 */
function derKeyLength(head: Buffer): number | undefined {
  if (head.length < 6 || head[0] !== 0x30) return undefined;
  const first = head[1] as number;
  let length: number;
  let offset: number;
  if (first < 0x80) {
    length = first;
    offset = 2;
  } else if (first === 0x81) {
    length = head[2] as number;
    offset = 3;
  } else if (first === 0x82) {
    length = ((head[2] as number) << 8) | (head[3] as number);
    offset = 4;
  } else {
    return undefined;
  }
  const total = offset + length;
  if (total < MIN_DER_BYTES || total > MAX_DER_BYTES) return undefined;
  const version =
    head[offset] === 0x02 && head[offset + 1] === 0x01 && (head[offset + 2] ?? 9) <= 1;
  const encrypted = head[offset] === 0x30;
  return version || encrypted ? total : undefined;
}

function parsesAsKey(der: Buffer): boolean {
  for (const type of DER_TYPES) {
    try {
      createPrivateKey({ key: der, format: "der", type });
      return true;
    } catch (err) {
      // An encrypted PKCS#8 key parses far enough to ask for its passphrase.
      if ((err as { code?: string }).code === "ERR_MISSING_PASSPHRASE") return true;
    }
  }
  return false;
}

/** Where a pasted key sits in the parsed document: a value, or a mapping key. */
export interface PrivateKeyPlace {
  path: PathSegment[];
  part: "key" | "value";
}

/**
 * Every place in plain data (the parsed config.yml, ignored parts included)
 * whose text holds a private key. For a mapping key, `path` ends at that
 * key; messages must then name the parent only, the key being the secret.
 * `clean` is a part of `data` already known to hold no key in any of its
 * strings and keys; it is not walked (what else shares its nodes is).
 */
export function findPrivateKeys(data: unknown, clean?: object): PrivateKeyPlace[] {
  const found: PrivateKeyPlace[] = [];
  const seen = new Set<object>();
  // Nothing in it to report, so skipping it reports the same places.
  if (clean !== undefined) seen.add(clean);
  // A depth-first walk without recursion (nesting has no bound here). The
  // path to the node at hand is one array, cut back to the node's depth and
  // copied only for a report: a path per node was most of the walk's cost
  // on 10,000 agents.
  const path: PathSegment[] = [];
  const values: unknown[] = [data];
  const segments: PathSegment[] = [""];
  const depths: number[] = [0];
  while (values.length > 0) {
    const value = values.pop();
    const segment = segments.pop() as PathSegment;
    const depth = depths.pop() as number;
    while (path.length > depth) path.pop();
    if (depth > 0) path[depth - 1] = segment;
    if (typeof value === "string") {
      if (containsPrivateKey(value)) found.push({ path: path.slice(), part: "value" });
      continue;
    }
    if (typeof value !== "object" || value === null || seen.has(value)) continue;
    // An alias shares one object among places; one report is enough.
    seen.add(value);
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) {
        values.push(value[i]);
        segments.push(i);
        depths.push(depth + 1);
      }
      continue;
    }
    if (value instanceof Map) continue;
    const keys = Object.keys(value);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i] as string;
      if (containsPrivateKey(key)) {
        found.push({ path: [...path, key], part: "key" });
        continue;
      }
      values.push((value as Record<string, unknown>)[key]);
      segments.push(key);
      depths.push(depth + 1);
    }
  }
  return found;
}
