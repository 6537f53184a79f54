/**
 * A test agent (real mTLS HTTPS server on 127.0.0.1) in a process of its own,
 * so that client-side figures are not shared with the server's work on one
 * event loop. Sends `{ port, tls }` once listening; closes on "close".
 */
import { startTestAgent } from "../../../src/testing/index.js";

const agent = await startTestAgent();
const { ca, cert, key } = agent.pki.clientTls;
process.send?.({ port: agent.port, tls: { ca, cert, key } });
process.on("message", (message) => {
  if (message === "close") {
    void agent.close().then(() => process.disconnect());
  }
});
