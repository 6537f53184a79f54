import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { expect, it } from "vitest";
import { createNotifier } from "../../src/daemon/notify.js";
import { createLogger } from "../../src/log.js";
import { makeTempDir } from "../support/temp.js";
import { waitFor } from "../support/wait.js";

const require = createRequire(import.meta.url);
type DgramModule = {
  createSocket(
    type: "unix_dgram",
    listener: (msg: Buffer) => void,
  ): { bind(path: string): void; close(): void };
};
let unixDgram: DgramModule | undefined;
try {
  unixDgram = require("unix-dgram") as DgramModule;
} catch {
  unixDgram = undefined;
}
const hasTool = spawnSync("systemd-notify", ["--help"]).status === 0;

it.skipIf(!unixDgram || !hasTool)(
  "the systemd-notify fallback delivers messages in order",
  async () => {
    const { dir, cleanup } = await makeTempDir("agentpool-notify-");
    const socketPath = join(dir, "notify.sock");
    const messages: string[] = [];
    const socket = (unixDgram as DgramModule).createSocket("unix_dgram", (msg) =>
      messages.push(msg.toString()),
    );
    socket.bind(socketPath);
    try {
      const notifier = createNotifier(
        createLogger("silent"),
        { NOTIFY_SOCKET: socketPath },
        { useTool: true },
      );
      for (let i = 0; i < 5; i++) {
        notifier.reloading();
        notifier.ready(`round ${i}`);
      }
      const states = () => messages.filter((m) => /READY=1|RELOADING=1/.test(m));
      await waitFor("ten notifications", () => states().length === 10, 10_000);
      expect(
        states()
          .map((m) => (m.includes("RELOADING=1") ? "R" : "Y"))
          .join(""),
      ).toBe("RYRYRYRYRY");
      expect(states().at(-1)).toContain("STATUS=round 4");
      notifier.close();
    } finally {
      socket.close();
      await cleanup();
    }
  },
);

it("does nothing without NOTIFY_SOCKET", () => {
  const notifier = createNotifier(createLogger("silent"), {});
  expect(notifier.enabled).toBe(false);
  notifier.ready("x");
  notifier.close();
});
