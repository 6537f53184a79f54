import { request } from "undici";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { Connection } from "../../src/agent/connection.js";
import { describeTlsFailure, oneLine } from "../../src/agent/tls-errors.js";
import { Agent, AgentError, DOCKER_HOST } from "../../src/index.js";
import {
  buildGoAgent,
  type ClientKind,
  clientTls,
  createTlsWorld,
  type Peer,
  type PeerSetup,
  startGoPeer,
  startHttpPeer,
  startNodePeer,
  startTcpPeer,
  type TlsWorld,
} from "../support/tls-peers.js";

type Kind = "node" | "go";
type Version = "1.3" | "1.2";

let world: TlsWorld;
const open: Array<{ close(): Promise<void> }> = [];
const go = buildGoAgent();
if ("skip" in go) {
  console.warn(`SKIP Go crypto/tls agent cases: ${go.skip}; the Node agent cases still run`);
}

beforeAll(async () => {
  world = await createTlsWorld();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()));
});

async function peer(kind: Kind, setup: PeerSetup | "plain"): Promise<Peer> {
  let started: Peer;
  if (kind === "go") {
    if (!("binary" in go)) throw new Error("no Go agent");
    started = await startGoPeer(go.binary, setup);
  } else if (setup === "plain") started = await startHttpPeer();
  else started = await startNodePeer(setup);
  open.push(started);
  return started;
}

/** What `info()` gives, or the error it throws. */
async function infoOutcome(addr: string, kind: ClientKind): Promise<unknown> {
  const tls = clientTls(world, kind);
  if (kind === "none") {
    // Agent refuses material without a certificate; the connection under it can still be made to send none.
    const [host, port] = addr.split(":") as [string, string];
    const connection = new Connection(host, Number(port), tls, {
      connections: 1,
      connectTimeoutMs: 5_000,
      closeTimeoutMs: 1_000,
      addr,
    });
    open.push(connection);
    return request(`${DOCKER_HOST}/godoxy/agent/info`, {
      dispatcher: connection.dispatcher(),
    }).then(
      (res) => res.body.json(),
      (err: unknown) => err,
    );
  }
  const agent = new Agent({ addr, tls });
  open.push(agent);
  return agent.info({ timeoutMs: 8_000 }).catch((err: unknown) => err);
}

function expectTlsError(outcome: unknown, addr: string, expected: Array<string | RegExp>): void {
  expect(outcome).toBeInstanceOf(AgentError);
  const err = outcome as AgentError;
  expect(err.code).toBe("ERR_AGENT_TLS");
  expect(err.cause).toBeDefined();
  expect(err.message.startsWith(`agent ${addr}: `)).toBe(true);
  expect(err.message).not.toMatch(/[\r\n]/);
  expect(err.message).not.toMatch(/other side closed|SSL routines|deps\/openssl/);
  expect(err.message).not.toContain(world.pki.client.key.split("\n")[1]);
  for (const part of expected) {
    if (typeof part === "string") expect(err.message).toContain(part);
    else expect(err.message).toMatch(part);
  }
}

interface Case {
  name: string;
  client: ClientKind;
  setup(world: TlsWorld): Omit<PeerSetup, "maxTls">;
  expected(kind: Kind, version: Version): Array<string | RegExp>;
}

const agentSetup = (w: TlsWorld) => ({ server: w.pki.server, clientCa: w.pki.ca.cert });
/** How each agent refuses a client certificate it does not accept. */
const refusal = (kind: Kind, version: Version, goAlert: RegExp): RegExp =>
  kind === "go"
    ? goAlert
    : version === "1.3"
      ? /: the agent closed the connection right after the TLS handshake without answering, as it does when it refuses our client certificate: /
      : /: the agent closed the connection during the TLS handshake without an alert, as it does when it refuses our client certificate: /;

const CASES: Case[] = [
  {
    name: "a client certificate from another CA",
    client: "stranger",
    setup: agentSetup,
    expected: (kind, version) => [
      refusal(
        kind,
        version,
        /: the agent (refused our client certificate|does not know the CA of our client certificate) \(TLS alert (42 "bad certificate"|48 "unknown CA")\): /,
      ),
      `tls.cert_file is signed by "CN=stranger CA", not by the CA in tls.ca_file: use the client certificate issued with this agent's CA`,
    ],
  },
  {
    name: "an expired client certificate",
    client: "expired",
    setup: agentSetup,
    expected: (kind, version) => [
      refusal(
        kind,
        version,
        /: the agent refused our client certificate( as expired)? \(TLS alert (42 "bad certificate"|45 "certificate expired")\): /,
      ),
      /tls\.cert_file expired on \d{4}-\d\d-\d\dT[\d:.]+Z: issue a new one from the agent's CA$/,
    ],
  },
  {
    name: "a client certificate from tls.ca_file's CA when the agent trusts another",
    client: "good",
    setup: (w) => ({ server: w.pki.server, clientCa: w.stranger.cert }),
    expected: (kind, version) =>
      kind === "go"
        ? [
            /: the agent (refused our client certificate|does not know the CA of our client certificate) \(TLS alert (42 "bad certificate"|48 "unknown CA")\): is tls\.cert_file signed by the CA the agent trusts\?$/,
          ]
        : [
            refusal(kind, version, /unused/),
            /: is tls\.cert_file signed by the CA the agent trusts, and still valid\?$/,
          ],
  },
  {
    name: "no client certificate",
    client: "none",
    setup: agentSetup,
    expected: (kind, version) => [
      kind === "go"
        ? /: the agent (refused our client certificate \(TLS alert 42 "bad certificate"\)|requires a client certificate and got none it could use \(TLS alert 116 "certificate required"\)): /
        : version === "1.3"
          ? `: the agent requires a client certificate and got none it could use (TLS alert 116 "certificate required"): `
          : `: the agent ended the TLS handshake (TLS alert 40 "handshake failure"), as it does without a usable client certificate or a cipher suite in common: `,
      /we sent no client certificate \(tls\.cert_file holds none\)$/,
    ],
  },
  {
    name: "a server certificate for another name",
    client: "good",
    setup: (w) => ({ server: w.wrongNameServer, clientCa: w.pki.ca.cert }),
    expected: () => [
      `: we refused the agent's certificate: it is issued to "other.agent", not to godoxy.agent: is this port a GoDoxy agent, serving the certificate issued with tls.ca_file?`,
    ],
  },
  {
    name: "a server certificate from a CA we do not know",
    client: "unknown-server-ca",
    setup: agentSetup,
    expected: () => [
      `: we refused the agent's certificate: it is signed by "CN=agentpool test CA", a CA that is not in tls.ca_file: is tls.ca_file the CA of this agent?`,
    ],
  },
  {
    name: "a server certificate from another CA of the same name",
    client: "twin-server-ca",
    setup: agentSetup,
    expected: () => [
      `: we refused the agent's certificate: it names "CN=agentpool test CA" as its CA, but the CA of that name in tls.ca_file did not sign it (a CA created again under the same name): is tls.ca_file this agent's current CA?`,
    ],
  },
];

const KINDS: Kind[] = ["node", "go"];
const VERSIONS: Version[] = ["1.3", "1.2"];

for (const kind of KINDS) {
  describe.skipIf(kind === "go" && "skip" in go)(
    `TLS failures against a ${kind === "go" ? "Go crypto/tls" : "Node"} agent`,
    () => {
      for (const version of VERSIONS) {
        describe(`at TLS ${version}`, () => {
          it("answers /info with a good client certificate", async () => {
            const server = await peer(kind, { ...agentSetup(world), maxTls: version });
            const info = (await infoOutcome(server.addr, "good")) as { name: string };
            expect(info.name).toBe(kind === "go" ? "go-agent" : "node-agent");
          });

          for (const c of CASES) {
            it(`names ${c.name}`, async () => {
              const server = await peer(kind, { ...c.setup(world), maxTls: version });
              expectTlsError(
                await infoOutcome(server.addr, c.client),
                server.addr,
                c.expected(kind, version),
              );
            });
          }
        });
      }

      it("names an agent that speaks only TLS 1.1 and older", async () => {
        const server = await peer(kind, { ...agentSetup(world), maxTls: "1.1" });
        expectTlsError(await infoOutcome(server.addr, "good"), server.addr, [
          `: the agent refused our TLS version (TLS alert 70 "protocol version"): agentpool speaks TLS 1.2 and 1.3 only, so upgrade the agent or let it accept TLS 1.2`,
        ]);
      });

      it("names an agent serving plain HTTP on the port", async () => {
        const server = await peer(kind, "plain");
        expectTlsError(await infoOutcome(server.addr, "good"), server.addr, [
          `: the server on this port speaks plain HTTP, not HTTPS (it answered "HTTP/1.1 ${
            kind === "go" ? "404 Not Found" : "200 OK"
          }"): is addr the agent's port, and does the agent serve TLS there?`,
        ]);
      });
    },
  );
}

describe("TLS failures against servers that do not speak TLS", () => {
  it("names a TCP server that closes at once", async () => {
    const server = await startTcpPeer();
    open.push(server);
    expectTlsError(await infoOutcome(server.addr, "good"), server.addr, [
      `: the server closed the connection without answering the TLS handshake, so it does not speak TLS on this port: is addr the agent's port?`,
    ]);
  });

  it("names a TCP server that sends something else, quoting its first line", async () => {
    const server = await startTcpPeer("SSH-2.0-OpenSSH_9.2p1\r\n");
    open.push(server);
    expectTlsError(await infoOutcome(server.addr, "good"), server.addr, [
      `: the server on this port does not speak TLS (it sent "SSH-2.0-OpenSSH_9.2p1"): is addr the agent's port?`,
    ]);
  });
});

describe("regressions", () => {
  it("the agent's TLS alert is not replaced by undici's later 'other side closed'", async () => {
    // The bug: at TLS 1.3 a Go agent's alert 42 came first, then undici's SocketError won.
    const kind: Kind = "binary" in go ? "go" : "node";
    const server = await peer(kind, { ...agentSetup(world), maxTls: "1.3" });
    const err = (await infoOutcome(server.addr, "stranger")) as AgentError;
    expect(err.code).toBe("ERR_AGENT_TLS");
    expect(err.message).not.toContain("other side closed");
    const cause = err.cause as { code?: string; message?: string };
    if (kind === "go")
      expect(cause.code).toMatch(/^ERR_SSL_(SSLV3_ALERT_BAD_CERTIFICATE|TLSV1_ALERT_UNKNOWN_CA)$/);
    else expect(cause.message).toMatch(/closed the connection right after the TLS handshake/);
  });

  it("the raw dispatcher of an agent reports ERR_AGENT_TLS too", async () => {
    const server = await peer("node", { ...agentSetup(world), maxTls: "1.2" });
    const agent = new Agent({ addr: server.addr, tls: clientTls(world, "stranger") });
    open.push(agent);
    const err = await request(`${DOCKER_HOST}/version`, { dispatcher: agent.httpClient() }).catch(
      (e: unknown) => e,
    );
    expect((err as AgentError).code).toBe("ERR_AGENT_TLS");
  });

  it("an agent that closes a used connection without answering is no TLS failure", async () => {
    const server = await startNodePeer({ ...agentSetup(world), maxTls: "1.3" }, {}, (req) => {
      if (req.url !== "/godoxy/agent/hang-up") return false;
      req.socket.destroy();
      return true;
    });
    open.push(server);
    const agent = new Agent(
      { addr: server.addr, tls: world.pki.clientTls, name: "x" },
      {
        connections: 1,
      },
    );
    open.push(agent);
    expect((await agent.info()).name).toBe("node-agent");
    // Same keep-alive socket, bytes already read on it: the close is the agent's, not a TLS refusal.
    const err = await agent.request("GET", "/hang-up").catch((e: unknown) => e);
    expect((err as AgentError).code).toBe("ERR_AGENT_REQUEST");
    expect((err as AgentError).message).toMatch(
      /other side closed|ECONNRESET|socket hang up|closed/,
    );
  });
});

describe("describeTlsFailure", () => {
  it("leaves errors that are not TLS failures alone", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), {
      code: "ECONNREFUSED",
    });
    expect(describeTlsFailure(refused, {}, world.pki.clientTls)).toBeUndefined();
  });

  it("flattens OpenSSL's multi-line text of an unknown TLS error into one line", () => {
    const raw = Object.assign(
      new Error(
        "80FC:error:0A000126:SSL routines::unexpected eof while reading:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:317:\n",
      ),
      {
        code: "ERR_SSL_SOMETHING_NEW",
        reason: "unexpected eof while reading",
        library: "SSL routines",
      },
    );
    const sentence = describeTlsFailure(raw, {}, world.pki.clientTls) ?? "";
    expect(sentence).toBe(
      "the TLS handshake failed (unexpected eof while reading): are tls.ca_file, tls.cert_file and tls.key_file the files issued with this agent?",
    );
    expect(oneLine("a\nb\r\n c")).toBe("a b c");
    expect(oneLine("CN=Büro CA\n")).toBe("CN=Büro CA");
  });

  it("names an agent whose ServerHello picks a TLS version older than 1.2", () => {
    // What OpenSSL reports when a server ignores our supported_versions and answers TLS 1.1.
    const raw = Object.assign(
      new Error(
        "80FC:error:0A000102:SSL routines:tls_process_server_hello:unsupported protocol:../deps/openssl/openssl/ssl/statem/statem_clnt.c:1102:\n",
      ),
      {
        code: "ERR_SSL_UNSUPPORTED_PROTOCOL",
        reason: "unsupported protocol",
        library: "SSL routines",
      },
    );
    expect(describeTlsFailure(raw, {}, world.pki.clientTls)).toBe(
      "we refused the agent's TLS version: it offers only versions older than TLS 1.2, which agentpool does not speak: upgrade the agent",
    );
  });
});
