import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TlsMaterial } from "../../src/agent/tls.js";
import {
  createCa,
  createTestPki,
  issueCertificate,
  type KeyPairPem,
  type TestCa,
  type TestPki,
} from "../../src/testing/index.js";
import { DAY_MS } from "../../src/time.js";

/** Everything the TLS failure cases need, generated once per test file. */
export interface TlsWorld {
  /** The agent's own PKI: CA, server certificate for godoxy.agent, client certificate. */
  pki: TestPki;
  /** A second CA with the same name as `pki.ca` but another key (a CA created again). */
  twin: TestPki;
  /** An unrelated CA, named "stranger CA". */
  stranger: TestCa;
  strangerClient: KeyPairPem;
  /** Signed by `pki.ca`, expired yesterday. */
  expiredClient: KeyPairPem;
  /** Signed by `pki.ca`, issued to other.agent. */
  wrongNameServer: KeyPairPem;
}

export async function createTlsWorld(): Promise<TlsWorld> {
  const pki = await createTestPki();
  const twin = await createTestPki();
  const stranger = await createCa("stranger CA");
  return {
    pki,
    twin,
    stranger,
    strangerClient: await issueCertificate(stranger, { commonName: "intruder", usage: "client" }),
    expiredClient: await issueCertificate(pki.ca, {
      commonName: "agentpool client",
      usage: "client",
      notBefore: new Date(Date.now() - 30 * DAY_MS),
      notAfter: new Date(Date.now() - DAY_MS),
    }),
    wrongNameServer: await issueCertificate(pki.ca, {
      commonName: "other.agent",
      dnsNames: ["other.agent"],
      usage: "server",
    }),
  };
}

/** What an agent under test serves and which client CA it trusts. */
export interface PeerSetup {
  server: KeyPairPem;
  /** PEM of the CA the agent accepts client certificates from. */
  clientCa: string;
  /** Highest TLS version: "1.3", "1.2", or "1.1" for an outdated agent (TLS 1.0 and 1.1 only). */
  maxTls: "1.1" | "1.2" | "1.3";
}

export interface Peer {
  readonly addr: string;
  readonly port: number;
  close(): Promise<void>;
}

const INFO = JSON.stringify({ version: "v0.0.0-node", name: "node-agent", runtime: "docker" });

/** A Node HTTPS agent requiring a client certificate signed by `clientCa`. */
export async function startNodePeer(
  setup: PeerSetup,
  extra: https.ServerOptions = {},
  handle?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean,
): Promise<Peer> {
  const old = setup.maxTls === "1.1";
  const server = https.createServer(
    {
      key: setup.server.key,
      cert: setup.server.cert,
      ca: setup.clientCa,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: old ? "TLSv1" : "TLSv1.2",
      maxVersion: `TLSv${setup.maxTls}`,
      // OpenSSL 3 allows TLS 1.0/1.1 only at security level 0.
      ...(old ? { ciphers: "DEFAULT@SECLEVEL=0" } : {}),
      ...extra,
    },
    (req, res) => {
      if (handle?.(req, res)) return;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(INFO);
    },
  );
  server.on("tlsClientError", () => {});
  return listen(server);
}

/** A plain TCP server that accepts and closes, or sends `banner` and closes. */
export function startTcpPeer(banner?: string): Promise<Peer> {
  const server = net.createServer((socket) => {
    socket.on("error", () => {});
    if (banner === undefined) socket.end();
    else socket.end(banner);
  });
  return listen(server);
}

/** A plain HTTP server: an agent's port answered without TLS. */
export function startHttpPeer(): Promise<Peer> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(INFO);
  });
  // Hangs up on what is not HTTP (a ClientHello), as some HTTP servers do instead of answering 400.
  server.on("clientError", (_err, socket) => socket.destroy());
  return listen(server);
}

async function listen(server: net.Server): Promise<Peer> {
  const sockets = new Set<net.Socket>();
  server.on("connection", (socket: net.Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    addr: `127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const GO_SOURCE = fileURLToPath(new URL("../fixtures/go-agent/", import.meta.url));

/**
 * Builds the Go agent of test/fixtures/go-agent (standard library only, no
 * network) once per source version into the temp folder, or returns
 * `undefined` with the reason when there is no Go toolchain.
 */
export function buildGoAgent(): { binary: string } | { skip: string } {
  const probe = spawnSync("go", ["version"], { encoding: "utf8" });
  if (probe.error || probe.status !== 0) {
    return { skip: `go is not installed (${probe.error?.message ?? probe.stderr.trim()})` };
  }
  const source = readFileSync(join(GO_SOURCE, "main.go"));
  const digest = createHash("sha256")
    .update(source)
    .update(probe.stdout)
    .digest("hex")
    .slice(0, 16);
  const root = join(tmpdir(), "agentpool-go");
  const binary = join(root, `go-agent-${digest}`);
  if (existsSync(binary)) return { binary };
  mkdirSync(root, { recursive: true });
  // Test files build in parallel on a fresh machine: one builds, the others wait for its binary.
  const lock = `${binary}.lock`;
  try {
    mkdirSync(lock);
  } catch {
    const until = Date.now() + 180_000;
    while (!existsSync(binary) && existsSync(lock) && Date.now() < until) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
    if (existsSync(binary)) return { binary };
    rmSync(lock, { recursive: true, force: true });
    mkdirSync(lock, { recursive: true });
  }
  try {
    return { binary: compileGoAgent(root, binary) };
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function compileGoAgent(root: string, binary: string): string {
  const partial = join(mkdtempSync(join(root, "build-")), "go-agent");
  const built = spawnSync("go", ["build", "-o", partial, "."], {
    cwd: GO_SOURCE,
    encoding: "utf8",
    env: {
      ...process.env,
      GOCACHE: join(root, "cache"),
      GOPATH: join(root, "gopath"),
      GO111MODULE: "off",
      GOFLAGS: "-mod=mod",
      GOPROXY: "off",
      GOTOOLCHAIN: "local",
      CGO_ENABLED: "0",
    },
  });
  if (built.status !== 0) {
    throw new Error(`go build of test/fixtures/go-agent failed:\n${built.stderr}`);
  }
  // Renamed into place so no test file ever runs a half-written binary.
  renameSync(partial, binary);
  rmSync(dirname(partial), { recursive: true, force: true });
  return binary;
}

/** Starts the Go agent; it exits when its stdin closes, so it never outlives the test process. */
export async function startGoPeer(
  binary: string,
  setup: PeerSetup | "plain",
  name = "go-agent",
): Promise<Peer> {
  const args = ["-name", name];
  if (setup === "plain") args.push("-plain");
  else {
    const dir = mkdtempSync(join(tmpdir(), "agentpool-go-peer-"));
    writeFileSync(join(dir, "ca.pem"), setup.clientCa);
    writeFileSync(join(dir, "server.pem"), setup.server.cert);
    writeFileSync(join(dir, "server-key.pem"), setup.server.key, { mode: 0o600 });
    args.push(
      "-ca",
      join(dir, "ca.pem"),
      "-cert",
      join(dir, "server.pem"),
      "-key",
      join(dir, "server-key.pem"),
      "-max-tls",
      setup.maxTls,
    );
  }
  const child: ChildProcess = spawn(binary, args, { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const addr = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
      const match = /^listening (\S+)$/m.exec(out);
      if (match?.[1]) resolve(match[1]);
    });
    child.once("exit", (code) => reject(new Error(`go agent exited (${code}): ${stderr}`)));
    child.once("error", reject);
  });
  const port = Number(addr.split(":").pop());
  return {
    addr,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.stdin?.end();
        setTimeout(() => child.kill("SIGKILL"), 2_000).unref();
      }),
  };
}

/** The client side's TLS material for a case. */
export function clientTls(world: TlsWorld, kind: ClientKind): TlsMaterial {
  const { pki } = world;
  switch (kind) {
    case "good":
      return pki.clientTls;
    case "stranger":
      return { ca: pki.ca.cert, cert: world.strangerClient.cert, key: world.strangerClient.key };
    case "expired":
      return { ca: pki.ca.cert, cert: world.expiredClient.cert, key: world.expiredClient.key };
    case "none":
      return { ca: pki.ca.cert, cert: "", key: "" };
    case "unknown-server-ca":
      return { ca: world.stranger.cert, cert: pki.client.cert, key: pki.client.key };
    case "twin-server-ca":
      return { ca: world.twin.ca.cert, cert: pki.client.cert, key: pki.client.key };
  }
}

export type ClientKind =
  | "good"
  | "stranger"
  | "expired"
  | "none"
  | "unknown-server-ca"
  | "twin-server-ca";
