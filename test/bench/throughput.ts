/**
 * 5. Request throughput through an agent's dispatcher versus a bare undici
 * Pool built by hand, to the same local mTLS server.
 */
import { type Dispatcher, Pool } from "undici";
import { Agent } from "../../src/agent/agent.js";
import { AGENT_HOST } from "../../src/agent/protocol.js";
import { type BenchOptions, type Figure, fmtInt, type MeasureResult } from "./lib/figure.js";
import { startRemoteTestAgent } from "./lib/server.js";
import { formatRate, median } from "./lib/stats.js";

const TARGET_RATIO = 0.95;
const PATH = "/_ping";

/** `count` GET requests, `inFlight` at a time; bodies read to the end. Returns req/s. */
async function drive(dispatcher: Dispatcher, count: number, inFlight: number): Promise<number> {
  let issued = 0;
  let failures = 0;
  const worker = async () => {
    while (issued < count) {
      issued++;
      const res = await dispatcher.request({ path: PATH, method: "GET" });
      const body = await res.body.text();
      if (res.statusCode !== 200 || body !== "OK") failures++;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: inFlight }, worker));
  const seconds = (performance.now() - started) / 1000;
  if (failures > 0) throw new Error(`${failures} of ${count} requests failed`);
  return count / seconds;
}

export async function run(options: BenchOptions): Promise<MeasureResult> {
  const rounds = options.quick ? 2 : 7;
  const modes = [
    { id: "sequential", label: "sequential", inFlight: 1, count: options.quick ? 300 : 3_000 },
    { id: "inflight32", label: "32 in flight", inFlight: 32, count: options.quick ? 1_000 : 10_000 },
  ];
  const server = await startRemoteTestAgent();
  const agent = new Agent({ addr: server.addr, tls: server.tls });
  // The same TLS options the agent uses, written out by hand: a plain undici
  // Pool dialing 127.0.0.1 with SNI godoxy.agent.
  const bare = new Pool(`https://127.0.0.1:${server.port}`, {
    connections: 100,
    connect: {
      ca: server.tls.ca,
      cert: server.tls.cert,
      key: server.tls.key,
      servername: AGENT_HOST,
      minVersion: "TLSv1.2",
      rejectUnauthorized: true,
    },
  });
  const figures: Figure[] = [];
  try {
    const clients = { agent: agent.httpClient(), bare };
    for (const mode of modes) {
      // Warm-up opens the connections (the handshakes are not part of the figure).
      await drive(clients.agent, Math.min(mode.count, 500), mode.inFlight);
      await drive(clients.bare, Math.min(mode.count, 500), mode.inFlight);
      const agentRates: number[] = [];
      const bareRates: number[] = [];
      const ratios: number[] = [];
      for (let r = 0; r < rounds; r++) {
        // ABBA order, so drift over the run weighs on both sides alike.
        let a: number;
        let b: number;
        if (r % 2 === 0) {
          a = await drive(clients.agent, mode.count, mode.inFlight);
          b = await drive(clients.bare, mode.count, mode.inFlight);
        } else {
          b = await drive(clients.bare, mode.count, mode.inFlight);
          a = await drive(clients.agent, mode.count, mode.inFlight);
        }
        agentRates.push(a);
        bareRates.push(b);
        ratios.push(a / b);
      }
      const ratio = median(ratios);
      figures.push(
        {
          id: `throughput.${mode.id}.agent`,
          label: `agent dispatcher, ${mode.label}`,
          value: median(agentRates),
          unit: "req/s",
          display: `${formatRate(median(agentRates))} req/s`,
          detail: `median of ${rounds} rounds × ${fmtInt(mode.count)} requests`,
          target: null,
          pass: null,
          data: { rounds: agentRates },
        },
        {
          id: `throughput.${mode.id}.bare`,
          label: `bare undici Pool, ${mode.label}`,
          value: median(bareRates),
          unit: "req/s",
          display: `${formatRate(median(bareRates))} req/s`,
          detail: `median of ${rounds} rounds × ${fmtInt(mode.count)} requests`,
          target: null,
          pass: null,
          data: { rounds: bareRates },
        },
        {
          id: `throughput.${mode.id}.ratio`,
          label: `agent ÷ bare, ${mode.label}`,
          value: ratio,
          unit: "ratio",
          display: ratio.toFixed(3),
          detail: `median of per-round ratios; range ${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)}`,
          target: `≥ ${TARGET_RATIO}`,
          pass: ratio >= TARGET_RATIO,
          data: { rounds: ratios },
        },
      );
    }
  } finally {
    await agent.close();
    await bare.close();
    await server.close();
  }

  return {
    key: "throughput",
    title: "5. Request throughput",
    how:
      "One real mTLS test agent (startTestAgent, a Node HTTPS server requiring a client " +
      "certificate) runs in a child process on 127.0.0.1, so the server does not share the " +
      "client's event loop. Client A is an Agent's dispatcher (agent.httpClient()); client B a bare " +
      "undici Pool made by hand with the same TLS options (CA, client cert and key, servername " +
      "godoxy.agent, TLS ≥ 1.2, 100 connections). Both send GET /_ping with dispatcher.request() and " +
      "read each body to the end, either one at a time or 32 in flight. After a warm-up (which " +
      "opens the connections), the rounds alternate A-B, B-A, … so drift weighs on both; the " +
      "ratio is the median of the per-round ratios A ÷ B.",
    figures,
    notes: [],
  };
}
