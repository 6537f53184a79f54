import { dirname, join, resolve } from "node:path";
import type { AgentConfig } from "../agent/agent.js";
import type { TlsPart } from "../agent/tls.js";
import { check, resolveOptions } from "../options.js";
import { digestInputs } from "./digest.js";
import { ConfigError, type ConfigErrorCode, type ConfigIssue, formatIssue } from "./errors.js";
import { type ConfigSource, fastSource, NeedsLocatedParse } from "./fast-parse.js";
import { formatPath, type PathSegment, quote, valueAt } from "./path.js";
import { type FileBytes, FileReadError, MAX_CONFIG_BYTES, readFileBounded } from "./read-file.js";
import { AddrSchema, type AgentEntry, AgentEntrySchema, ConfigSchema } from "./schema.js";
import { explainSchemaIssues } from "./schema-issues.js";
import { privateKeyIssues } from "./secret-issues.js";
import { TlsMaterialCache, type TlsOutcome, type TlsSource } from "./tls-files.js";
import { commonAgentList } from "./validate-fast.js";
import { expiryWarning, keyModeWarning } from "./warnings.js";
import type { LocateOptions } from "./yaml-source.js";

/** Options of {@link loadConfig} and {@link prepareConfig}; all optional. */
export interface LoadOptions {
  /**
   * Folder of GoDoxy agent bundles (`<addr>.zip`). A relative path is resolved
   * against the working directory. Default: `../certs` from the directory of
   * config.yml (GoDoxy's layout).
   */
  certsDir?: string;
  /** Cancels the attempt: it then rejects with the signal's reason (an `AbortError`), not a ConfigError. */
  signal?: AbortSignal;
}

/** What {@link loadConfig} gives: agents ready for `pool.add()`, and warnings. */
export interface LoadResult {
  agents: AgentConfig[];
  warnings: string[];
}

/** A validated config with what the reload pipeline needs to tell attempts apart. */
export interface PreparedConfig {
  /** Frozen; agents using the same TLS bytes share one frozen `tls` object. */
  readonly agents: readonly AgentConfig[];
  readonly warnings: readonly string[];
  /** Absolute path of config.yml. */
  readonly configPath: string;
  /** Absolute path → sha256 (hex) of the bytes read: config.yml first, then each TLS file or zip. */
  readonly inputs: ReadonlyMap<string, string>;
  /** sha256 over `inputs` in order: equal digests mean the same bytes everywhere. */
  readonly digest: string;
}

/**
 * Issues listed in one error; the rest are counted. A wrong certs dir under
 * 10,000 agents is one mistake, not a 10,000-line log entry.
 */
export const MAX_ISSUES = 100;
/** Configs whose TLS cache is kept at once (a process normally has one). */
const MAX_CACHES = 16;

// None: certsDir's default depends on where the config file is.
const DEFAULTS = Object.freeze({});

const caches = new Map<string, TlsMaterialCache>();

/** The TLS cache of one config file, so two configs in one process do not evict each other. */
function cacheFor(configPath: string): TlsMaterialCache {
  let cache = caches.get(configPath);
  if (cache) caches.delete(configPath);
  else cache = new TlsMaterialCache();
  caches.set(configPath, cache);
  if (caches.size > MAX_CACHES) {
    const [oldest] = caches.keys();
    if (oldest !== undefined) caches.delete(oldest);
  }
  return cache;
}

/**
 * Drops what is cached for a config file (parsed TLS material, private keys
 * included). `watchConfig` calls it on close; the next load reads afresh.
 */
export function forgetConfig(path: string): void {
  caches.delete(resolve(path));
}

/**
 * Reads config.yml and the TLS files it names, and returns the agents.
 * Rejects with a {@link ConfigError} listing every problem found, each
 * located as `file:line:col: path: message`.
 */
export async function loadConfig(path: string, options: LoadOptions = {}): Promise<LoadResult> {
  const prepared = await prepareConfig(path, options);
  return {
    agents: prepared.agents.map((agent) => ({ ...agent })),
    warnings: [...prepared.warnings],
  };
}

/**
 * {@link loadConfig} with what a reload needs besides the agents: the
 * absolute config path, the hash of every file read, and one digest over
 * them. Steps: size check, read, YAML (positions kept, duplicate keys and
 * alias bombs refused), schema, duplicates, TLS files. User mistakes and
 * unexpected failures alike reject with a {@link ConfigError}; only an
 * abort rejects with something else.
 */
export async function prepareConfig(
  path: string,
  options: LoadOptions = {},
): Promise<PreparedConfig> {
  if (typeof path !== "string" || path === "") {
    throw new TypeError("prepareConfig: path must be a non-empty string");
  }
  const resolved = resolveOptions(options, DEFAULTS, {
    certsDir: check.string,
    signal: check.abortSignal,
  });
  const configPath = resolve(path);
  const attempt: Attempt = {
    file: path,
    configPath,
    certsDir:
      resolved.certsDir !== undefined
        ? resolve(resolved.certsDir)
        : join(dirname(configPath), "..", "certs"),
    signal: resolved.signal,
    attempted: [configPath],
  };
  try {
    return await prepare(attempt);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    if (attempt.signal?.aborted) throw attempt.signal.reason ?? err;
    // A bug or an environment failure still rejects this candidate cleanly.
    const message = err instanceof Error ? err.message.split("\n")[0] : String(err);
    throw new ConfigError(
      "ERR_CONFIG_INVALID",
      [{ file: path, message: `unexpected error while loading: ${message}` }],
      { cause: err, inputs: attempt.attempted },
    );
  }
}

interface Attempt {
  /** config.yml as the caller named it; every issue names it so. */
  file: string;
  configPath: string;
  certsDir: string;
  signal: AbortSignal | undefined;
  /** Every file read or tried, for ConfigError.inputs. */
  attempted: string[];
}

/**
 * What the duplicate check needs of an entry. Also taken from entries whose
 * TLS block is broken, as long as their addr (and name) are valid, so a
 * duplicate is reported in the same pass as the typo next to it. Paths are
 * built only for a report (see {@link entryPath}): 10,000 agents' worth of
 * them was a good part of a clean load's time.
 */
interface AgentIdentity {
  addr: string;
  name: string | undefined;
  /** Index of the entry in `providers.agents`. */
  index: number;
  /** GoDoxy's string form: the entry itself is the addr. */
  bare: boolean;
}

/** One agent entry that passed the schema. */
interface AgentSpec extends AgentIdentity {
  source: TlsSource;
}

const AGENTS_PATH: readonly PathSegment[] = Object.freeze(["providers", "agents"]);

async function prepare(attempt: Attempt): Promise<PreparedConfig> {
  // Long on purpose: the loader's steps in the order they run, each a few lines,
  // with the abort checks between them.
  const { file, signal } = attempt;
  signal?.throwIfAborted();

  const read = await readConfigFile(attempt);
  signal?.throwIfAborted();
  const text = decodeUtf8(attempt, read.bytes);
  if (text.trim() === "")
    fail(attempt, "ERR_CONFIG_PARSE", [{ file, message: "the file is empty" }]);

  // The accepted path; anything to report starts over with positions.
  const fast = fastSource(text);
  if (fast !== undefined) {
    try {
      return await validated(attempt, read, fast, []);
    } catch (err) {
      if (!(err instanceof NeedsLocatedParse)) throw err;
      attempt.attempted.length = 1;
    }
  }

  const { parseYaml } = await import("./yaml-source.js");
  const parsed = parseYaml(text);
  const warnings: ConfigIssue[] = parsed.warnings.map((w) => ({ file, ...w }));
  if (!parsed.ok) {
    if (parsed.empty) {
      fail(attempt, "ERR_CONFIG_PARSE", [
        { file, message: "the file is empty (it holds only comments)" },
      ]);
    }
    fail(
      attempt,
      "ERR_CONFIG_PARSE",
      parsed.problems.map((p) => ({ file, ...p })),
    );
  }
  return validated(attempt, read, parsed.source, warnings);
}

/** Schema, duplicates and TLS files over parsed config data. */
async function validated(
  attempt: Attempt,
  read: FileBytes,
  source: ConfigSource,
  warnings: ConfigIssue[],
): Promise<PreparedConfig> {
  const { file, signal } = attempt;
  signal?.throwIfAborted();
  // The common shape needs no zod, and no second look for pasted keys.
  const common = commonAgentList(source.data);
  const pasted = privateKeyIssues(file, source, common);
  if (pasted.length > 0) fail(attempt, "ERR_CONFIG_INVALID", pasted);

  const issues: ConfigIssue[] = [];
  const located = (
    path: readonly PathSegment[],
    part: "key" | "value",
    message: string,
    options?: LocateOptions,
  ) => {
    const at = source.locate(path, part, options);
    const formatted = formatPath(path);
    return { file, ...at, ...(formatted ? { path: formatted } : {}), message };
  };

  const { specs, identities } = validate(attempt, source, common, issues, warnings, located);
  checkDuplicates(source, identities, issues, located);

  // Only a resolution that saw the whole agent list may evict cached
  // material; a typo elsewhere must not cost a re-verification of everything.
  const tls = await cacheFor(attempt.configPath).resolve(specs, {
    signal,
    prune: issues.length === 0,
  });
  attempt.attempted.push(...tls.attempted);

  const agents: AgentConfig[] = [];
  for (let i = 0; i < specs.length; i++) {
    const spec = specs[i] as AgentSpec;
    const outcome = tls.outcomes[i] as TlsOutcome;
    if (!outcome.ok) {
      for (const problem of outcome.problems) {
        const path = tlsPath(spec, problem.part);
        issues.push(located(path, "value", problem.message));
      }
      continue;
    }
    const { addr, name } = spec;
    agents.push(
      Object.freeze(
        name !== undefined ? { addr, name, tls: outcome.tls } : { addr, tls: outcome.tls },
      ),
    );
  }
  if (issues.length > 0) fail(attempt, "ERR_CONFIG_INVALID", issues);

  warnings.push(...tlsWarnings(specs, tls.outcomes, located));
  warnings.sort(byPosition);

  const inputs = new Map<string, string>([[attempt.configPath, read.sha256]]);
  for (const [path, hash] of tls.inputs) if (!inputs.has(path)) inputs.set(path, hash);
  signal?.throwIfAborted();
  return Object.freeze({
    agents: Object.freeze(agents),
    warnings: Object.freeze(warnings.map(formatIssue)),
    configPath: attempt.configPath,
    inputs,
    digest: digestInputs(inputs),
  });
}

function fail(attempt: Attempt, code: ConfigErrorCode, issues: ConfigIssue[]): never {
  const sorted = [...issues].sort(byPosition);
  const shown = sorted.slice(0, MAX_ISSUES);
  if (sorted.length > MAX_ISSUES) {
    shown.push({
      file: attempt.file,
      message: `${sorted.length - MAX_ISSUES} more issues not shown (${sorted.length} in all)`,
    });
  }
  throw new ConfigError(code, shown, { inputs: attempt.attempted });
}

function byPosition(a: ConfigIssue, b: ConfigIssue): number {
  return (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0);
}

async function readConfigFile(attempt: Attempt) {
  try {
    return await readFileBounded(attempt.configPath, MAX_CONFIG_BYTES);
  } catch (err) {
    if (!(err instanceof FileReadError)) throw err;
    return fail(attempt, "ERR_CONFIG_PARSE", [
      { file: attempt.file, message: `cannot read the file: ${err.reason}` },
    ]);
  }
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const lenientUtf8 = new TextDecoder("utf-8");

function decodeUtf8(attempt: Attempt, bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    // Locate the first byte that is not UTF-8: it decodes to U+FFFD.
    const text = lenientUtf8.decode(bytes);
    const before = text.slice(0, Math.max(0, text.indexOf("\uFFFD")));
    const lines = before.split("\n");
    return fail(attempt, "ERR_CONFIG_PARSE", [
      {
        file: attempt.file,
        line: lines.length,
        col: (lines[lines.length - 1]?.length ?? 0) + 1,
        message: "the file is not valid UTF-8",
      },
    ]);
  }
}

type Locator = (
  path: readonly PathSegment[],
  part: "key" | "value",
  message: string,
  options?: LocateOptions,
) => ConfigIssue;

/** A duplicate is written where the alias reusing an entry is, not at its anchor. */
const AT_ALIAS: LocateOptions = Object.freeze({ atAlias: true });

/**
 * Runs the schema once over the whole document (unless `common`, the list
 * {@link commonAgentList} vouched for, says it passes), then keeps every agent entry
 * that had no issue of its own, so the duplicate and TLS checks still run for
 * them and one pass reports all problems of the file.
 */
function validate(
  attempt: Attempt,
  source: ConfigSource,
  common: readonly AgentEntry[] | undefined,
  issues: ConfigIssue[],
  warnings: ConfigIssue[],
  located: Locator,
): { specs: AgentSpec[]; identities: AgentIdentity[] } {
  const data = source.data;
  // zod decides, and words, everything but the common shape.
  const result = common ? { success: true as const, data } : ConfigSchema.safeParse(data);
  const broken = new Set<number>();
  if (!result.success) {
    for (const problem of explainSchemaIssues(result.error.issues, data)) {
      const at = source.locate(problem.target.path, problem.target.part);
      const path = formatPath(problem.path);
      issues.push({
        file: attempt.file,
        ...at,
        ...(path ? { path } : {}),
        message: problem.message,
      });
      const [p, a, index] = problem.path;
      if (p === "providers" && a === "agents" && typeof index === "number") broken.add(index);
    }
  }

  const list = valueAt(data, AGENTS_PATH);
  // What the schema already gave, when it passed: no second pass per entry.
  const checked = common ?? (result.success ? valueAt(result.data, AGENTS_PATH) : undefined);
  const sources = new TlsSources(attempt);
  if (list === undefined && result.success) {
    const where = valueAt(data, ["providers"]) === undefined ? [] : ["providers"];
    warnings.push(
      located(
        where,
        "key",
        'no providers.agents list, so no agents; write "agents: []" under providers to say so',
      ),
    );
  }
  if (!Array.isArray(list)) return { specs: [], identities: [] };

  const specs: AgentSpec[] = [];
  // Valid entries are their own identity: one object per agent.
  const identities: AgentIdentity[] = [];
  for (let index = 0; index < list.length; index++) {
    const raw: unknown = list[index];
    const entry = broken.has(index)
      ? undefined
      : Array.isArray(checked)
        ? { success: true as const, data: checked[index] as AgentEntry }
        : AgentEntrySchema.safeParse(raw);
    if (!entry?.success) {
      // Reported already; its addr and name still count for duplicates.
      const identity = identityOfBroken(raw, index);
      if (identity) identities.push(identity);
      continue;
    }
    const spec = acceptedEntry(entry.data, index, sources);
    identities.push(spec);
    specs.push(spec);
  }
  return { specs, identities };
}

/**
 * Where agents' TLS files are, as absolute paths. Agents mostly name the
 * files the agent before them named: they get the same source object, which
 * the TLS cache recognises without comparing paths.
 */
class TlsSources {
  readonly #attempt: Attempt;
  readonly #dir: string;
  readonly #paths = new Map<string, string>();
  #last: { tls: Extract<AgentEntry, object>["tls"]; source: TlsSource } | undefined;

  constructor(attempt: Attempt) {
    this.#attempt = attempt;
    this.#dir = dirname(attempt.configPath);
  }

  bundle(addr: string): TlsSource {
    return { kind: "bundle", zip: join(this.#attempt.certsDir, `${addr}.zip`) };
  }

  files(tls: Extract<AgentEntry, object>["tls"]): TlsSource {
    const last = this.#last;
    if (
      last !== undefined &&
      (last.tls === tls ||
        (last.tls.ca_file === tls.ca_file &&
          last.tls.cert_file === tls.cert_file &&
          last.tls.key_file === tls.key_file))
    ) {
      return last.source;
    }
    const source: TlsSource = {
      kind: "files",
      ca: this.#resolve(tls.ca_file),
      cert: this.#resolve(tls.cert_file),
      key: this.#resolve(tls.key_file),
    };
    this.#last = { tls, source };
    return source;
  }

  #resolve(file: string): string {
    let path = this.#paths.get(file);
    if (path === undefined) {
      path = resolve(this.#dir, file);
      this.#paths.set(file, path);
    }
    return path;
  }
}

/** A valid agent entry (GoDoxy's `host:port` string or the object form) as what the later checks read. */
function acceptedEntry(entry: AgentEntry, index: number, sources: TlsSources): AgentSpec {
  if (typeof entry === "string") {
    return { addr: entry, name: undefined, index, bare: true, source: sources.bundle(entry) };
  }
  return {
    addr: entry.addr,
    name: entry.name,
    index,
    bare: false,
    source: sources.files(entry.tls),
  };
}

function identityOfBroken(raw: unknown, index: number): AgentIdentity | undefined {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return undefined;
  const { addr, name } = raw as { addr?: unknown; name?: unknown };
  if (!AddrSchema.safeParse(addr).success || typeof addr !== "string") return undefined;
  if (name !== undefined && (typeof name !== "string" || name === "")) return undefined;
  return { addr, name, index, bare: false };
}

/** `providers.agents[i]` */
function entryPath(index: number): PathSegment[] {
  return [...AGENTS_PATH, index];
}

/** Where an entry's addr is written: the entry itself in the string form. */
function addrPath({ index, bare }: AgentIdentity): PathSegment[] {
  return bare ? entryPath(index) : [...entryPath(index), "addr"];
}

/** Where an entry's name is written, or its addr when the name defaults to it. */
function namePath(identity: AgentIdentity): PathSegment[] {
  return identity.bare || identity.name === undefined
    ? addrPath(identity)
    : [...entryPath(identity.index), "name"];
}

/**
 * Two agents with one addr, or one name (a name defaults to the addr, as in
 * the pool), are reported at the second, naming the line of the first.
 */
function checkDuplicates(
  source: ConfigSource,
  identities: readonly AgentIdentity[],
  issues: ConfigIssue[],
  located: Locator,
): void {
  // Paths, located only for a report: locating is what the accepted path avoids.
  const addrs = new Map<string, AgentIdentity>();
  const names = new Map<string, AgentIdentity>();
  for (const identity of identities) {
    const { addr, name } = identity;
    const firstAddr = addrs.get(addr);
    if (firstAddr) {
      issues.push(
        located(
          addrPath(identity),
          "value",
          `duplicate addr ${quote(addr)} (first at line ${source.locate(addrPath(firstAddr), "value", AT_ALIAS).line})`,
          AT_ALIAS,
        ),
      );
      continue;
    }
    addrs.set(addr, identity);

    const effective = name ?? addr;
    const firstName = names.get(effective);
    if (firstName) {
      const defaulted = name === undefined ? " (the name defaults to the addr)" : "";
      issues.push(
        located(
          namePath(identity),
          "value",
          `duplicate name ${quote(effective)}${defaulted} (first at line ${source.locate(namePath(firstName), "value", AT_ALIAS).line})`,
          AT_ALIAS,
        ),
      );
      continue;
    }
    names.set(effective, identity);
  }
}

function tlsPath(spec: AgentSpec, part: TlsPart | "bundle"): PathSegment[] {
  if (spec.source.kind === "bundle" || part === "bundle") return entryPath(spec.index);
  return [...entryPath(spec.index), "tls", `${part}_file`];
}

/**
 * Warnings about TLS files, one per file however many agents share it (the
 * first agent's entry locates it).
 */
function tlsWarnings(
  specs: readonly AgentSpec[],
  outcomes: readonly TlsOutcome[],
  located: Locator,
): ConfigIssue[] {
  const byFile = new Map<
    string,
    {
      spec: AgentSpec;
      addrs: string[];
      make: (addrs: string[]) => string | undefined;
      part: TlsPart;
    }
  >();
  const note = (
    key: string,
    spec: AgentSpec,
    part: TlsPart,
    make: (addrs: string[]) => string | undefined,
  ) => {
    const known = byFile.get(key);
    if (known) known.addrs.push(spec.addr);
    else byFile.set(key, { spec, addrs: [spec.addr], make, part });
  };
  // Agents sharing one outcome share its three files: note them by identity.
  const noted = new Map<TlsOutcome, string[][]>();
  for (const [i, spec] of specs.entries()) {
    const outcome = outcomes[i];
    if (!outcome?.ok) continue;
    const lists = noted.get(outcome);
    if (lists) {
      for (const addrs of lists) addrs.push(spec.addr);
      continue;
    }
    const inBundle = spec.source.kind === "bundle";
    note(`key:${outcome.keyFile}`, spec, "key", (addrs) =>
      keyModeWarning(outcome.keyFile, outcome.keyStat, inBundle, addrs),
    );
    note(`cert:${outcome.certLabel}`, spec, "cert", (addrs) =>
      expiryWarning(outcome.certLabel, "client certificate", outcome.verified.certNotAfter, addrs),
    );
    note(`ca:${outcome.caLabel}`, spec, "ca", (addrs) =>
      expiryWarning(outcome.caLabel, "CA certificate", outcome.verified.caNotAfter, addrs),
    );
    const keys = [`key:${outcome.keyFile}`, `cert:${outcome.certLabel}`, `ca:${outcome.caLabel}`];
    noted.set(
      outcome,
      keys.map((key) => byFile.get(key)?.addrs ?? []),
    );
  }
  const warnings: ConfigIssue[] = [];
  for (const { spec, addrs, make, part } of byFile.values()) {
    const message = make(addrs);
    if (message) warnings.push(located(tlsPath(spec, part), "value", message));
  }
  return warnings;
}
