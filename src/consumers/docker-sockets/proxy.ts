import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:http";
import type { Duplex } from "node:stream";
import type { Dispatcher } from "undici";
import type { Agent } from "../../agent/agent.js";
import { HOP_BY_HOP_HEADERS } from "../../hop-by-hop.js";
import type { Logger } from "../../log.js";

/** What one socket's proxy forwards to, and what it counts. Mutated by the socket set. */
export interface ProxyTarget {
  /** Requests go to the agent in the current snapshot; a TLS rotation swaps it. */
  agent: Agent;
  /** Requests received (upgrades included). */
  requests: number;
  /** Requests whose answer is still being sent, and upgraded streams still open. */
  openStreams: number;
  /** Upgraded client sockets, to cut on close. */
  readonly upgraded: Set<Duplex>;
  readonly log: Logger;
}

/** Headers not passed on: the hop-by-hop ones, and those undici sets itself. */
const HOP_BY_HOP = new Set([...HOP_BY_HOP_HEADERS, "expect", "host"]);

/** `/_ping`, with or without an API version prefix. */
const PING_PATH = /^(?:\/v\d+(?:\.\d+)*)?\/_ping(?:\?|$)/;

/** An upgrade refused upstream is a small error answer; more than this is cut. */
const MAX_REFUSAL_BYTES = 1024 * 1024;

function headerPairs(raw: readonly (Buffer | string)[] | null | undefined): [string, string][] {
  const pairs: [string, string][] = [];
  if (!raw) return pairs;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    pairs.push([String(raw[i]), String(raw[i + 1])]);
  }
  return pairs;
}

/** Drops hop-by-hop headers, also those a `Connection` header names. */
function endToEnd(pairs: [string, string][], keep: ReadonlySet<string> = new Set()): string[] {
  const named = new Set<string>();
  for (const [key, value] of pairs) {
    if (key.toLowerCase() === "connection") {
      for (const token of value.split(",")) named.add(token.trim().toLowerCase());
    }
  }
  const out: string[] = [];
  for (const [key, value] of pairs) {
    const lower = key.toLowerCase();
    if (keep.has(lower) || (!HOP_BY_HOP.has(lower) && !named.has(lower))) out.push(key, value);
  }
  return out;
}

function dockerError(res: ServerResponse, status: number, message: string): void {
  const body = `${JSON.stringify({ message })}\n`;
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

function reason(target: ProxyTarget, err: unknown): string {
  const detail = err instanceof Error ? err.message : String(err);
  return `agentpool: agent "${target.agent.name}" (${target.agent.addr}): ${detail}`;
}

/**
 * Forwards one plain request. Bodies stream both ways chunk by chunk with
 * backpressure; a client that goes away aborts the upstream request, so
 * `logs -f` or `events` stop on the agent too.
 */
function forward(target: ProxyTarget, req: IncomingMessage, res: ServerResponse): void {
  // Long on purpose: one request's whole life (both bodies, the counters, every
  // way it can end) in one closure, so each end is counted exactly once.
  const agent = target.agent;
  target.requests++;
  target.openStreams++;
  target.log.debug({ method: req.method, path: req.url }, "docker request");
  let finished = false;
  let gone = false;
  let controller: Dispatcher.DispatchController | undefined;
  const finish = () => {
    if (finished) return;
    finished = true;
    target.openStreams--;
  };
  res.on("close", () => {
    if (!res.writableFinished) {
      gone = true;
      controller?.abort(new Error("the docker client went away"));
    }
    finish();
  });

  const pingHead = req.method === "HEAD" && PING_PATH.test(req.url ?? "");
  const length = req.headers["content-length"];
  const hasBody =
    req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart(ctl) {
      controller = ctl;
      if (gone) ctl.abort(new Error("the docker client went away"));
    },
    onResponseStart(ctl, statusCode, _headers, statusMessage) {
      if (statusCode < 200) return;
      const headers = endToEnd(headerPairs(ctl.rawHeaders as Buffer[] | null));
      res.writeHead(statusCode, statusMessage ?? "", headers);
      // A HEAD answer is complete with its headers: the client may send its next request
      // at once, so they wait until the agent's answer (a GET's body, for /_ping) has
      // ended and its connection is free again.
      if (req.method === "HEAD") return;
      // Long polls (`containers/{id}/wait`) and quiet streams send headers long before a body.
      res.flushHeaders();
    },
    onResponseData(ctl, chunk) {
      if (req.method === "HEAD") return;
      if (!res.write(chunk)) {
        ctl.pause();
        res.once("drain", () => ctl.resume());
      }
    },
    onResponseEnd() {
      res.end();
    },
    onResponseError(_ctl, err) {
      if (gone) return;
      target.log.warn(
        { err: String(err), method: req.method, path: req.url },
        "docker request failed",
      );
      if (!res.headersSent) dockerError(res, 502, reason(target, err));
      else res.destroy();
    },
  };
  agent.httpClient().dispatch(
    {
      path: req.url ?? "/",
      method: (pingHead ? "GET" : (req.method ?? "GET")) as Dispatcher.HttpMethod,
      headers: endToEnd(headerPairs(req.rawHeaders)),
      body: hasBody ? req : null,
      // undici closes the connection after every HEAD (https://github.com/nodejs/undici/issues/258);
      // `reset: false` keeps it (nodejs/undici#1858), but only when the answer has a length
      // or says `Connection: keep-alive`, which Go's server does not for a HEAD whose handler
      // wrote nothing. The docker CLI starts every command with `HEAD /_ping`, so that one
      // goes upstream as a GET (two bytes, `OK`, with the same headers) and its body is
      // dropped here: one TLS connection serves command after command.
      ...(req.method === "HEAD" ? { reset: false } : {}),
      // Streams (`events`, `logs -f`) can be quiet for hours; the client decides when to stop.
      headersTimeout: 0,
      bodyTimeout: 0,
    },
    handler,
  );
}

/** Reads a `Content-Length` body that Node's parser left in `head` (and maybe still on the socket). */
function readBody(
  socket: Duplex,
  head: Buffer,
  length: number,
): Promise<{ body: Buffer; rest: Buffer }> {
  if (head.length >= length) {
    return Promise.resolve({ body: head.subarray(0, length), rest: head.subarray(length) });
  }
  return new Promise((resolve, reject) => {
    let buffered = head;
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < length) return;
      cleanup();
      socket.pause();
      resolve({ body: buffered.subarray(0, length), rest: buffered.subarray(length) });
    };
    const onEnd = () => {
      cleanup();
      reject(new Error("the client closed before sending the request body"));
    };
    const cleanup = () => {
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("close", onEnd);
    };
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("close", onEnd);
  });
}

function rawAnswer(status: number, message: string, headers: string[], body: Buffer): string {
  let text = `HTTP/1.1 ${status} ${message}\r\n`;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const key = headers[i] as string;
    if (/^content-length$/i.test(key)) continue;
    text += `${key}: ${headers[i + 1]}\r\n`;
  }
  return `${text}Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
}

/**
 * Forwards an HTTP upgrade (`docker exec`, `attach`, `run` without `-d`).
 *
 * A 101 from the agent splices the two sockets. Output flows until the agent
 * ends it. The client's half-close (`docker exec -i` once its stdin is
 * exhausted) is NOT passed on: GoDoxy's agent is Go's `httputil.ReverseProxy`,
 * which tears down both directions as soon as either ends, and the output
 * still on its way would be lost. The agent's side stays open until the
 * agent ends it or the client closes completely.
 *
 * Any other answer (a 404 for an unknown exec id) reaches the client as that
 * HTTP answer.
 */
async function forwardUpgrade(
  target: ProxyTarget,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): Promise<void> {
  // Long on purpose: as `forward`, one upgraded stream's whole life in one
  // closure, so each of its ends is counted and cleaned up exactly once.
  const agent = target.agent;
  target.requests++;
  target.openStreams++;
  target.upgraded.add(socket);
  target.log.debug({ method: req.method, path: req.url }, "docker upgrade request");
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    target.openStreams--;
    target.upgraded.delete(socket);
  };
  let controller: Dispatcher.DispatchController | undefined;
  let upstream: Duplex | undefined;
  socket.on("error", () => {});
  socket.on("close", () => {
    if (!upstream) controller?.abort(new Error("the docker client went away"));
    upstream?.destroy();
    finish();
  });

  const refuse = (status: number, message: string) => {
    const body = Buffer.from(`${JSON.stringify({ message })}\n`);
    const text = status === 502 ? "Bad Gateway" : "Bad Request";
    const headers = ["Content-Type", "application/json"];
    socket.end(Buffer.concat([Buffer.from(rawAnswer(status, text, headers, body)), body]));
  };
  if (req.headers["transfer-encoding"] !== undefined) {
    refuse(400, "agentpool: an upgrade request with a chunked body is not supported");
    return;
  }
  const length = Number(req.headers["content-length"] ?? 0);
  if (!Number.isSafeInteger(length) || length < 0 || length > MAX_REFUSAL_BYTES) {
    refuse(400, "agentpool: invalid Content-Length on an upgrade request");
    return;
  }
  let body: Buffer;
  let rest: Buffer;
  try {
    ({ body, rest } = await readBody(socket, head, length));
  } catch {
    socket.destroy();
    return;
  }

  const refusal: Buffer[] = [];
  let refusalBytes = 0;
  let answer: { status: number; message: string; headers: string[] } | undefined;
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart(ctl) {
      controller = ctl;
      if (socket.destroyed) ctl.abort(new Error("the docker client went away"));
    },
    onRequestUpgrade(ctl, statusCode, _headers, up) {
      upstream = up;
      const headers = headerPairs(ctl.rawHeaders as Buffer[] | null);
      let text = `HTTP/1.1 ${statusCode} Switching Protocols\r\n`;
      for (const [key, value] of headers) text += `${key}: ${value}\r\n`;
      socket.write(`${text}\r\n`);
      if (socket.destroyed) {
        up.destroy();
        return;
      }
      if (rest.length > 0) up.write(rest);
      up.on("error", () => socket.destroy());
      up.on("close", () => {
        if (!socket.writableEnded) socket.end();
      });
      up.pipe(socket);
      // `end: false`: see above, the client's half-close stays here.
      socket.pipe(up, { end: false });
      socket.resume();
    },
    onResponseStart(ctl, statusCode, _headers, statusMessage) {
      if (statusCode < 200) return;
      const headers = endToEnd(headerPairs(ctl.rawHeaders as Buffer[] | null));
      answer = { status: statusCode, message: statusMessage ?? "", headers };
    },
    onResponseData(_ctl, chunk) {
      if (refusalBytes + chunk.length > MAX_REFUSAL_BYTES) return;
      refusal.push(chunk);
      refusalBytes += chunk.length;
    },
    onResponseEnd() {
      const body = Buffer.concat(refusal);
      const { status, message, headers } = answer ?? { status: 502, message: "", headers: [] };
      socket.end(Buffer.concat([Buffer.from(rawAnswer(status, message, headers, body)), body]));
    },
    onResponseError(_ctl, err) {
      if (socket.destroyed) return;
      target.log.warn(
        { err: String(err), method: req.method, path: req.url },
        "docker upgrade failed",
      );
      if (upstream) socket.destroy();
      else refuse(502, reason(target, err));
    },
  };
  agent.httpClient().dispatch(
    {
      path: req.url ?? "/",
      method: (req.method ?? "POST") as Dispatcher.HttpMethod,
      headers: endToEnd(headerPairs(req.rawHeaders)),
      body: length > 0 ? body : null,
      upgrade: req.headers.upgrade ?? "tcp",
      headersTimeout: 0,
      bodyTimeout: 0,
    },
    handler,
  );
}

/** The HTTP server behind one agent's socket. */
export function createProxyServer(target: ProxyTarget): Server {
  const server = createServer({ requestTimeout: 0 }, (req, res) => {
    try {
      forward(target, req, res);
    } catch (err) {
      target.log.warn(
        { err: String(err), method: req.method, path: req.url },
        "docker request failed",
      );
      if (!res.headersSent) dockerError(res, 502, reason(target, err));
    }
  });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    forwardUpgrade(target, req, socket, head).catch((err: unknown) => {
      target.log.warn({ err: String(err) }, "docker upgrade failed");
      socket.destroy();
    });
  });
  server.on("clientError", (_err, socket) => socket.destroy());
  return server;
}
