import { get } from "node:http";
import { parseArgs } from "node:util";
import { DEFAULT_LISTEN } from "../defaults.js";
import { type ListenAddress, parseListen } from "../status/listen.js";
import type { AgentRow, StatusBody } from "../status/views.js";
import { type CommandIo, plural, table, usageError } from "./io.js";

/** Exit codes of `agentpool status`. */
export const STATUS_EXIT = Object.freeze({
  /** The daemon answered and its last reload succeeded. */
  ok: 0,
  /** The daemon answered, but its last reload failed (it serves the last good config) or none succeeded yet. */
  reloadFailed: 1,
  /** Bad command line. */
  usage: 2,
  /** Nothing answered at the address, or what answered is not an agentpool status endpoint. */
  unreachable: 3,
});

/** How long `agentpool status` waits for the daemon's answers without `--timeout`. */
const DEFAULT_TIMEOUT_MS = 5_000;

const USAGE = `Usage: agentpool status [--listen HOST:PORT|PATH] [--timeout MS] [--json]

Shows the running daemon's agents and its last config reload.
  --listen    the daemon's status endpoint (default: $AGENTPOOL_LISTEN or ${DEFAULT_LISTEN})
  --timeout   give up after this many milliseconds (default ${DEFAULT_TIMEOUT_MS})
  --json      print {"status":…,"agents":…} as JSON instead of a table

Exit status: 0 last reload ok, 1 last reload failed, 2 usage error, 3 daemon unreachable.
`;

/** GET `path` from a status endpoint, parsed as JSON; rejects with one sentence. */
export function getJson(where: ListenAddress, path: string, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    // One bound on the whole exchange, connect included (a socket timeout only starts once connected).
    const timer = setTimeout(
      () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const fail = (err: Error) => {
      clearTimeout(timer);
      reject(err);
    };
    const req = get(
      {
        ...(where.kind === "unix"
          ? { socketPath: where.path }
          : { host: where.host, port: where.port }),
        path,
        headers: { accept: "application/json" },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", fail);
        res.on("end", () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString("utf8");
          if (res.statusCode !== 200) {
            reject(
              new Error(
                `GET ${path} answered HTTP ${res.statusCode}, not an agentpool status endpoint`,
              ),
            );
            return;
          }
          try {
            resolve(JSON.parse(text));
          } catch {
            reject(new Error(`GET ${path} did not answer JSON, not an agentpool status endpoint`));
          }
        });
      },
    );
    req.on("error", fail);
  });
}

function isStatus(body: unknown): body is StatusBody {
  const b = body as Partial<StatusBody> | null;
  return (
    !!b &&
    typeof b === "object" &&
    typeof b.version === "number" &&
    typeof b.agents === "number" &&
    (b.lastReload === null || typeof b.lastReload === "object")
  );
}

function isAgentList(body: unknown): body is AgentRow[] {
  return (
    Array.isArray(body) &&
    body.every((a) => a && typeof a.addr === "string" && typeof a.name === "string")
  );
}

function render(address: string, status: StatusBody, agents: AgentRow[]): string {
  const lines = [`agentpool at ${address}`, `config:   ${status.configPath}`];
  lines.push(`snapshot: version ${status.version}, ${plural(status.agents, "agent")}`);
  const last = status.lastReload;
  if (!last) {
    lines.push("reload:   none finished yet (not ready)");
  } else if (last.ok) {
    lines.push(`reload:   ok at ${last.at} (${last.durationMs} ms)`);
    for (const warning of last.warnings ?? []) lines.push(`warning:  ${warning}`);
  } else {
    const serving = status.lastSuccess
      ? `; still serving the config loaded at ${status.lastSuccess.at}`
      : "";
    lines.push(`reload:   FAILED at ${last.at} (${last.durationMs} ms)${serving}`);
    for (const line of (last.error ?? "unknown error").split("\n")) lines.push(`          ${line}`);
  }
  lines.push("");
  if (agents.length === 0) {
    lines.push("(no agents)");
  } else {
    const rows = [["NAME", "ADDR", "VERSION", "RUNTIME", "INFO"]];
    for (const agent of agents) {
      const info = agent.infoError ?? (agent.version === undefined ? "(probing)" : "");
      rows.push([agent.name, agent.addr, agent.version ?? "-", agent.runtime ?? "-", info]);
    }
    lines.push(table(rows));
  }
  return `${lines.join("\n")}\n`;
}

/**
 * `agentpool status [--listen ADDR] [--timeout MS] [--json]`: asks the running
 * daemon for `/status` and `/agents` and prints them. `argv` is what follows
 * `status` on the command line. Resolves with the exit code ({@link STATUS_EXIT}).
 */
export async function statusCommand(argv: string[], io: CommandIo): Promise<number> {
  const env = io.env ?? process.env;
  let listen: string;
  let timeoutMs: number;
  let json: boolean;
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        listen: { type: "string", short: "l" },
        timeout: { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      io.stdout.write(USAGE);
      return STATUS_EXIT.ok;
    }
    listen = values.listen ?? (env.AGENTPOOL_LISTEN || DEFAULT_LISTEN);
    timeoutMs = values.timeout === undefined ? DEFAULT_TIMEOUT_MS : Number(values.timeout);
    if (!(Number.isFinite(timeoutMs) && timeoutMs > 0))
      throw new TypeError("--timeout must be a positive number of milliseconds.");
    json = values.json ?? false;
  } catch (err) {
    return usageError(io, "agentpool status", (err as Error).message, USAGE);
  }

  if (listen === "off") {
    io.stderr.write(
      "agentpool status: the status endpoint is off (--listen off); nothing to ask.\n",
    );
    return STATUS_EXIT.unreachable;
  }
  let where: ListenAddress;
  try {
    where = parseListen(listen);
  } catch (err) {
    return usageError(io, "agentpool status", (err as Error).message);
  }

  let status: unknown;
  let agents: unknown;
  try {
    [status, agents] = await Promise.all([
      getJson(where, "/status", timeoutMs),
      getJson(where, "/agents", timeoutMs),
    ]);
  } catch (err) {
    io.stderr.write(
      `agentpool status: cannot reach the daemon at ${listen}: ${(err as Error).message}\n`,
    );
    return STATUS_EXIT.unreachable;
  }
  if (!isStatus(status) || !isAgentList(agents)) {
    io.stderr.write(
      `agentpool status: ${listen} is not an agentpool status endpoint (unexpected answer)\n`,
    );
    return STATUS_EXIT.unreachable;
  }

  if (json) io.stdout.write(`${JSON.stringify({ status, agents }, null, 2)}\n`);
  else io.stdout.write(render(listen, status, agents));
  return status.lastReload?.ok ? STATUS_EXIT.ok : STATUS_EXIT.reloadFailed;
}
