import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { zipSync } from "fflate";
import { request } from "undici";
import { DOCKER_HOST } from "../../agent/protocol.js";
import type { Logger } from "../../log.js";
import { LOG_FORMATS, type LogFormat, resolveLogFormat } from "../../log-pretty.js";
import type { AgentPool } from "../../pool/pool.js";
import { startTestAgent, type TestAgent } from "../../testing/agent-server.js";
import { createTestPki, type TestPki } from "../../testing/pki.js";
import { runDaemon } from "../run.js";
import { type CommandIo, usageError } from "./io.js";

/**
 * `agentpool demo`: two local mTLS agents with fresh certificates, a config
 * for them in a temporary folder (one agent in each config form), and the
 * daemon running on it. Ctrl-C removes everything.
 */
export async function demoCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      listen: { type: "string" },
      "log-level": { type: "string" },
      "log-format": { type: "string" },
    },
    strict: true,
  });
  const logFormat = values["log-format"] as LogFormat | undefined;
  if (logFormat !== undefined && !LOG_FORMATS.includes(logFormat)) {
    return usageError(
      io,
      "agentpool demo",
      `--log-format must be one of ${LOG_FORMATS.join(", ")}`,
    );
  }
  const root = await mkdtemp(join(tmpdir(), "agentpool-demo-"));
  const agents: TestAgent[] = [];
  try {
    const [web, db] = await startDemoAgents(agents);
    const configPath = await writeDemoConfig(root, web, db);
    const listen = values.listen ?? "127.0.0.1:0";
    io.stderr.write(
      `\nagentpool demo\n  agents:   demo-web at ${web.agent.addr}, demo-db at ${db.agent.addr} (mTLS, certificates made just now)\n  config:   ${configPath}\n\nEdit that file in another terminal and save it: the daemon logs each reload below.\nPress Ctrl-C to stop; the demo folder ${root} is removed.\n\n`,
    );

    return await runDaemon({
      configPath,
      listen,
      logLevel: (values["log-level"] ?? "info") as "info",
      logFormat: resolveLogFormat(logFormat),
      modules: [],
      stderr: io.stderr,
      onReady: ({ pool, logger, statusAddress }) => {
        if (statusAddress) {
          io.stderr.write(
            `Status page: http://${statusAddress}/   (open it in a browser; it follows every reload)\n` +
              `Status API:  curl http://${statusAddress}/agents   (also /status, /metrics, /events)\n\n`,
          );
        }
        listContainers(pool, logger.child({ module: "demo-consumer" }));
      },
    });
  } finally {
    await Promise.all(agents.map((a) => a.close()));
    await rm(root, { recursive: true, force: true });
  }
}

/** A demo agent and the certificates its client side uses. */
interface DemoAgent {
  agent: TestAgent;
  pki: TestPki;
}

/** Two agents with made-up containers, each with its own CA; pushed to `started` as they come up. */
async function startDemoAgents(started: TestAgent[]): Promise<[DemoAgent, DemoAgent]> {
  const [pkiA, pkiB] = await Promise.all([createTestPki(), createTestPki()]);
  const running = (Id: string, name: string, Image: string, Status: string) => ({
    Id,
    Names: [`/${name}`],
    Image,
    State: "running",
    Status,
  });
  const web = await startTestAgent({
    pki: pkiA,
    name: "demo-web",
    containers: [
      running("a1", "nginx", "nginx:1.27", "Up 5 minutes"),
      running("a2", "whoami", "traefik/whoami", "Up 5 minutes"),
    ],
  });
  started.push(web);
  const db = await startTestAgent({
    pki: pkiB,
    name: "demo-db",
    runtime: "podman",
    containers: [running("b1", "postgres", "postgres:17", "Up 1 hour")],
  });
  started.push(db);
  return [
    { agent: web, pki: pkiA },
    { agent: db, pki: pkiB },
  ];
}

/** config.yml under `root`/config, with one agent in each form; returns its path. */
async function writeDemoConfig(root: string, web: DemoAgent, db: DemoAgent): Promise<string> {
  // Object form: PEM files next to the config.
  const configDir = join(root, "config");
  const tlsDir = join(configDir, "tls");
  const certsDir = join(root, "certs");
  await mkdir(tlsDir, { recursive: true });
  await mkdir(certsDir, { recursive: true });
  await writeFile(join(tlsDir, "web-ca.pem"), web.pki.ca.cert);
  await writeFile(join(tlsDir, "web-cert.pem"), web.pki.client.cert);
  await writeFile(join(tlsDir, "web-key.pem"), web.pki.client.key, { mode: 0o600 });
  // GoDoxy form: <certs dir>/<addr>.zip with ca.pem, cert.pem, key.pem.
  const bundle = join(certsDir, `${db.agent.addr}.zip`);
  await writeFile(
    bundle,
    zipSync({
      "ca.pem": Buffer.from(db.pki.ca.cert),
      "cert.pem": Buffer.from(db.pki.client.cert),
      "key.pem": Buffer.from(db.pki.client.key),
    }),
  );
  await chmod(bundle, 0o600);

  const configPath = join(configDir, "config.yml");
  await writeFile(
    configPath,
    `# agentpool demo config: edit and save this file, the daemon reloads at once.
# Try: rename an agent, delete one, or break the YAML and watch the error.
providers:
  agents:
    - addr: ${web.agent.addr}
      name: demo-web
      tls:
        ca_file: tls/web-ca.pem
        cert_file: tls/web-cert.pem
        key_file: tls/web-key.pem
    # GoDoxy's own form: TLS from ../certs/${db.agent.addr}.zip
    - ${db.agent.addr}
`,
  );
  return configPath;
}

/** A consumer plugged into the pool: lists the containers on every agent of each snapshot. */
function listContainers(pool: AgentPool, log: Logger): void {
  pool.snapshots$.subscribe((snapshot) => {
    for (const agent of snapshot.agents) {
      request(`${DOCKER_HOST}/containers/json`, { dispatcher: agent.httpClient() })
        .then((res) => res.body.json() as Promise<Array<{ Names: string[] }>>)
        .then((containers) =>
          log.info(
            { agent: agent.name, containers: containers.map((c) => c.Names[0]) },
            "containers on agent",
          ),
        )
        .catch((err: unknown) =>
          log.warn({ agent: agent.name, err: String(err) }, "agent unreachable"),
        );
    }
  });
}
