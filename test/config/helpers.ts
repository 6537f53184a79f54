// Real files in real temp directories, real certificates and real zips for the config tests.
import { createPrivateKey } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { zipSync } from "fflate";
import { ConfigError } from "../../src/config/errors.js";
import { loadConfig } from "../../src/config/load.js";
import { createCa, issueCertificate } from "../../src/testing/pki.js";
import { DAY_MS } from "../../src/time.js";
import { makeTempDir } from "../support/temp.js";

/** PEM material for the tests: a good client pair, and the ways it goes wrong. */
export interface ConfigPki {
  ca: string;
  cert: string;
  key: string;
  /** A key of another certificate: does not match `cert`. */
  otherKey: string;
  /** The same key as `key`, encrypted with a passphrase. */
  encryptedKey: string;
  /** A client certificate expiring in 10 days, and its key. */
  soon: { cert: string; key: string };
  /** A client certificate that expired 2 days ago, and its key. */
  expired: { cert: string; key: string };
}

/** CA and certificates valid for a year, so only the cases that want expiry warnings get them. */
export async function createConfigPki(): Promise<ConfigPki> {
  const ca = await createCa("agentpool config test CA", 365);
  const year = new Date(Date.now() + 365 * DAY_MS);
  const client = await issueCertificate(ca, {
    commonName: "client",
    usage: "client",
    notAfter: year,
  });
  const other = await issueCertificate(ca, {
    commonName: "other",
    usage: "client",
    notAfter: year,
  });
  const soon = await issueCertificate(ca, {
    commonName: "soon",
    usage: "client",
    notAfter: new Date(Date.now() + 10 * DAY_MS + 60_000),
  });
  const expired = await issueCertificate(ca, {
    commonName: "expired",
    usage: "client",
    notBefore: new Date(Date.now() - 30 * DAY_MS),
    notAfter: new Date(Date.now() - 2 * DAY_MS - 60_000),
  });
  const encryptedKey = createPrivateKey(client.key)
    .export({ format: "pem", type: "pkcs8", cipher: "aes-256-cbc", passphrase: "secret" })
    .toString();
  return {
    ca: ca.cert,
    cert: client.cert,
    key: client.key,
    otherKey: other.key,
    encryptedKey,
    soon,
    expired,
  };
}

/** A GoDoxy agent bundle: a zip holding the given entries. */
export function zipBundle(entries: Record<string, string>): Uint8Array {
  return zipSync(
    Object.fromEntries(
      Object.entries(entries).map(([name, text]) => [name, new TextEncoder().encode(text)]),
    ),
  );
}

/** A temp folder laid out like GoDoxy's: `config/config.yml` and `certs/`. */
export interface ConfigDir {
  root: string;
  configDir: string;
  configPath: string;
  certsDir: string;
  /** Writes `rel` (relative to `root`), creating folders; returns its absolute path. */
  write(rel: string, content: string | Uint8Array, mode?: number): Promise<string>;
  /** Writes the good ca.pem, cert.pem and key.pem (0600) into `config/tls/`. */
  writeTls(pki: ConfigPki): Promise<void>;
}

export async function createTempRoot(): Promise<{ root: string; cleanup(): Promise<void> }> {
  const { dir, cleanup } = await makeTempDir("agentpool-config-");
  return { root: dir, cleanup };
}

export async function createConfigDir(root: string): Promise<ConfigDir> {
  await mkdir(join(root, "config"), { recursive: true });
  await mkdir(join(root, "certs"), { recursive: true });
  const write = async (rel: string, content: string | Uint8Array, mode = 0o600) => {
    const path = join(root, rel);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content, { mode });
    return path;
  };
  return {
    root,
    configDir: join(root, "config"),
    configPath: join(root, "config", "config.yml"),
    certsDir: join(root, "certs"),
    write,
    async writeTls(pki) {
      await write("config/tls/ca.pem", pki.ca, 0o644);
      await write("config/tls/cert.pem", pki.cert, 0o644);
      await write("config/tls/key.pem", pki.key, 0o600);
    },
  };
}

/** The good TLS block of an agent in object form, as flow YAML. */
export const TLS_FLOW = "{ ca_file: tls/ca.pem, cert_file: tls/cert.pem, key_file: tls/key.pem }";

/** What loadConfig gave: the result, or a ConfigError's code and message. */
export type LoadOutcome =
  | { accepted: Awaited<ReturnType<typeof loadConfig>> }
  | { rejected: { code: string; message: string } };

/**
 * loadConfig's outcome with one of the loader's `@internal` switches
 * (`fastPath`, `commonShape`) set to `enabled`, then put back on: for the
 * tests that hold two paths of the loader to the same result.
 */
export async function loadWith(
  toggle: { enabled: boolean },
  enabled: boolean,
  configPath: string,
): Promise<LoadOutcome> {
  toggle.enabled = enabled;
  try {
    return await loadConfig(configPath).then(
      (result) => ({ accepted: result }),
      (err: unknown) => {
        if (!(err instanceof ConfigError)) throw err;
        return { rejected: { code: err.code, message: err.message } };
      },
    );
  } finally {
    toggle.enabled = true;
  }
}

/** The config test PKI and a temporary root with config/ and certs/, removed by `cleanup()`. */
export interface ConfigFixture {
  pki: ConfigPki;
  dir: ConfigDir;
  cleanup(): Promise<void>;
}

/** {@link ConfigFixture}, with the good TLS files under config/tls/ unless `writeTls` is false. */
export async function configFixture(options: { writeTls?: boolean } = {}): Promise<ConfigFixture> {
  const pki = await createConfigPki();
  const root = await createTempRoot();
  const dir = await createConfigDir(root.root);
  if (options.writeTls !== false) await dir.writeTls(pki);
  return { pki, dir, cleanup: root.cleanup };
}
