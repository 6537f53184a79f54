import { X509Certificate } from "node:crypto";
import * as net from "node:net";
import * as tls from "node:tls";
import { AgentError } from "./errors.js";
import { AGENT_HOST } from "./protocol.js";
import type { TlsMaterial } from "./tls.js";

/**
 * Turns what a failed TLS connection reports — OpenSSL's multi-line text, a
 * TLS alert number, a socket closed without a word — into one sentence that
 * says which side refused and what to check, as an `ERR_AGENT_TLS`
 * {@link AgentError} with the original error as `cause`.
 *
 * The sentences name the config keys an operator edits (`tls.cert_file`,
 * `tls.ca_file`); GoDoxy's `<addr>.zip` bundles hold the same three files.
 */

/** Where one agent is dialled and what it presents; never printed. */
export interface TlsErrorContext {
  readonly addr: string;
  readonly host: string;
  readonly port: number;
  readonly tls: TlsMaterial;
}

/** What the connection showed of its handshake, beyond the error itself. */
export interface HandshakeFacts {
  /** The handshake reached key exchange: the peer speaks TLS and has seen our hello. */
  keyExchange?: boolean;
  /** The handshake completed, then the agent closed without sending a byte. */
  closedAfterHandshake?: boolean;
  /** The agent's certificate, read again on a diagnostic connection. */
  peerCertificate?: X509Certificate;
  /** The first bytes the port answers to a plain HTTP request, when it does not speak TLS. */
  plainReply?: string;
}

const CERT_FILE = "tls.cert_file";
const KEY_FILE = "tls.key_file";
const CA_FILE = "tls.ca_file";
const CLIENT_AUTH_OID = "1.3.6.1.5.5.7.3.2";
/** How long a diagnostic connection may take; it runs only after a failure. */
const DIAGNOSIS_TIMEOUT_MS = 1_000;

const ALERT_NAMES: Readonly<Record<number, string>> = {
  10: "unexpected message",
  20: "bad record MAC",
  40: "handshake failure",
  42: "bad certificate",
  43: "unsupported certificate",
  44: "certificate revoked",
  45: "certificate expired",
  46: "certificate unknown",
  47: "illegal parameter",
  48: "unknown CA",
  49: "access denied",
  50: "decode error",
  51: "decrypt error",
  70: "protocol version",
  71: "insufficient security",
  80: "internal error",
  90: "user canceled",
  109: "missing extension",
  110: "unsupported extension",
  112: "unrecognized name",
  116: "certificate required",
  120: "no application protocol",
};

/** Node's codes for a server certificate that does not chain to a CA we hold. */
const UNTRUSTED_CHAIN = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
]);

/** The certificate-verification codes of Node's TLS client (all refusals of ours). */
const VERIFY_CODES = new Set([
  ...UNTRUSTED_CHAIN,
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_REVOKED",
  "CERT_REJECTED",
  "INVALID_PURPOSE",
  "INVALID_CA",
  "PATH_LENGTH_EXCEEDED",
  "HOSTNAME_MISMATCH",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
  "CERT_CHAIN_TOO_LONG",
  "ERROR_IN_CERT_NOT_BEFORE_FIELD",
  "ERROR_IN_CERT_NOT_AFTER_FIELD",
]);

/** OpenSSL's record-layer complaints: what answered is not a TLS server. */
const NOT_TLS_CODES = new Set([
  "ERR_SSL_WRONG_VERSION_NUMBER",
  "ERR_SSL_PACKET_LENGTH_TOO_LONG",
  "ERR_SSL_RECORD_LAYER_FAILURE",
  "ERR_SSL_UNEXPECTED_MESSAGE",
  "ERR_SSL_BAD_RECORD_TYPE",
  "ERR_SSL_UNKNOWN_PROTOCOL",
  "ERR_SSL_HTTP_REQUEST",
  "ERR_SSL_WRONG_SSL_VERSION",
]);

/** Node's message when the peer closed before the handshake finished. */
const CLOSED_IN_HANDSHAKE = /before secure TLS connection was established/;

interface ErrorFields {
  code?: unknown;
  reason?: unknown;
  library?: unknown;
  message?: unknown;
  cert?: { subjectaltname?: unknown; subject?: { CN?: unknown } };
}

function fields(err: unknown): ErrorFields {
  return err !== null && typeof err === "object" ? (err as ErrorFields) : {};
}

function codeOf(err: unknown): string {
  const code = fields(err).code;
  return typeof code === "string" ? code : "";
}

/** One line of at most `max` printable characters: OpenSSL's text never reaches a user raw. */
export function oneLine(text: string, max = 160): string {
  const flat = text
    .replace(/\p{Cc}+/gu, " ")
    .replace(/\s+/g, " ")
    .trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** The TLS alert number the peer sent, when the error is a received alert. */
export function alertNumber(err: unknown): number | undefined {
  const message = fields(err).message;
  const match = typeof message === "string" ? /SSL alert number (\d+)/.exec(message) : null;
  return match ? Number(match[1]) : undefined;
}

function closedInHandshake(err: unknown): boolean {
  const message = fields(err).message;
  return (
    codeOf(err) === "ECONNRESET" && typeof message === "string" && CLOSED_IN_HANDSHAKE.test(message)
  );
}

/** True for errors the TLS layer raised (OpenSSL, Node's certificate checks), as opposed to TCP or HTTP. */
export function isTlsError(err: unknown): boolean {
  const code = codeOf(err);
  const f = fields(err);
  return (
    code.startsWith("ERR_SSL_") ||
    code.startsWith("ERR_TLS_") ||
    VERIFY_CODES.has(code) ||
    f.library === "SSL routines" ||
    closedInHandshake(err)
  );
}

function parseCertificates(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const certs: X509Certificate[] = [];
  for (const block of blocks) {
    try {
      certs.push(new X509Certificate(block));
    } catch {
      // verifyTls already refused material that does not parse; nothing to add here.
    }
  }
  return certs;
}

function isoDay(date: string): string {
  const parsed = new Date(date);
  return Number.isNaN(parsed.getTime()) ? date : parsed.toISOString();
}

/** Issuer or subject as one line: `CN=agentpool test CA`. */
function dn(name: string): string {
  return oneLine(name.split("\n").join(", "), 80);
}

function signedBy(cert: X509Certificate, cas: readonly X509Certificate[]): boolean {
  return cas.some((ca) => {
    try {
      return cert.checkIssued(ca) && cert.verify(ca.publicKey);
    } catch {
      return false;
    }
  });
}

/**
 * What is wrong with our own client certificate, seen from here: the agent
 * rarely says more than "bad certificate", so this names the likely cause.
 */
function clientCertificateProblem(material: TlsMaterial, now: number): string | undefined {
  const [cert] = parseCertificates(material.cert);
  if (!cert) return `we sent no client certificate (${CERT_FILE} holds none)`;
  if (Date.parse(cert.validTo) <= now)
    return `${CERT_FILE} expired on ${isoDay(cert.validTo)}: issue a new one from the agent's CA`;
  if (Date.parse(cert.validFrom) > now)
    return `${CERT_FILE} is not valid before ${isoDay(cert.validFrom)}: check this host's clock`;
  const cas = parseCertificates(material.ca);
  if (cas.length > 0 && !signedBy(cert, cas))
    return `${CERT_FILE} is signed by "${dn(cert.issuer)}", not by the CA in ${CA_FILE}: use the client certificate issued with this agent's CA`;
  const usages = cert.keyUsage;
  if (Array.isArray(usages) && !usages.includes(CLIENT_AUTH_OID))
    return `${CERT_FILE} is not meant for client authentication (no clientAuth in its extended key usage)`;
  return undefined;
}

const TRUSTED_BY_AGENT = `is ${CERT_FILE} signed by the CA the agent trusts?`;

/** The sentence for a TLS alert the agent sent: the alert names the refusal, our certificate the likely cause. */
function alertSentence(n: number, material: TlsMaterial, now: number): string {
  const evidence = `(TLS alert ${n} "${ALERT_NAMES[n] ?? "unknown"}")`;
  const local = clientCertificateProblem(material, now);
  switch (n) {
    case 42:
    case 43:
    case 44:
    case 46:
    case 49:
      return `the agent refused our client certificate ${evidence}: ${local ?? TRUSTED_BY_AGENT}`;
    case 45:
      return `the agent refused our client certificate as expired ${evidence}: ${
        local ?? `renew ${CERT_FILE}, or check the clock of the agent's host`
      }`;
    case 48:
      return `the agent does not know the CA of our client certificate ${evidence}: ${local ?? TRUSTED_BY_AGENT}`;
    case 116:
      return `the agent requires a client certificate and got none it could use ${evidence}: ${
        local ?? `do ${CERT_FILE} and ${KEY_FILE} hold this agent's client certificate and its key?`
      }`;
    case 40:
      return `the agent ended the TLS handshake ${evidence}, as it does without a usable client certificate or a cipher suite in common: ${
        local ?? `do ${CERT_FILE} and ${KEY_FILE} hold this agent's client certificate and its key?`
      }`;
    case 70:
      return `the agent refused our TLS version ${evidence}: agentpool speaks TLS 1.2 and 1.3 only, so upgrade the agent or let it accept TLS 1.2`;
    case 71:
      return `the agent finds our TLS settings too weak ${evidence}: does it demand ciphers or key sizes beyond TLS 1.2 defaults?`;
    case 112:
      return `the agent has no certificate for ${AGENT_HOST} ${evidence}: is this port a GoDoxy agent?`;
    case 120:
      return `the agent does not speak HTTP/1.1 over TLS ${evidence}: is this port the agent's API port?`;
    default:
      return `the agent ended the TLS handshake ${evidence}: are ${CA_FILE}, ${CERT_FILE} and ${KEY_FILE} the files issued with this agent?`;
  }
}

const CHECK_CA = `is ${CA_FILE} the CA of this agent?`;

/** Sentences for a server certificate we refused. */
function refusalSentence(err: unknown, facts: HandshakeFacts, material: TlsMaterial): string {
  const code = codeOf(err);
  const peer = facts.peerCertificate;
  const reason = oneLine(String(fields(err).message ?? code), 100);
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID" || code === "HOSTNAME_MISMATCH") {
    const cert = fields(err).cert;
    const alt = typeof cert?.subjectaltname === "string" ? cert.subjectaltname : "";
    const names = alt
      ? alt
          .split(",")
          .map((s) => s.trim().replace(/^DNS:/, ""))
          .join(", ")
      : typeof cert?.subject?.CN === "string"
        ? cert.subject.CN
        : peer
          ? dn(peer.subject)
          : "another name";
    return `we refused the agent's certificate: it is issued to "${oneLine(names, 80)}", not to ${AGENT_HOST}: is this port a GoDoxy agent, serving the certificate issued with ${CA_FILE}?`;
  }
  if (code === "CERT_HAS_EXPIRED")
    return `we refused the agent's certificate: it expired${peer ? ` on ${isoDay(peer.validTo)}` : ""}: renew the agent's certificate, or check this host's clock`;
  if (code === "CERT_NOT_YET_VALID")
    return `we refused the agent's certificate: it is not valid${peer ? ` before ${isoDay(peer.validFrom)}` : " yet"}: check the clocks of this host and the agent's`;
  if (code === "INVALID_PURPOSE")
    return `we refused the agent's certificate: it is not meant for a TLS server (no serverAuth usage): ${CHECK_CA}`;
  if (UNTRUSTED_CHAIN.has(code)) {
    if (!peer)
      return `we refused the agent's certificate: it is not signed by the CA in ${CA_FILE} (${reason}): ${CHECK_CA}`;
    const issuer = dn(peer.issuer);
    if (peer.issuer === peer.subject)
      return `we refused the agent's certificate: it is self-signed ("${issuer}"), not issued by the CA in ${CA_FILE}: ${CHECK_CA}`;
    const sameName = parseCertificates(material.ca).some((ca) => ca.subject === peer.issuer);
    if (sameName)
      return `we refused the agent's certificate: it names "${issuer}" as its CA, but the CA of that name in ${CA_FILE} did not sign it (a CA created again under the same name): is ${CA_FILE} this agent's current CA?`;
    return `we refused the agent's certificate: it is signed by "${issuer}", a CA that is not in ${CA_FILE}: ${CHECK_CA}`;
  }
  return `we refused the agent's certificate (${reason}): ${CHECK_CA}`;
}

const CHECK_ADDR = "is addr the agent's port?";

function notTlsSentence(facts: HandshakeFacts): string {
  const reply = facts.plainReply;
  if (reply?.startsWith("HTTP/"))
    return `the server on this port speaks plain HTTP, not HTTPS (it answered "${oneLine(reply, 60)}"): is addr the agent's port, and does the agent serve TLS there?`;
  if (reply)
    return `the server on this port does not speak TLS (it sent "${oneLine(reply, 60)}"): ${CHECK_ADDR}`;
  return `the server on this port does not speak TLS (it answered with bytes that are no TLS record): ${CHECK_ADDR}`;
}

const SILENT_REFUSAL = "as it does when it refuses our client certificate";

/**
 * The sentence for a TLS failure, or `undefined` when `err` is not one. Pure:
 * everything it needs comes in `facts` and `material`.
 */
export function describeTlsFailure(
  err: unknown,
  facts: HandshakeFacts,
  material: TlsMaterial,
  now = Date.now(),
): string | undefined {
  const code = codeOf(err);
  const alert = alertNumber(err);
  if (alert !== undefined) return alertSentence(alert, material, now);
  if (facts.closedAfterHandshake) {
    const local = clientCertificateProblem(material, now);
    return `the agent closed the connection right after the TLS handshake without answering, ${SILENT_REFUSAL}: ${
      local ?? `${TRUSTED_BY_AGENT.replace(/\?$/, ", and still valid?")}`
    }`;
  }
  if (VERIFY_CODES.has(code)) return refusalSentence(err, facts, material);
  if (code === "ERR_SSL_UNSUPPORTED_PROTOCOL")
    return `we refused the agent's TLS version: it offers only versions older than TLS 1.2, which agentpool does not speak: upgrade the agent`;
  if (NOT_TLS_CODES.has(code)) return notTlsSentence(facts);
  const message = fields(err).message;
  if (closedInHandshake(err)) {
    if (!facts.keyExchange && facts.plainReply) return notTlsSentence(facts);
    if (!facts.keyExchange)
      return `the server closed the connection without answering the TLS handshake, so it does not speak TLS on this port: ${CHECK_ADDR}`;
    const local = clientCertificateProblem(material, now);
    return `the agent closed the connection during the TLS handshake without an alert, ${SILENT_REFUSAL}: ${
      local ?? `${TRUSTED_BY_AGENT.replace(/\?$/, ", and still valid?")}`
    }`;
  }
  if (isTlsError(err)) {
    const reason = fields(err).reason;
    const what = oneLine(typeof reason === "string" ? reason : String(message ?? code), 100);
    return `the TLS handshake failed (${what}): are ${CA_FILE}, ${CERT_FILE} and ${KEY_FILE} the files issued with this agent?`;
  }
  return undefined;
}

/** `err` as an `ERR_AGENT_TLS` error when it is a TLS failure, else `undefined`. */
export function classifyTlsError(
  addr: string,
  err: unknown,
  material: TlsMaterial,
  facts: HandshakeFacts = {},
): AgentError | undefined {
  if (err instanceof AgentError) return err.code === "ERR_AGENT_TLS" ? err : undefined;
  const sentence = describeTlsFailure(err, facts, material);
  return sentence === undefined
    ? undefined
    : new AgentError("ERR_AGENT_TLS", addr, sentence, { cause: err });
}

/**
 * Notes whether a handshake got as far as key exchange. Node reports that
 * only through its `keylog` event; the listener counts and never reads the line.
 */
export function traceHandshake(socket: tls.TLSSocket): () => boolean {
  let seen = false;
  const onKeylog = () => {
    seen = true;
    socket.off("keylog", onKeylog);
  };
  socket.on("keylog", onKeylog);
  return () => {
    socket.off("keylog", onKeylog);
    return seen;
  };
}

/** Reads the agent's certificate on a second connection that sends no request, to name what we refused. */
function peekServerCertificate(context: TlsErrorContext): Promise<X509Certificate | undefined> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (cert: X509Certificate | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(cert);
    };
    // Verification off only to read the certificate: the socket carries no request and is closed at once.
    const socket = tls.connect({
      host: context.host,
      port: context.port,
      servername: AGENT_HOST,
      cert: context.tls.cert,
      key: context.tls.key,
      minVersion: "TLSv1.2",
      rejectUnauthorized: false,
      ALPNProtocols: ["http/1.1"],
    });
    const timer = setTimeout(() => finish(undefined), DIAGNOSIS_TIMEOUT_MS);
    timer.unref();
    socket.once("secureConnect", () => finish(socket.getPeerX509Certificate() ?? undefined));
    socket.once("error", () => finish(undefined));
    socket.once("close", () => finish(undefined));
  });
}

/** Asks the port a plain HTTP question and keeps the first line of whatever comes back. */
function peekPlainReply(context: TlsErrorContext): Promise<string | undefined> {
  return new Promise((resolve) => {
    let done = false;
    let received = "";
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const first = received.split(/\r?\n/, 1)[0] ?? "";
      resolve(first.trim() === "" ? undefined : first);
    };
    const socket = net.connect({ host: context.host, port: context.port });
    const timer = setTimeout(finish, DIAGNOSIS_TIMEOUT_MS);
    timer.unref();
    socket.setEncoding("latin1");
    socket.on("connect", () =>
      socket.write(`HEAD / HTTP/1.1\r\nHost: ${AGENT_HOST}\r\nConnection: close\r\n\r\n`),
    );
    socket.on("data", (chunk: string) => {
      received += chunk;
      if (received.includes("\n") || received.length >= 256) finish();
    });
    socket.on("error", finish);
    socket.on("close", finish);
  });
}

/**
 * The error a failed connection attempt should report: an `ERR_AGENT_TLS`
 * sentence for a TLS failure (after at most one short diagnostic connection
 * to name the agent's certificate or what speaks on the port), else `err`.
 */
export async function explainConnectError(
  err: Error,
  context: TlsErrorContext,
  keyExchange: boolean,
): Promise<Error> {
  if (!isTlsError(err)) return err;
  const facts: HandshakeFacts = { keyExchange };
  const code = codeOf(err);
  try {
    if (UNTRUSTED_CHAIN.has(code) || code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") {
      const peer = await peekServerCertificate(context);
      if (peer) facts.peerCertificate = peer;
    } else if (NOT_TLS_CODES.has(code) || (!keyExchange && closedInHandshake(err))) {
      const reply = await peekPlainReply(context);
      if (reply !== undefined) facts.plainReply = reply;
    }
  } catch {
    // A diagnosis that fails only leaves the sentence less specific.
  }
  return classifyTlsError(context.addr, err, context.tls, facts) ?? err;
}

/**
 * Watches an established socket for the refusals that come after the
 * handshake (TLS 1.3 verifies our certificate only then) and makes the first
 * of them the error every request on this socket sees.
 *
 * Works around undici: its socket `error` handler keeps the latest error, not
 * the first, and its `end` handler destroys the socket with "other side
 * closed" (lib/dispatcher/client-h1.js, onHttpSocketError and
 * onHttpSocketEnd), so the agent's TLS alert, reported first, is replaced by
 * that later, vaguer error. Upstream reports of mTLS refusals reaching users
 * as bare socket errors: https://github.com/nodejs/undici/issues/4034 and
 * https://github.com/nodejs/undici/issues/3300. Destroying the socket with the
 * classified error at once leaves undici nothing later to report.
 */
export function guardEstablished(socket: tls.TLSSocket, context: TlsErrorContext): void {
  let settled = false;
  const onError = (err: Error) => {
    if (settled) return;
    settled = true;
    const classified = classifyTlsError(context.addr, err, context.tls);
    if (classified && !socket.destroyed) socket.destroy(classified);
  };
  const onEnd = () => {
    if (settled) return;
    settled = true;
    // A request went out and not one byte came back: the agent refused us without
    // an alert (Node's TLS servers do that). A socket that never carried a request
    // is left alone, so an idle close never fails requests queued elsewhere.
    if (socket.bytesRead === 0 && socket.bytesWritten > 0 && !socket.destroyed) {
      const err = new Error("the agent closed the connection right after the TLS handshake");
      const classified = classifyTlsError(context.addr, err, context.tls, {
        closedAfterHandshake: true,
      });
      if (classified) socket.destroy(classified);
    }
  };
  socket.prependListener("error", onError);
  socket.prependListener("end", onEnd);
}
