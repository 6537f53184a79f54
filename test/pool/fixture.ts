import { afterAll, beforeAll } from "vitest";
import { type AgentConfig, AgentPool } from "../../src/index.js";
import { createTestPki, issueCertificate, type TestPki } from "../../src/testing/index.js";

/**
 * What the pool tests share: a test PKI, a second client certificate of the
 * same CA (`rotated`), and pools whose agents are closed after the file.
 * Read `pki` and `rotated` inside tests: they are set in `beforeAll`.
 */
export function poolFixture() {
  const state = {} as { pki: TestPki; rotated: AgentConfig["tls"] };
  const pools: AgentPool[] = [];
  beforeAll(async () => {
    state.pki = await createTestPki();
    const other = await issueCertificate(state.pki.ca, {
      commonName: "rotated client",
      usage: "client",
    });
    state.rotated = Object.freeze({ ca: state.pki.ca.cert, cert: other.cert, key: other.key });
  });
  afterAll(async () => {
    await Promise.all(pools.flatMap((p) => p.list().map((a) => a.close())));
  });
  const newPool = (): AgentPool => {
    const pool = new AgentPool();
    pools.push(pool);
    return pool;
  };
  return { state, newPool };
}
