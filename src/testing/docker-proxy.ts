import { type IncomingMessage, request, type ServerResponse } from "node:http";
import { connect } from "node:net";
import type { Duplex } from "node:stream";
import { HOP_BY_HOP_HEADERS } from "../hop-by-hop.js";

function endToEnd(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = raw[i] as string;
    if (!HOP_BY_HOP_HEADERS.has(key.toLowerCase())) out.push(key, raw[i + 1] as string);
  }
  return out;
}

/**
 * What a GoDoxy agent does with every path outside `/godoxy/agent`: passes it
 * to the Docker Engine API on a unix socket, streaming both ways.
 */
export function proxyDockerRequest(
  socketPath: string,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const upstream = request({
    socketPath,
    method: req.method,
    path: req.url,
    headers: endToEnd(req.rawHeaders),
  });
  upstream.on("response", (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEnd(answer.rawHeaders));
    res.flushHeaders();
    answer.pipe(res);
  });
  upstream.on("error", (err) => {
    if (res.headersSent) res.destroy();
    else res.writeHead(502, { "content-type": "text/plain" }).end(String(err));
  });
  res.on("close", () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
}

/**
 * An upgrade as Go's `httputil.ReverseProxy` handles it: after the answer,
 * bytes are copied both ways, and when EITHER direction ends, both
 * connections are closed (a client's half-close loses the output still on
 * its way). The request, answer and everything after pass through unchanged.
 */
export function proxyDockerUpgrade(
  socketPath: string,
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
): void {
  const upstream = connect(socketPath);
  let text = `${req.method} ${req.url} HTTP/1.1\r\n`;
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    text += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
  }
  upstream.write(`${text}\r\n`);
  if (head.length > 0) upstream.write(head);
  const closeBoth = () => {
    upstream.destroy();
    client.destroy();
  };
  upstream.on("data", (chunk: Buffer) => client.write(chunk));
  client.on("data", (chunk: Buffer) => upstream.write(chunk));
  upstream.on("end", () => client.end(() => closeBoth()));
  client.on("end", closeBoth);
  upstream.on("error", closeBoth);
  client.on("error", closeBoth);
  client.on("close", closeBoth);
  upstream.on("close", () => {
    if (!client.writableEnded) client.end();
  });
}
