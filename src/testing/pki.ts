import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { AGENT_HOST } from "../agent/protocol.js";
import type { TlsMaterial } from "../agent/tls.js";
import { DAY_MS } from "../time.js";

x509.cryptoProvider.set(webcrypto as unknown as webcrypto.Crypto);

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

/** A certificate and its private key, PEM. */
export interface KeyPairPem {
  cert: string;
  key: string;
}

/** A certificate authority that can issue more certificates. */
export interface TestCa extends KeyPairPem {
  readonly signingKey: webcrypto.CryptoKey;
  readonly subject: string;
}

/** What a GoDoxy agent and its client need: one CA, a server and a client certificate. */
export interface TestPki {
  ca: TestCa;
  /** For the agent's server, named `godoxy.agent`. */
  server: KeyPairPem;
  /** For the client: what goes in `tls` of an agent config, with `ca`. */
  client: KeyPairPem;
  /** The client side's TLS material (CA, client certificate, client key). */
  clientTls: TlsMaterial;
}

export interface IssueOptions {
  commonName: string;
  /** DNS names for the subjectAltName extension. */
  dnsNames?: string[];
  usage: "server" | "client";
  notBefore?: Date;
  notAfter?: Date;
}

async function keyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

async function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, [
    "sign",
    "verify",
  ])) as unknown as webcrypto.CryptoKeyPair;
}

/** A fresh self-signed CA (ECDSA P-256). */
export async function createCa(commonName = "agentpool test CA", validDays = 365): Promise<TestCa> {
  const keys = await generateKeys();
  const subject = `CN=${commonName}`;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: subject,
    keys,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + validDays * DAY_MS),
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    cert: cert.toString("pem"),
    key: await keyPem(keys.privateKey),
    signingKey: keys.privateKey,
    subject,
  };
}

/** A leaf certificate signed by `ca`. */
export async function issueCertificate(ca: TestCa, options: IssueOptions): Promise<KeyPairPem> {
  const keys = await generateKeys();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
      true,
    ),
    new x509.ExtendedKeyUsageExtension(
      [
        options.usage === "server"
          ? x509.ExtendedKeyUsage.serverAuth
          : x509.ExtendedKeyUsage.clientAuth,
      ],
      false,
    ),
  ];
  if (options.dnsNames?.length) {
    extensions.push(
      new x509.SubjectAlternativeNameExtension(
        options.dnsNames.map((value) => ({ type: "dns", value })),
      ),
    );
  }
  const cert = await x509.X509CertificateGenerator.create({
    subject: `CN=${options.commonName}`,
    issuer: ca.subject,
    notBefore: options.notBefore ?? new Date(Date.now() - DAY_MS),
    notAfter: options.notAfter ?? new Date(Date.now() + 365 * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: ca.signingKey,
    signingAlgorithm: ALGORITHM,
    extensions,
  });
  return { cert: cert.toString("pem"), key: await keyPem(keys.privateKey) };
}

export interface PkiOptions {
  /** Name on the server certificate. Default `godoxy.agent`. */
  serverName?: string;
  /** Client certificate expiry. Default a year from now. */
  clientNotAfter?: Date;
}

/** A CA with a server certificate for `godoxy.agent` and a client certificate, as GoDoxy issues them. */
export async function createTestPki(options: PkiOptions = {}): Promise<TestPki> {
  const ca = await createCa();
  const serverName = options.serverName ?? AGENT_HOST;
  const server = await issueCertificate(ca, {
    commonName: serverName,
    dnsNames: [serverName],
    usage: "server",
  });
  const client = await issueCertificate(ca, {
    commonName: "agentpool client",
    usage: "client",
    ...(options.clientNotAfter ? { notAfter: options.clientNotAfter } : {}),
  });
  return {
    ca,
    server,
    client,
    clientTls: Object.freeze({ ca: ca.cert, cert: client.cert, key: client.key }),
  };
}
