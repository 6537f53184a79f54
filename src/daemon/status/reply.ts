import type { ServerResponse } from "node:http";

/** Answers with a whole body; status answers are never cached. */
export function send(
  res: ServerResponse,
  status: number,
  body: string,
  contentType: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    "content-type": contentType,
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    ...headers,
  });
  res.end(body);
}

/** Answers with indented JSON and a final newline. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers?: Record<string, string>,
): void {
  send(res, status, `${JSON.stringify(body, null, 2)}\n`, "application/json", headers);
}

/** Answers with one line of text. */
export function sendText(res: ServerResponse, status: number, body: string): void {
  send(res, status, `${body}\n`, "text/plain; charset=utf-8");
}
