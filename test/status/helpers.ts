import { type IncomingHttpHeaders, request } from "node:http";
import { ConfigError } from "../../src/config/errors.js";
import type { ReloadFailure, ReloadSuccess } from "../../src/reload/result.js";

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A plain HTTP request to a status server address (`host:port`, `[v6]:port` or a socket path). */
export function httpGet(address: string, path: string, method = "GET"): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ ...target(address), path, method, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

export function target(address: string): { socketPath: string } | { host: string; port: number } {
  if (address.includes("/")) return { socketPath: address };
  const i = address.lastIndexOf(":");
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ""), port: Number(address.slice(i + 1)) };
}

export async function getJson<T = unknown>(address: string, path: string): Promise<T> {
  const answer = await httpGet(address, path);
  if (answer.status !== 200) throw new Error(`GET ${path}: HTTP ${answer.status} ${answer.body}`);
  return JSON.parse(answer.body) as T;
}

export function okResult(fields: Partial<ReloadSuccess> = {}): ReloadSuccess {
  return {
    ok: true,
    version: 1,
    durationMs: 3,
    added: [],
    removed: [],
    changed: [],
    agents: 0,
    warnings: [],
    cause: "file",
    at: new Date().toISOString(),
    timings: { waitMs: 0, prepareMs: 2, swapMs: 1 },
    ...fields,
  };
}

export const LOCATED_ERROR = 'config.yml:7:9: providers.agents[1].addr: "foo" is not host:port';

export function failedResult(fields: Partial<ReloadFailure> = {}): ReloadFailure {
  const error = new ConfigError("ERR_CONFIG_INVALID", [
    {
      file: "config.yml",
      line: 7,
      col: 9,
      path: "providers.agents[1].addr",
      message: '"foo" is not host:port',
    },
  ]);
  return {
    ok: false,
    error,
    durationMs: 2,
    cause: "file",
    at: new Date().toISOString(),
    timings: { waitMs: 0, prepareMs: 2 },
    ...fields,
  };
}

export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/** A real `/events` client: parses the stream as an EventSource would. */
export interface SseClient {
  readonly events: SseEvent[];
  readonly comments: string[];
  /** Resolves when the server ends the stream or the connection drops. */
  readonly ended: Promise<void>;
  readonly headers: IncomingHttpHeaders;
  close(): void;
}

export function openEvents(address: string): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const events: SseEvent[] = [];
    const comments: string[] = [];
    let buffer = "";
    let endedResolve: () => void = () => {};
    const ended = new Promise<void>((r) => {
      endedResolve = r;
    });
    const req = request(
      {
        ...target(address),
        path: "/events",
        agent: false,
        headers: { accept: "text/event-stream" },
      },
      (res) => {
        res.setEncoding("utf8");
        // Where to resume looking for the end of an event: large events arrive in many chunks.
        let scanFrom = 0;
        res.on("data", (chunk: string) => {
          buffer += chunk;
          for (let end = buffer.indexOf("\n\n", scanFrom); end >= 0; end = buffer.indexOf("\n\n")) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            scanFrom = 0;
            const event: SseEvent = { event: "message", data: "" };
            const data: string[] = [];
            let hasField = false;
            for (const line of block.split("\n")) {
              if (line.startsWith(":")) {
                comments.push(line.slice(1).trim());
                continue;
              }
              const colon = line.indexOf(":");
              const field = colon < 0 ? line : line.slice(0, colon);
              const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
              if (field === "data") data.push(value);
              else if (field === "event") event.event = value;
              else if (field === "id") event.id = value;
              else continue;
              hasField = true;
            }
            if (hasField && data.length > 0) {
              event.data = data.join("\n");
              events.push(event);
            }
          }
          scanFrom = Math.max(0, buffer.length - 1);
        });
        res.on("end", endedResolve);
        res.on("close", endedResolve);
        res.on("error", endedResolve);
        resolve({ events, comments, ended, headers: res.headers, close: () => req.destroy() });
      },
    );
    req.on("error", (err) => {
      endedResolve();
      reject(err);
    });
    req.end();
  });
}

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromFamily {
  name: string;
  help: string;
  type: string;
  samples: PromSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** As Prometheus reads values (Go's ParseFloat): NaN and Inf in any letter case. */
function parseValue(text: string, line: string): number {
  if (/^\+?inf(inity)?$/i.test(text)) return Number.POSITIVE_INFINITY;
  if (/^-inf(inity)?$/i.test(text)) return Number.NEGATIVE_INFINITY;
  if (/^nan$/i.test(text)) return Number.NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text))
    throw new Error(`bad sample value in: ${line}`);
  return Number(text);
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf("=", i);
    if (eq < 0) throw new Error(`bad labels in: ${line}`);
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new Error(`bad label name ${name} in: ${line}`);
    if (name in labels) throw new Error(`duplicate label ${name} in: ${line}`);
    if (text[eq + 1] !== '"') throw new Error(`unquoted label value in: ${line}`);
    let value = "";
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === "\\") {
        const next = text[++j];
        if (next === "n") value += "\n";
        else if (next === "\\" || next === '"') value += next;
        else throw new Error(`bad escape in: ${line}`);
      } else value += text[j];
    }
    if (text[j] !== '"') throw new Error(`unterminated label value in: ${line}`);
    labels[name] = value;
    i = j + 1;
    if (text[i] === ",") i++;
    else if (i < text.length) throw new Error(`expected , between labels in: ${line}`);
  }
  return labels;
}

function familyOf(sample: string, families: Map<string, PromFamily>): PromFamily | undefined {
  const exact = families.get(sample);
  if (exact) return exact;
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (!sample.endsWith(suffix)) continue;
    const family = families.get(sample.slice(0, -suffix.length));
    if (family && (family.type === "histogram" || family.type === "summary")) return family;
  }
  return undefined;
}

/**
 * A strict parser of the Prometheus text format (0.0.4): every sample belongs
 * to a family declared with HELP and TYPE before it, names and labels are
 * valid, no series repeats, histograms are cumulative and end in `le="+Inf"`
 * equal to `_count`. Throws on the first violation.
 */
export function parsePrometheusText(text: string): Map<string, PromFamily> {
  if (!text.endsWith("\n")) throw new Error("exposition must end with a newline");
  const families = new Map<string, PromFamily>();
  const seen = new Set<string>();
  const closed = new Set<string>();
  let current: PromFamily | undefined;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name = "", rest = ""] = meta;
      if (!METRIC_NAME.test(name)) throw new Error(`bad metric name: ${line}`);
      let family = families.get(name);
      if (!family) {
        if (current) closed.add(current.name);
        family = { name, help: "", type: "", samples: [] };
        families.set(name, family);
      } else if (closed.has(name) || family.samples.length > 0) {
        throw new Error(`metadata for ${name} after its samples or split family: ${line}`);
      }
      current = family;
      if (kind === "HELP") {
        if (family.help) throw new Error(`second HELP for ${name}`);
        if (!rest.trim()) throw new Error(`empty HELP for ${name}`);
        family.help = rest;
      } else {
        if (family.type) throw new Error(`second TYPE for ${name}`);
        if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(rest))
          throw new Error(`bad TYPE: ${line}`);
        family.type = rest;
      }
      continue;
    }
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
    if (!m) throw new Error(`bad sample line: ${line}`);
    const [, name = "", labelText = "", valueText = ""] = m;
    const family = familyOf(name, families);
    if (!family) throw new Error(`sample without HELP/TYPE: ${line}`);
    if (family !== current) throw new Error(`sample of ${family.name} outside its family: ${line}`);
    if (!family.help || !family.type) throw new Error(`${family.name} lacks HELP or TYPE`);
    const labels = parseLabels(labelText, line);
    const key = `${name}{${Object.entries(labels)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(",")}}`;
    if (seen.has(key)) throw new Error(`duplicate series ${key}`);
    seen.add(key);
    const value = parseValue(valueText, line);
    if (family.type === "counter" && !(value >= 0)) throw new Error(`negative counter: ${line}`);
    family.samples.push({ name, labels, value });
  }
  for (const family of families.values()) {
    if (!family.help || !family.type) throw new Error(`${family.name} lacks HELP or TYPE`);
    if (family.type === "histogram") checkHistogram(family);
  }
  return families;
}

function checkHistogram(family: PromFamily): void {
  const groups = new Map<string, PromSample[]>();
  for (const sample of family.samples) {
    const { le: _le, ...rest } = sample.labels;
    const key = JSON.stringify(rest);
    groups.set(key, [...(groups.get(key) ?? []), sample]);
  }
  for (const samples of groups.values()) {
    const buckets = samples.filter((s) => s.name === `${family.name}_bucket`);
    const count = samples.find((s) => s.name === `${family.name}_count`);
    if (!count || !samples.some((s) => s.name === `${family.name}_sum`))
      throw new Error(`${family.name} lacks _sum or _count`);
    let previousLe = Number.NEGATIVE_INFINITY;
    let previousValue = 0;
    for (const bucket of buckets) {
      const le = bucket.labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(bucket.labels.le);
      if (!(le > previousLe)) throw new Error(`${family.name} buckets not in increasing le`);
      if (bucket.value < previousValue) throw new Error(`${family.name} buckets not cumulative`);
      previousLe = le;
      previousValue = bucket.value;
    }
    if (previousLe !== Number.POSITIVE_INFINITY) throw new Error(`${family.name} lacks le="+Inf"`);
    if (previousValue !== count.value) throw new Error(`${family.name} +Inf bucket != _count`);
  }
}

/** The value of one series, or undefined when absent. */
export function sampleValue(
  families: Map<string, PromFamily>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const family of families.values()) {
    for (const sample of family.samples) {
      if (sample.name !== name) continue;
      if (Object.entries(labels).every(([k, v]) => sample.labels[k] === v)) return sample.value;
    }
  }
  return undefined;
}
