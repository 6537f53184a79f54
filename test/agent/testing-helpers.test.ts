import { expect, it } from "vitest";
import { AgentPool } from "../../src/index.js";
import { addTestAgent, TEST_AGENT_NAME } from "../../src/testing/index.js";

it("addTestAgent puts a reachable test-agent in the pool, and takes it out again", async () => {
  const pool = new AgentPool();
  const installed = await addTestAgent(pool, { version: "v1.2.3" });
  expect(pool.getAgent(TEST_AGENT_NAME)).toBe(installed.agent);
  expect(await installed.agent.info()).toEqual({
    name: "test-agent",
    version: "v1.2.3",
    runtime: "docker",
  });
  expect(installed.server.handshakes).toBe(1);
  await installed.close();
  expect(pool.getAgent(TEST_AGENT_NAME)).toBeUndefined();
  expect(pool.size).toBe(0);
});
