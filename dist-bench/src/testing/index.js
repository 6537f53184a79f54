import { startTestAgent } from "./agent-server.js";
export { startTestAgent, } from "./agent-server.js";
export { createCa, createTestPki, issueCertificate, } from "./pki.js";
export const TEST_AGENT_NAME = "test-agent";
/** Starts a local test agent and adds it to `pool` under the name `test-agent`. */
export async function addTestAgent(pool, options = {}) {
    const server = await startTestAgent({ name: TEST_AGENT_NAME, ...options });
    const config = server.config(options.name ?? TEST_AGENT_NAME);
    pool.add(config);
    const agent = pool.get(server.addr);
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
