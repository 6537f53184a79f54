import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { AgentError } from "./errors.js";
const DEFAULT_LABELS = { ca: "tls.ca", cert: "tls.cert", key: "tls.key" };
const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
// Frozen materials are verified once: the loader hands the same frozen object
// to every agent that uses the same files, so a reload does not re-parse them.
const verifiedCache = new WeakMap();
function parseCertificates(pem) {
    return (pem.match(CERT_BLOCK) ?? []).map((block) => new X509Certificate(block));
}
/**
 * Parses the CA bundle, certificate and key and checks that the key belongs to
 * the certificate. Throws an {@link AgentError} (`ERR_AGENT_TLS`) that names
 * the agent and the part at fault, never the key's content.
 */
export function verifyTls(addr, tls, labels = DEFAULT_LABELS) {
    const cached = verifiedCache.get(tls);
    if (cached)
        return cached;
    const fail = (label, what, cause) => {
        throw new AgentError("ERR_AGENT_TLS", addr, `${label}: ${what}`, { cause });
    };
    if (typeof tls?.ca !== "string" || typeof tls.cert !== "string" || typeof tls.key !== "string") {
        fail("tls", "ca, cert and key must be PEM text");
    }
    let cas = [];
    try {
        cas = parseCertificates(tls.ca);
    }
    catch (err) {
        fail(labels.ca, "CA certificate does not parse", err);
    }
    if (cas.length === 0)
        fail(labels.ca, "no PEM certificate found");
    let cert;
    try {
        const [first] = parseCertificates(tls.cert);
        cert = first;
    }
    catch (err) {
        fail(labels.cert, "certificate does not parse", err);
    }
    if (!cert)
        return fail(labels.cert, "no PEM certificate found");
    if (!tls.key.includes("-----BEGIN") || !tls.key.includes("PRIVATE KEY-----")) {
        fail(labels.key, "no PEM private key found");
    }
    let matches = false;
    try {
        matches = cert.checkPrivateKey(createPrivateKey(tls.key));
    }
    catch (err) {
        // Node's message says only which decoder failed; it never echoes the key.
        fail(labels.key, "private key does not parse", err instanceof Error ? new Error(err.message) : undefined);
    }
    if (!matches)
        fail(labels.key, `private key does not match the certificate in ${labels.cert}`);
    const fingerprint = createHash("sha256")
        .update(tls.ca)
        .update("\0")
        .update(tls.cert)
        .update("\0")
        .update(tls.key)
        .digest("base64url");
    const verified = Object.freeze({
        fingerprint,
        certNotAfter: new Date(cert.validTo),
        caNotAfter: new Date(Math.min(...cas.map((c) => Date.parse(c.validTo)))),
    });
    if (Object.isFrozen(tls))
        verifiedCache.set(tls, verified);
    return verified;
}
