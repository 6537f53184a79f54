/**
 * Helpers for tests of code that uses agentpool: real mTLS agents on loopback
 * with freshly generated certificates. GoDoxy puts a `test-agent` in its pool
 * while its own tests run; here that is an explicit call, {@link addTestAgent}.
 */
import type { Agent } from "../agent/agent.js";
import type { AgentPool } from "../pool/pool.js";
import { startTestAgent, type TestAgent, type TestAgentOptions } from "./agent-server.js";

export {
  startTestAgent,
  type TestAgent,
  type TestAgentOptions,
  type TestContainer,
} from "./agent-server.js";
export { type DockerApiStub, startDockerApiStub } from "./docker-api-stub.js";
export {
  createCa,
  createTestPki,
  type IssueOptions,
  issueCertificate,
  type KeyPairPem,
  type PkiOptions,
  type TestCa,
  type TestPki,
} from "./pki.js";

export const TEST_AGENT_NAME = "test-agent";

export interface InstalledTestAgent {
  /** The agent as it sits in the pool. */
  agent: Agent;
  /** The server behind it. */
  server: TestAgent;
  /** Removes the agent from the pool and stops the server. */
  close(): Promise<void>;
}

/** Starts a local test agent and adds it to `pool` under the name `test-agent`. */
export async function addTestAgent(
  pool: AgentPool,
  options: TestAgentOptions = {},
): Promise<InstalledTestAgent> {
  const server = await startTestAgent({ name: TEST_AGENT_NAME, ...options });
  const config = server.config(options.name ?? TEST_AGENT_NAME);
  pool.add(config);
  const agent = pool.get(server.addr) as Agent;
  return {
    agent,
    server,
    async close() {
      pool.remove(config);
      await agent.close();
      await server.close();
    },
  };
}
