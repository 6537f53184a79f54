import { createHash } from "node:crypto";
import { AgentError } from "../agent/errors.js";
import {
  TLS_PARTS,
  type TlsLabels,
  type TlsMaterial,
  type TlsPart,
  type VerifiedTls,
  verifyTls,
} from "../agent/tls.js";
import { BUNDLE_ENTRIES, type BundlePart, unpackBundle } from "./bundle.js";
import { FileReadError, readFileBounded } from "./read-file.js";

/** Where an agent's TLS material comes from; paths are absolute. */
export type TlsSource =
  | { kind: "files"; ca: string; cert: string; key: string }
  | { kind: "bundle"; zip: string };

/** What went wrong with one agent's TLS material; `part` says which file. */
export interface TlsProblem {
  part: TlsPart | "bundle";
  message: string;
}

export type TlsOutcome =
  | {
      ok: true;
      /** Frozen, and the same object for every agent with the same bytes. */
      tls: TlsMaterial;
      verified: VerifiedTls;
      /** The file the key came from (the zip for a bundle), its mode bits and group. */
      keyFile: string;
      keyStat: KeyStat;
      /** The certificate's file, as messages name it. */
      certLabel: string;
      caLabel: string;
    }
  | { ok: false; problems: TlsProblem[] };

/** What the key-mode warning looks at. */
export interface KeyStat {
  mode: number;
  gid: number;
}

/** The result of resolving every agent's TLS material for one config. */
export interface TlsResolution {
  /** One per request, in the same order. */
  outcomes: TlsOutcome[];
  /** Absolute path → sha256 of the bytes read, in the order the agents name them. */
  inputs: Map<string, string>;
  /** Every path this resolution read or tried to read, in the same order. */
  attempted: string[];
}

/** A PEM file or zip larger than this is refused (a system CA bundle is ~200 KiB). */
export const MAX_TLS_FILE_BYTES = 4 * 1024 * 1024;
/** Files read at once; enough to hide latency, few enough to spare file descriptors. */
const READ_CONCURRENCY = 16;

const PEM_BLOCK = /-----BEGIN [A-Z0-9 ]+-----/;
const ENCRYPTED_KEY = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,\s*ENCRYPTED/;
const decoder = new TextDecoder("utf-8");

interface Identity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  sha256: string;
}

interface Pem {
  text: string;
  hash: string;
}

type FileContent =
  | { kind: "pem"; pem: Pem }
  | { kind: "bundle"; parts: Readonly<Record<BundlePart, Pem>> }
  | { kind: "bundle"; reason: string };

interface FileEntry extends Identity {
  mode: number;
  gid: number;
  content: FileContent;
  used: number;
}

interface MaterialEntry {
  tls: TlsMaterial;
  verified: VerifiedTls;
  used: number;
}

type ReadResult = { ok: true; entry: FileEntry } | { ok: false; reason: string };

/**
 * Reads, parses and verifies agents' TLS files, remembering what it found.
 *
 * Files are remembered by path, reused only when both their identity (dev,
 * ino, size, mtime) and the sha256 of their bytes are unchanged; bytes are
 * read every time, since an mtime can miss a quick rewrite. Verified material
 * is remembered by the hashes of its three parts, so 10,000 agents sharing
 * one CA, certificate and key get ONE frozen `tls` object, verified once, and
 * a reload with unchanged files hands out the very same object again (which
 * `verifyTls` and the pool recognise without re-parsing). After each complete
 * resolution, entries it did not use are dropped, so the cache holds at most
 * what the latest config needs.
 */
export class TlsMaterialCache {
  readonly #files = new Map<string, FileEntry>();
  readonly #materials = new Map<string, MaterialEntry>();
  #generation = 0;

  /** Entries held, for tests and metrics. */
  get size(): { files: number; materials: number } {
    return { files: this.#files.size, materials: this.#materials.size };
  }

  /**
   * Resolves the TLS material of each agent. Problems with files are
   * reported per agent, never thrown; only an abort (or a bug) throws.
   * With `prune` (the default), entries this call did not use are dropped.
   */
  async resolve(
    requests: readonly { addr: string; source: TlsSource }[],
    options: { signal?: AbortSignal | undefined; prune?: boolean } = {},
  ): Promise<TlsResolution> {
    const { signal, prune = true } = options;
    const generation = ++this.#generation;

    // Keyed by how the file is read too: the same path named as a PEM file by
    // one agent and as a zip by another gets a (failing) read of each kind.
    const wanted = new Map<string, { path: string; kind: FileContent["kind"] }>();
    let previous: TlsSource | undefined;
    for (const { source } of requests) {
      // Agents mostly name the files the agent before them named (the loader
      // hands out one string per distinct path): no keys to build for them.
      if (previous !== undefined && sameSource(previous, source)) continue;
      previous = source;
      if (source.kind === "bundle") {
        wanted.set(fileKey("bundle", source.zip), { path: source.zip, kind: "bundle" });
        continue;
      }
      for (const path of [source.ca, source.cert, source.key]) {
        wanted.set(fileKey("pem", path), { path, kind: "pem" });
      }
    }
    const reads = new Map<string, ReadResult>();
    await forEachLimited([...wanted], READ_CONCURRENCY, signal, async ([key, { path, kind }]) => {
      reads.set(key, await this.#read(path, kind, generation));
    });

    const attempted = [...new Set([...wanted.values()].map((w) => w.path))];
    const inputs = new Map<string, string>();
    for (const [key, { path }] of wanted) {
      const read = reads.get(key);
      if (read?.ok && !inputs.has(path)) inputs.set(path, read.entry.sha256);
    }

    // An accepted outcome depends only on the files, not on the agent: agents
    // naming the same files share it (and the checks of those files run once).
    const accepted = new Map<string, TlsOutcome>();
    const outcomes: TlsOutcome[] = [];
    previous = undefined;
    let previousOutcome: TlsOutcome | undefined;
    for (const [index, { addr, source }] of requests.entries()) {
      if (index % 1000 === 999) signal?.throwIfAborted();
      if (previousOutcome?.ok && sameSource(previous as TlsSource, source)) {
        outcomes.push(previousOutcome);
        continue;
      }
      previous = source;
      const key =
        source.kind === "bundle" ? source.zip : `${source.ca}\0${source.cert}\0${source.key}`;
      let outcome = accepted.get(key);
      if (outcome === undefined) {
        outcome =
          source.kind === "bundle"
            ? this.#fromBundle(addr, source.zip, reads, generation)
            : this.#fromFiles(addr, source, reads, generation);
        if (outcome.ok) accepted.set(key, outcome);
      }
      previousOutcome = outcome;
      outcomes.push(outcome);
    }

    signal?.throwIfAborted();
    if (prune) this.#prune(generation);
    return { outcomes, inputs, attempted };
  }

  async #read(path: string, kind: FileContent["kind"], generation: number): Promise<ReadResult> {
    let file: Awaited<ReturnType<typeof readFileBounded>>;
    try {
      file = await readFileBounded(path, MAX_TLS_FILE_BYTES);
    } catch (err) {
      if (err instanceof FileReadError) return { ok: false, reason: err.reason };
      throw err;
    }
    const { stats, sha256 } = file;
    const identity: Identity = {
      dev: stats.dev,
      ino: stats.ino,
      size: stats.size,
      mtimeMs: stats.mtimeMs,
      sha256,
    };
    const key = fileKey(kind, path);
    const cached = this.#files.get(key);
    if (cached && sameIdentity(cached, identity)) {
      cached.used = generation;
      cached.mode = stats.mode;
      cached.gid = stats.gid;
      return { ok: true, entry: cached };
    }
    const content: FileContent =
      kind === "pem"
        ? { kind, pem: { text: decoder.decode(file.bytes), hash: sha256 } }
        : bundleContent(file.bytes);
    const entry: FileEntry = {
      ...identity,
      mode: stats.mode,
      gid: stats.gid,
      content,
      used: generation,
    };
    this.#files.set(key, entry);
    return { ok: true, entry };
  }

  #fromFiles(
    addr: string,
    source: Extract<TlsSource, { kind: "files" }>,
    reads: ReadonlyMap<string, ReadResult>,
    generation: number,
  ): TlsOutcome {
    const problems: TlsProblem[] = [];
    const pems: Partial<Record<TlsPart, Pem>> = {};
    let keyStat: KeyStat = { mode: 0, gid: 0 };
    for (const part of TLS_PARTS) {
      const path = source[part];
      const read = reads.get(fileKey("pem", path));
      if (!read?.ok) {
        problems.push({ part, message: `cannot read ${path}: ${read?.reason ?? "not read"}` });
        continue;
      }
      const content = read.entry.content;
      if (content.kind !== "pem") continue;
      const shape = pemProblem(part, content.pem.text);
      if (shape) problems.push({ part, message: `${path}: ${shape}` });
      else pems[part] = content.pem;
      if (part === "key") keyStat = { mode: read.entry.mode, gid: read.entry.gid };
    }
    const { ca, cert, key } = pems;
    if (problems.length > 0 || !ca || !cert || !key) return { ok: false, problems };
    const labels: TlsLabels = { ca: source.ca, cert: source.cert, key: source.key };
    return this.#verify(addr, { ca, cert, key }, labels, generation, {
      keyFile: source.key,
      keyStat,
    });
  }

  #fromBundle(
    addr: string,
    zip: string,
    reads: ReadonlyMap<string, ReadResult>,
    generation: number,
  ): TlsOutcome {
    const read = reads.get(fileKey("bundle", zip));
    if (!read?.ok) {
      return {
        ok: false,
        problems: [
          { part: "bundle", message: `cannot read ${zip}: ${read?.reason ?? "not read"}` },
        ],
      };
    }
    const content = read.entry.content;
    if (content.kind !== "bundle") return { ok: false, problems: [] };
    if ("reason" in content) {
      return { ok: false, problems: [{ part: "bundle", message: `${zip}: ${content.reason}` }] };
    }
    const labels: TlsLabels = {
      ca: `${zip} (${BUNDLE_ENTRIES.ca})`,
      cert: `${zip} (${BUNDLE_ENTRIES.cert})`,
      key: `${zip} (${BUNDLE_ENTRIES.key})`,
    };
    const problems: TlsProblem[] = [];
    for (const part of TLS_PARTS) {
      const shape = pemProblem(part, content.parts[part].text);
      if (shape) problems.push({ part: "bundle", message: `${labels[part]}: ${shape}` });
    }
    if (problems.length > 0) return { ok: false, problems };
    return this.#verify(addr, content.parts, labels, generation, {
      keyFile: zip,
      keyStat: { mode: read.entry.mode, gid: read.entry.gid },
    });
  }

  #verify(
    addr: string,
    pems: Readonly<Record<TlsPart, Pem>>,
    labels: TlsLabels,
    generation: number,
    key: { keyFile: string; keyStat: KeyStat },
  ): TlsOutcome {
    const id = `${pems.ca.hash}:${pems.cert.hash}:${pems.key.hash}`;
    let material = this.#materials.get(id);
    if (!material) {
      const tls: TlsMaterial = Object.freeze({
        ca: pems.ca.text,
        cert: pems.cert.text,
        key: pems.key.text,
      });
      try {
        material = { tls, verified: verifyTls(addr, tls, labels), used: generation };
      } catch (err) {
        if (!(err instanceof AgentError)) throw err;
        return { ok: false, problems: [tlsErrorProblem(err, addr, labels)] };
      }
      this.#materials.set(id, material);
    }
    material.used = generation;
    return {
      ok: true,
      tls: material.tls,
      verified: material.verified,
      ...key,
      certLabel: labels.cert,
      caLabel: labels.ca,
    };
  }

  #prune(generation: number): void {
    for (const [key, entry] of this.#files) if (entry.used < generation) this.#files.delete(key);
    for (const [id, entry] of this.#materials)
      if (entry.used < generation) this.#materials.delete(id);
  }
}

function sameSource(a: TlsSource, b: TlsSource): boolean {
  if (a === b) return true;
  if (a.kind === "bundle" || b.kind === "bundle")
    return a.kind === b.kind && (a as { zip: string }).zip === (b as { zip: string }).zip;
  return a.ca === b.ca && a.cert === b.cert && a.key === b.key;
}

function fileKey(kind: FileContent["kind"], path: string): string {
  return `${kind}:${path}`;
}

function sameIdentity(a: Identity, b: Identity): boolean {
  return (
    a.dev === b.dev &&
    a.ino === b.ino &&
    a.size === b.size &&
    a.mtimeMs === b.mtimeMs &&
    a.sha256 === b.sha256
  );
}

function bundleContent(bytes: Uint8Array): FileContent {
  const unpacked = unpackBundle(bytes);
  if (!unpacked.ok) return { kind: "bundle", reason: unpacked.reason };
  const pem = (data: Uint8Array): Pem => ({
    text: decoder.decode(data),
    hash: createHash("sha256").update(data).digest("hex"),
  });
  return {
    kind: "bundle",
    parts: Object.freeze({
      ca: pem(unpacked.entries.ca),
      cert: pem(unpacked.entries.cert),
      key: pem(unpacked.entries.key),
    }),
  };
}

/** A cheap shape check first, so "this is not PEM at all" reads plainly. */
function pemProblem(part: TlsPart, text: string): string | undefined {
  if (!PEM_BLOCK.test(text)) return 'not a PEM file (no "-----BEGIN" line)';
  if (part === "key" && ENCRYPTED_KEY.test(text)) {
    return "the private key is encrypted; agentpool needs an unencrypted key";
  }
  return undefined;
}

/** `verifyTls` names the label at fault after `agent <addr>: `; the config message names the file. */
function tlsErrorProblem(err: AgentError, addr: string, labels: TlsLabels): TlsProblem {
  const prefix = `agent ${addr}: `;
  const message = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
  const part =
    err.part ??
    (["key", "cert", "ca"] as const).find((p) => message.startsWith(`${labels[p]}: `)) ??
    "cert";
  return { part, message };
}

/** Runs `fn` over `items`, at most `limit` at a time, stopping at an abort. */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  signal: AbortSignal | undefined,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      signal?.throwIfAborted();
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
