import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { AgentError } from "./errors.js";

/** PEM text of an agent's CA bundle, client certificate and client key. */
export interface TlsMaterial {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** What verifying a {@link TlsMaterial} found; holds no key material. */
export interface VerifiedTls {
  /** Identity of the whole triple, used to tell whether an agent's TLS changed. */
  readonly fingerprint: string;
  /** Expiry of the client certificate. */
  readonly certNotAfter: Date;
  /** Earliest expiry among the CA certificates. */
  readonly caNotAfter: Date;
  /** Public identity of the TLS material (no key material): see {@link TlsIdentity}. */
  readonly identity: TlsIdentity;
}

/**
 * What tells one agent's TLS material from another's without a secret: the
 * SHA-256 fingerprints of the client certificate and of each CA certificate,
 * as `openssl x509 -noout -fingerprint -sha256` prints them. The key needs no
 * fingerprint of its own: it has to match the certificate.
 */
export interface TlsIdentity {
  readonly certSha256: string;
  readonly caSha256: readonly string[];
}

/** The parts of an agent's TLS material, in the order messages list them. */
export const TLS_PARTS = Object.freeze(["ca", "cert", "key"] as const);
/** One part of an agent's TLS material; errors and warnings say which one is at fault. */
export type TlsPart = (typeof TLS_PARTS)[number];

/** Names used in messages for each part, e.g. the `*_file` it came from. */
export interface TlsLabels {
  ca: string;
  cert: string;
  key: string;
}

const DEFAULT_LABELS: TlsLabels = { ca: "tls.ca", cert: "tls.cert", key: "tls.key" };
const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

// A material is verified once per object: the loader hands the same frozen
// object to every agent that uses the same files, and code building a pool
// passes one `tls` object to many add()s. An object that is not frozen may
// have been given other PEM text since, so its entry also holds the three
// strings it was verified with (kept in this WeakMap only: nothing that is
// logged or serialised can reach them), and counts only while they are the
// same strings; a comparison of the very same string is a pointer check.
interface VerifiedEntry {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  readonly verified: VerifiedTls;
}
const verifiedCache = new WeakMap<TlsMaterial, VerifiedEntry>();

function parseCertificates(pem: string): X509Certificate[] {
  return (pem.match(CERT_BLOCK) ?? []).map((block) => new X509Certificate(block));
}

/**
 * Parses the CA bundle, certificate and key and checks that the key belongs to
 * the certificate. Throws an {@link AgentError} (`ERR_AGENT_TLS`) that names
 * the agent and the part at fault, never the key's content.
 */
export function verifyTls(
  addr: string,
  tls: TlsMaterial,
  labels: TlsLabels = DEFAULT_LABELS,
): VerifiedTls {
  const cached = typeof tls === "object" && tls !== null ? verifiedCache.get(tls) : undefined;
  if (cached && cached.ca === tls.ca && cached.cert === tls.cert && cached.key === tls.key) {
    return cached.verified;
  }

  const fail = (part: TlsPart | undefined, what: string, cause?: unknown): never => {
    const label = part ? labels[part] : "tls";
    throw new AgentError("ERR_AGENT_TLS", addr, `${label}: ${what}`, {
      cause,
      ...(part ? { part } : {}),
    });
  };
  if (typeof tls?.ca !== "string" || typeof tls.cert !== "string" || typeof tls.key !== "string") {
    fail(undefined, "ca, cert and key must be PEM text");
  }

  let cas: X509Certificate[] = [];
  try {
    cas = parseCertificates(tls.ca);
  } catch (err) {
    fail("ca", "CA certificate does not parse", err);
  }
  if (cas.length === 0) fail("ca", "no PEM certificate found");

  let cert: X509Certificate | undefined;
  try {
    const [first] = parseCertificates(tls.cert);
    cert = first;
  } catch (err) {
    fail("cert", "certificate does not parse", err);
  }
  if (!cert) return fail("cert", "no PEM certificate found");

  if (!tls.key.includes("-----BEGIN") || !tls.key.includes("PRIVATE KEY-----")) {
    fail("key", "no PEM private key found");
  }
  let matches = false;
  try {
    matches = cert.checkPrivateKey(createPrivateKey(tls.key));
  } catch (err) {
    // Node's message says only which decoder failed; it never echoes the key.
    fail(
      "key",
      "private key does not parse",
      err instanceof Error ? new Error(err.message) : undefined,
    );
  }
  if (!matches) fail("key", `private key does not match the certificate in ${labels.cert}`);

  const fingerprint = createHash("sha256")
    .update(tls.ca)
    .update("\0")
    .update(tls.cert)
    .update("\0")
    .update(tls.key)
    .digest("base64url");
  const verified: VerifiedTls = Object.freeze({
    fingerprint,
    certNotAfter: new Date(cert.validTo),
    caNotAfter: new Date(Math.min(...cas.map((c) => Date.parse(c.validTo)))),
    identity: Object.freeze({
      certSha256: cert.fingerprint256,
      caSha256: Object.freeze(cas.map((c) => c.fingerprint256)),
    }),
  });
  verifiedCache.set(tls, { ca: tls.ca, cert: tls.cert, key: tls.key, verified });
  return verified;
}
