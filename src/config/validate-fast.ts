import { explainAddr } from "./addr.js";
import { checkName } from "./name.js";
import { type AgentEntry, MAX_PATH_CHARS } from "./schema.js";
import { containsPrivateKey } from "./secrets.js";

/*
 * zod checks each of 10,000 agent entries through a union, two strict
 * objects and a dozen refinements: two thirds of the loader's time after
 * parsing. Nearly every config is the common shape (a mapping of a string
 * addr, maybe a name, and a tls mapping of three strings, or GoDoxy's
 * `host:port` string), and for that shape the answer can be given by calling
 * the schema's own checks directly. This only ever says "valid"; anything
 * else, and anything unusual, goes to zod, which stays the judge of every
 * message (test/config/validate-fast.test.ts holds the two to agreement).
 */

/**
 * @internal Off: zod checks every document. For tests that compare the
 * loader with and without the common-shape check.
 */
export const commonShape = { enabled: true };

/**
 * `providers.agents` of `data`, entry for entry what `ConfigSchema` would
 * output for it, when a direct check finds that `ConfigSchema` accepts the
 * document; `undefined` when zod must decide (an invalid entry, a missing or
 * odd list, any shape but the common one). A list given back also holds no
 * private key in any string (names included, which the schema lets through
 * to the loader's own check), so that check need not walk it again.
 */
export function commonAgentList(data: unknown): readonly AgentEntry[] | undefined {
  if (!commonShape.enabled) return undefined;
  if (!isPlain(data) || !Object.hasOwn(data, "providers")) return undefined;
  const providers = data.providers;
  if (!isPlain(providers) || !Object.hasOwn(providers, "agents")) return undefined;
  const list = providers.agents;
  if (!Array.isArray(list) || Object.getPrototypeOf(list) !== Array.prototype) return undefined;
  // Entries mostly name the files the entry before them named: each path is
  // checked once per run of equal strings, not once per agent.
  let tlsSeen: object | undefined;
  let ca: string | undefined;
  let cert: string | undefined;
  let key: string | undefined;
  for (let i = 0; i < list.length; i++) {
    // A hole reads as undefined, which zod and this refuse alike.
    const entry: unknown = list[i];
    if (typeof entry === "string") {
      if (!validAddr(entry)) return undefined;
      continue;
    }
    if (!isPlain(entry)) return undefined;
    // The keys zod's strict objects look at: `for in`, as zod enumerates them.
    let named = false;
    for (const k in entry) {
      if (k === "name") named = true;
      else if (k !== "addr" && k !== "tls") return undefined;
    }
    const { addr, name, tls } = entry;
    if (typeof addr !== "string" || !validAddr(addr)) return undefined;
    if (named && (typeof name !== "string" || !validName(name))) return undefined;
    if (!isPlain(tls)) return undefined;
    if (tls === tlsSeen) continue;
    // A missing one reads as undefined, which is not a string.
    for (const k in tls) {
      if (k !== "ca_file" && k !== "cert_file" && k !== "key_file") return undefined;
    }
    const { ca_file, cert_file, key_file } = tls;
    if (typeof ca_file !== "string" || typeof cert_file !== "string") return undefined;
    if (typeof key_file !== "string") return undefined;
    if (ca_file !== ca) {
      if (!validPath(ca_file)) return undefined;
      ca = ca_file;
    }
    if (cert_file !== cert) {
      if (!validPath(cert_file)) return undefined;
      cert = cert_file;
    }
    if (key_file !== key) {
      if (!validPath(key_file)) return undefined;
      key = key_file;
    }
    tlsSeen = tls;
  }
  return list as AgentEntry[];
}

/** An object zod reads as a mapping and that has nothing but own data properties to read. */
function isPlain(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** `AddrSchema`'s checks. */
function validAddr(addr: string): boolean {
  return !containsPrivateKey(addr) && explainAddr(addr) === undefined;
}

/** The name's checks in `AgentObjectSchema`, and no private key in it. */
function validName(name: string): boolean {
  return name.length >= 1 && checkName(name) === undefined && !containsPrivateKey(name);
}

/** The checks of `filePath` in schema.ts, in its order. */
function validPath(path: string): boolean {
  return (
    path.length >= 1 &&
    !containsPrivateKey(path) &&
    !path.includes("-----BEGIN") &&
    !path.includes("\n") &&
    path.length <= MAX_PATH_CHARS &&
    !path.includes("\0")
  );
}
