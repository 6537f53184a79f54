import { ReplaySubject } from "rxjs";
import {
  type StatusServer,
  type StatusServerOptions,
  startStatusServer,
} from "../../src/daemon/status/server.js";
import { AgentPool } from "../../src/pool/pool.js";
import type { ReloadResult } from "../../src/reload/result.js";
import { startTestAgent, type TestAgent, type TestPki } from "../../src/testing/index.js";
import { captureLogger } from "../support/logs.js";

export const CONFIG_PATH = "/etc/agentpool/config.yml";

/** Things a test opened; `closeAll()` in afterEach. */
export class Opened {
  readonly #items: Array<() => Promise<void> | void> = [];

  add(close: () => Promise<void> | void): void {
    this.#items.push(close);
  }

  async closeAll(): Promise<void> {
    // Newest first: servers before the pools they watch, pools before their agents' servers.
    for (const close of this.#items.splice(0).reverse()) await close();
  }
}

/** A pool whose agents are closed when the test ends. */
export function openPool(opened: Opened): AgentPool {
  const pool = new AgentPool();
  opened.add(async () => {
    const agents = pool.list();
    pool.removeAll();
    await Promise.all(agents.map((agent) => agent.close()));
  });
  return pool;
}

export async function openAgent(
  opened: Opened,
  pki: TestPki,
  options: Parameters<typeof startTestAgent>[0] = {},
): Promise<TestAgent> {
  const agent = await startTestAgent({ pki, ...options });
  opened.add(() => agent.close());
  return agent;
}

export interface StatusHarness {
  pool: AgentPool;
  results$: ReplaySubject<ReloadResult>;
  server: StatusServer;
  logs: () => Array<Record<string, unknown>>;
}

/** A status server on 127.0.0.1 with a fresh pool and a results stream the test drives. */
export async function openStatus(
  opened: Opened,
  options: Partial<StatusServerOptions> = {},
): Promise<StatusHarness> {
  const pool = options.pool ?? openPool(opened);
  // Like watchConfig's results$: replays the latest result to a new subscriber.
  const results$ = new ReplaySubject<ReloadResult>(1);
  const { logger, lines } = captureLogger();
  const server = await startStatusServer({
    listen: "127.0.0.1:0",
    pool,
    results$,
    configPath: CONFIG_PATH,
    logger,
    ...options,
  });
  opened.add(() => server.close());
  return { pool, results$, server, logs: lines };
}
