import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../../log.js";
import type { PoolSnapshot } from "../../pool/snapshot.js";
import { snapshotView } from "./views.js";

/** One Server-Sent Events frame; `id` is set on snapshot frames (the snapshot version). */
export function sseFrame(event: string, data: unknown, id?: number): string {
  const head = id === undefined ? "" : `id: ${id}\n`;
  // JSON.stringify escapes newlines, so the data always fits on one `data:` line.
  return `${head}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** How long a browser waits before it reconnects a dropped `/events` stream. */
const RETRY_MS = 3_000;

/** Options of {@link EventStream}; resolved by the status server. */
export interface EventStreamOptions {
  readonly heartbeatMs: number;
  /** A client with more than this many bytes waiting to be sent is dropped. */
  readonly maxClientBufferBytes: number;
  readonly log: Logger;
  /** Told the number of clients each time it changes (for the metrics gauge). */
  readonly onClientCount: (count: number) => void;
}

interface EventsClient {
  readonly res: ServerResponse;
  readonly remote: string;
}

/**
 * The `/events` stream: its clients, the frames sent to all of them, the
 * heartbeat, and the bound on what a slow client may leave unread.
 */
export class EventStream {
  readonly #clients = new Set<EventsClient>();
  readonly #frames = new WeakMap<PoolSnapshot, string>();
  readonly #options: EventStreamOptions;
  readonly #heartbeat: NodeJS.Timeout;
  #closed = false;

  constructor(options: EventStreamOptions) {
    this.#options = options;
    this.#heartbeat = setInterval(() => {
      for (const client of this.#clients) this.#write(client, ": heartbeat\n\n");
    }, options.heartbeatMs);
    this.#heartbeat.unref();
  }

  /** The snapshot's frame, built once however many clients it goes to. */
  snapshotFrame(snapshot: PoolSnapshot): string {
    let frame = this.#frames.get(snapshot);
    if (frame === undefined) {
      frame = sseFrame("snapshot", snapshotView(snapshot), snapshot.version);
      this.#frames.set(snapshot, frame);
    }
    return frame;
  }

  /** Sends a frame to every client; `frame` is only built when somebody listens. */
  broadcast(frame: () => string): void {
    if (this.#clients.size === 0) return;
    const text = frame();
    for (const client of this.#clients) this.#write(client, text);
  }

  /** Answers `GET /events` (and HEAD): the stream starts with `current`'s snapshot. */
  open(req: IncomingMessage, res: ServerResponse, current: PoolSnapshot): void {
    // A stream opened during shutdown would never be ended.
    if (this.#closed) {
      res.writeHead(503, { "content-type": "text/plain; charset=utf-8" }).end("shutting down\n");
      return;
    }
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
      // Reverse proxies must pass events on as they come.
      "x-accel-buffering": "no",
    });
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    const client: EventsClient = {
      res,
      remote: `${req.socket.remoteAddress ?? "unix"}:${req.socket.remotePort ?? ""}`,
    };
    this.#clients.add(client);
    this.#counted();
    res.on("close", () => {
      if (this.#clients.delete(client)) this.#counted();
    });
    this.#write(client, `retry: ${RETRY_MS}\n\n${this.snapshotFrame(current)}`);
  }

  /** Ends every stream and the heartbeat; later `open` calls answer 503. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    for (const client of this.#clients) client.res.end();
    this.#clients.clear();
    this.#counted();
  }

  #counted(): void {
    this.#options.onClientCount(this.#clients.size);
  }

  #drop(client: EventsClient, reason: string): void {
    if (!this.#clients.delete(client)) return;
    this.#counted();
    this.#options.log.warn(
      { remote: client.remote, buffered: client.res.writableLength },
      `dropping /events client: ${reason}`,
    );
    client.res.destroy();
  }

  // Writes never wait: a client that does not read piles up in its own buffer
  // until the bound, then it is cut off. Nobody else notices. The bound is on
  // what is still unsent from earlier writes, so one snapshot larger than the
  // bound still reaches a client that keeps up; memory per client stays below
  // the bound plus one frame.
  #write(client: EventsClient, frame: string): void {
    if (client.res.destroyed || client.res.writableEnded) {
      if (this.#clients.delete(client)) this.#counted();
      return;
    }
    const bound = this.#options.maxClientBufferBytes;
    if (client.res.writableLength > bound) {
      this.#drop(client, `more than ${bound} bytes unread`);
      return;
    }
    client.res.write(frame);
  }
}
