import { rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";

/** A small Docker Engine API on a unix socket, for tests where no real engine can run. */
export interface DockerApiStub {
  readonly socketPath: string;
  /** `logs -f` and `events` streams open right now. */
  readonly openStreams: number;
  /** Streams that ended because the client went away. */
  readonly abandonedStreams: number;
  close(): Promise<void>;
}

const CONTAINER = {
  Id: "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00",
  Names: ["/web"],
  Image: "busybox:stub",
  ImageID: "sha256:0000",
  Command: "sh",
  Created: 1_700_000_000,
  State: "running",
  Status: "Up 2 hours",
  Ports: [],
  Labels: {},
  Mounts: [],
  NetworkSettings: { Networks: {} },
  HostConfig: { NetworkMode: "default" },
};

/** One frame of Docker's multiplexed stream: 1 = stdout, 2 = stderr. */
function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    "api-version": "1.43",
  });
  res.end(text);
}

/**
 * Starts the stub: `_ping`, `version`, `containers/json`, inspect, `logs`
 * (with `follow`), `events`, and `exec` (create, start over HTTP upgrade,
 * inspect), answering the way Docker does for the docker CLI.
 */
export async function startDockerApiStub(socketPath: string): Promise<DockerApiStub> {
  // Long on purpose: the stub's endpoints read best as one table next to the
  // state (execs, open streams) they answer from.
  let openStreams = 0;
  let abandonedStreams = 0;
  const execs = new Map<string, { tty: boolean; cmd: string[] }>();
  const sockets = new Set<Duplex>();

  const stream = (
    res: ServerResponse,
    contentType: string,
    next: (n: number) => Buffer | string,
  ) => {
    res.writeHead(200, { "content-type": contentType, "api-version": "1.43" });
    res.flushHeaders();
    openStreams++;
    let n = 0;
    res.write(next(n++));
    const timer = setInterval(() => res.write(next(n++)), 50);
    res.on("close", () => {
      clearInterval(timer);
      openStreams--;
      if (!res.writableFinished) abandonedStreams++;
    });
  };

  const route = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://docker");
    const path = url.pathname.replace(/^\/v\d+\.\d+/, "");
    const method = req.method ?? "GET";
    if (path === "/_ping") {
      // A HEAD answer without a length, as Go's server sends when the handler writes nothing.
      res.writeHead(200, {
        "content-type": "text/plain; charset=utf-8",
        ...(method === "HEAD" ? {} : { "content-length": 2 }),
        "api-version": "1.43",
        "cache-control": "no-cache, no-store, must-revalidate",
      });
      return res.end(method === "HEAD" ? undefined : "OK");
    }
    if (path === "/version") {
      return json(res, 200, {
        Version: "24.0.0-stub",
        ApiVersion: "1.43",
        MinAPIVersion: "1.12",
        Os: "linux",
        Arch: "amd64",
        GoVersion: "go1.20",
        GitCommit: "stub",
        KernelVersion: "6",
      });
    }
    if (path === "/containers/json") return json(res, 200, [CONTAINER]);
    const container = /^\/containers\/([^/]+)\/(json|logs|exec)$/.exec(path);
    if (container) {
      const [, id, what] = container as unknown as [string, string, string];
      if (id !== "web" && !CONTAINER.Id.startsWith(id))
        return json(res, 404, { message: `No such container: ${id}` });
      if (what === "json") {
        return json(res, 200, {
          Id: CONTAINER.Id,
          Created: "2023-11-14T22:13:20Z",
          Image: CONTAINER.ImageID,
          Name: "/web",
          State: { Status: "running", Running: true, Pid: 1 },
          Config: { Tty: false, Image: CONTAINER.Image, Cmd: ["sh"] },
        });
      }
      if (what === "logs") {
        if (url.searchParams.get("follow") !== "1" && url.searchParams.get("follow") !== "true") {
          const body = Buffer.concat([frame(1, "line 0\n"), frame(2, "warning 0\n")]);
          res.writeHead(200, { "content-type": "application/vnd.docker.multiplexed-stream" });
          return res.end(body);
        }
        return stream(res, "application/vnd.docker.multiplexed-stream", (n) =>
          frame(1, `line ${n}\n`),
        );
      }
      let body = "";
      req.setEncoding("utf8").on("data", (c: string) => {
        body += c;
      });
      req.on("end", () => {
        const spec = JSON.parse(body || "{}") as { Tty?: boolean; Cmd?: string[] };
        const execId = `exec${execs.size + 1}`;
        execs.set(execId, { tty: spec.Tty === true, cmd: spec.Cmd ?? [] });
        json(res, 201, { Id: execId });
      });
      return;
    }
    if (path === "/events") {
      return stream(
        res,
        "application/json",
        (n) =>
          `${JSON.stringify({ Type: "container", Action: "tick", Actor: { ID: CONTAINER.Id, Attributes: { name: `n${n}` } }, time: 1_700_000_000 + n, timeNano: (1_700_000_000 + n) * 1e9 })}\n`,
      );
    }
    const exec = /^\/exec\/([^/]+)\/(json|resize|start)$/.exec(path);
    if (exec) {
      const [, id, what] = exec as unknown as [string, string, string];
      if (!execs.has(id)) return json(res, 404, { message: `No such exec instance: ${id}` });
      if (what === "resize") return json(res, 200, {});
      if (what === "json")
        return json(res, 200, { ID: id, Running: false, ExitCode: 0, ProcessConfig: {} });
    }
    return json(res, 404, { message: `page not found: ${method} ${path}` });
  };

  const server = createServer(route);
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex) => {
    const path = new URL(req.url ?? "/", "http://docker").pathname.replace(/^\/v\d+\.\d+/, "");
    const id = /^\/exec\/([^/]+)\/start$/.exec(path)?.[1];
    const exec = id === undefined ? undefined : execs.get(id);
    if (!exec) {
      const body = JSON.stringify({ message: `No such exec instance: ${id ?? path}` });
      socket.end(
        `HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      return;
    }
    socket.write(
      "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
    );
    const out = `ran ${exec.cmd.join(" ")}\n`;
    socket.end(exec.tty ? out.replace(/\n/g, "\r\n") : frame(1, out));
  });
  await rm(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => resolve());
  });
  return {
    socketPath,
    get openStreams() {
      return openStreams;
    },
    get abandonedStreams() {
      return abandonedStreams;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
