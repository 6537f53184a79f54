import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { zipSync } from "fflate";
import { request } from "undici";
import { DOCKER_HOST } from "../../agent/protocol.js";
import { LOG_FORMATS, type LogFormat, resolveLogFormat } from "../../log-pretty.js";
import { startTestAgent, type TestAgent } from "../../testing/agent-server.js";
import { createTestPki } from "../../testing/pki.js";
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
    const [pkiA, pkiB] = await Promise.all([createTestPki(), createTestPki()]);
    agents.push(
      await startTestAgent({
        pki: pkiA,
        name: "demo-web",
        containers: [
          {
            Id: "a1",
            Names: ["/nginx"],
            Image: "nginx:1.27",
            State: "running",
            Status: "Up 5 minutes",
          },
          {
            Id: "a2",
            Names: ["/whoami"],
            Image: "traefik/whoami",
            State: "running",
            Status: "Up 5 minutes",
          },
        ],
      }),
      await startTestAgent({
        pki: pkiB,
        name: "demo-db",
        runtime: "podman",
        containers: [
          {
            Id: "b1",
            Names: ["/postgres"],
            Image: "postgres:17",
            State: "running",
            Status: "Up 1 hour",
          },
        ],
      }),
    );
    const [web, db] = agents as [TestAgent, TestAgent];

    // Object form: PEM files next to the config.
    const configDir = join(root, "config");
    const tlsDir = join(configDir, "tls");
    const certsDir = join(root, "certs");
    await mkdir(tlsDir, { recursive: true });
    await mkdir(certsDir, { recursive: true });
    await writeFile(join(tlsDir, "web-ca.pem"), pkiA.ca.cert);
    await writeFile(join(tlsDir, "web-cert.pem"), pkiA.client.cert);
    await writeFile(join(tlsDir, "web-key.pem"), pkiA.client.key, { mode: 0o600 });
    // GoDoxy form: <certs dir>/<addr>.zip with ca.pem, cert.pem, key.pem.
    const bundle = join(certsDir, `${db.addr}.zip`);
    await writeFile(
      bundle,
      zipSync({
        "ca.pem": Buffer.from(pkiB.ca.cert),
        "cert.pem": Buffer.from(pkiB.client.cert),
        "key.pem": Buffer.from(pkiB.client.key),
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
    - addr: ${web.addr}
      name: demo-web
      tls:
        ca_file: tls/web-ca.pem
        cert_file: tls/web-cert.pem
        key_file: tls/web-key.pem
    # GoDoxy's own form: TLS from ../certs/${db.addr}.zip
    - ${db.addr}
`,
    );

    const listen = values.listen ?? "127.0.0.1:0";
    io.stderr.write(
      `\nagentpool demo\n  agents:   demo-web at ${web.addr}, demo-db at ${db.addr} (mTLS, certificates made just now)\n  config:   ${configPath}\n\nEdit that file in another terminal and save it: the daemon logs each reload below.\nPress Ctrl-C to stop; the demo folder ${root} is removed.\n\n`,
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
        // A consumer plugged into the pool: list containers on every agent of each snapshot.
        const log = logger.child({ module: "demo-consumer" });
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
      },
    });
  } finally {
    await Promise.all(agents.map((a) => a.close()));
    await rm(root, { recursive: true, force: true });
  }
}
