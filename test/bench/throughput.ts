/**
 * 5. Request throughput through an agent's dispatcher versus a bare undici
 * Pool built by hand, to the same local mTLS server.
 */
import { type Dispatcher, Pool } from "undici";
import { Agent } from "../../src/agent/agent.js";
import { AGENT_HOST } from "../../src/agent/protocol.js";
import type { TlsMaterial } from "../../src/agent/tls.js";
import { type BenchOptions, type Figure, fmtInt, type MeasureResult } from "./lib/figure.js";
import { startRemoteTestAgent } from "./lib/server.js";
import { formatRate, median } from "./lib/stats.js";

const TARGET_RATIO = 0.95;
const PATH = "/_ping";

/** Orders of the three clients, one per round in turn, so each goes first, second and last alike. */
const ORDERS = [
  [0, 1, 2],
  [1, 2, 0],
  [2, 0, 1],
  [2, 1, 0],
  [1, 0, 2],
  [0, 2, 1],
] as const;

/** `count` GET requests, `inFlight` at a time; bodies read to the end. */
async function drive(
  dispatcher: Dispatcher,
  count: number,
  inFlight: number,
): Promise<{ rate: number; cpuUsPerRequest: number }> {
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
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: inFlight }, worker));
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  if (failures > 0) throw new Error(`${failures} of ${count} requests failed`);
  return { rate: count / seconds, cpuUsPerRequest: (used.user + used.system) / count };
}

/** The agent's TLS options written out by hand: a plain undici Pool dialing 127.0.0.1 with SNI godoxy.agent. */
function barePool(port: number, tls: TlsMaterial): Pool {
  return new Pool(`https://127.0.0.1:${port}`, {
    connections: 100,
    connect: {
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      servername: AGENT_HOST,
      minVersion: "TLSv1.2",
      rejectUnauthorized: true,
    },
  });
}

export async function run(options: BenchOptions): Promise<MeasureResult> {
  const rounds = options.quick ? 3 : 18;
  const modes = [
    { id: "sequential", label: "sequential", inFlight: 1, count: options.quick ? 200 : 800 },
    { id: "inflight32", label: "32 in flight", inFlight: 32, count: options.quick ? 500 : 2_000 },
  ];
  const server = await startRemoteTestAgent();
  const agent = new Agent({ addr: server.addr, tls: server.tls });
  const bare = barePool(server.port, server.tls);
  const control = barePool(server.port, server.tls);
  const figures: Figure[] = [];
  try {
    const clients: Dispatcher[] = [agent.httpClient(), bare, control];
    for (const mode of modes) {
      // Warm-up opens the connections (the handshakes are not part of the figure).
      for (const client of clients) await drive(client, Math.min(mode.count, 300), mode.inFlight);
      const rates: number[][] = [[], [], []];
      const cpu: number[][] = [[], [], []];
      const ratios: number[] = [];
      const controlRatios: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const got: number[] = [0, 0, 0];
        for (const c of ORDERS[r % ORDERS.length] as readonly number[]) {
          const outcome = await drive(clients[c] as Dispatcher, mode.count, mode.inFlight);
          got[c] = outcome.rate;
          rates[c]?.push(outcome.rate);
          cpu[c]?.push(outcome.cpuUsPerRequest);
        }
        ratios.push((got[0] as number) / (got[1] as number));
        controlRatios.push((got[2] as number) / (got[1] as number));
      }
      const [agentRates, bareRates, controlRates] = rates as [number[], number[], number[]];
      const [agentCpu, bareCpu, controlCpu] = cpu as [number[], number[], number[]];
      const best = (xs: number[]) => Math.max(...xs);
      const ratio = median(ratios);
      const controlRatio = median(controlRatios);
      const range = (xs: number[]) => `${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)}`;
      figures.push(
        {
          id: `throughput.${mode.id}.agent`,
          label: `agent dispatcher, ${mode.label}`,
          value: median(agentRates),
          unit: "req/s",
          display: `${formatRate(median(agentRates))} req/s`,
          detail: `median of ${rounds} rounds × ${fmtInt(mode.count)} requests; client CPU ${median(agentCpu).toFixed(0)} µs per request`,
          target: null,
          pass: null,
          data: { rounds: agentRates, cpuUsPerRequest: agentCpu },
        },
        {
          id: `throughput.${mode.id}.bare`,
          label: `bare undici Pool, ${mode.label}`,
          value: median(bareRates),
          unit: "req/s",
          display: `${formatRate(median(bareRates))} req/s`,
          detail: `median of ${rounds} rounds × ${fmtInt(mode.count)} requests; client CPU ${median(bareCpu).toFixed(0)} µs per request`,
          target: null,
          pass: null,
          data: { rounds: bareRates, cpuUsPerRequest: bareCpu },
        },
        {
          id: `throughput.${mode.id}.ratio`,
          label: `agent ÷ bare, ${mode.label}`,
          value: ratio,
          unit: "ratio",
          display: ratio.toFixed(3),
          detail:
            `median of per-round ratios, range ${range(ratios)}; best round ÷ best round ${(best(agentRates) / best(bareRates)).toFixed(3)}; ` +
            `A/A control (a second bare Pool ÷ bare): ${controlRatio.toFixed(3)}, range ${range(controlRatios)}, best ÷ best ${(best(controlRates) / best(bareRates)).toFixed(3)}, ` +
            `client CPU ${median(controlCpu).toFixed(0)} µs per request`,
          target: `≥ ${TARGET_RATIO}`,
          pass: ratio >= TARGET_RATIO,
          data: { rounds: ratios, control: controlRatios },
        },
      );
    }
  } finally {
    await agent.close();
    await bare.close();
    await control.close();
    await server.close();
  }

  return {
    key: "throughput",
    title: "5. Request throughput",
    how:
      "One real mTLS test agent (startTestAgent, a Node HTTPS server requiring a client " +
      "certificate) runs in a child process on 127.0.0.1, so the server does not share the " +
      "clients' event loop. Client A is an Agent's dispatcher (agent.httpClient()); client B a bare " +
      "undici Pool made by hand with the same TLS options (CA, client cert and key, servername " +
      "godoxy.agent, TLS ≥ 1.2, 100 connections); client C a second, identical bare Pool, as an A/A " +
      "control that shows how much two identical clients differ in this run. Each sends GET /_ping " +
      "with dispatcher.request() and reads every body to the end, one at a time or 32 in flight. " +
      "After a warm-up that opens the connections, each round runs the three clients one after " +
      "the other, in an order that rotates from round to round, so drift and position weigh on all " +
      "alike; the ratio is the median of the per-round ratios A ÷ B (and C ÷ B for the control). " +
      "Beside each rate, the client process's CPU time per request (process.cpuUsage()), and beside " +
      "the ratio the ratio of the best rounds (noise from other load only slows a round down) " +
      "and the A/A control: a gap between A and B smaller than the control's spread is noise.",
    figures,
    notes: [],
  };
}
