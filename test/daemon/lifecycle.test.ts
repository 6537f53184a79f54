import { config as rxjsConfig } from "rxjs";
import { describe, expect, it } from "vitest";
import { DaemonLifecycle } from "../../src/daemon/lifecycle.js";
import { createNotifier } from "../../src/daemon/notify.js";
import { installProcessHooks } from "../../src/daemon/process-hooks.js";
import { captureLogger } from "../support/logs.js";

const HOOKED = [
  "SIGHUP",
  "SIGTERM",
  "SIGINT",
  "uncaughtException",
  "unhandledRejection",
  "exit",
] as const;
const counts = () => HOOKED.map((event) => process.listenerCount(event));

describe("daemon lifecycle", () => {
  it("keeps the first stop reason and resolves stopRequested with it", async () => {
    const life = new DaemonLifecycle();
    expect(life.phase).toBe("starting");
    life.requestStop({ signal: "SIGTERM", code: 0 });
    life.requestStop({ code: 70 });
    expect(await life.stopRequested).toEqual({ signal: "SIGTERM", code: 0 });
    expect(life.stopReason).toEqual({ signal: "SIGTERM", code: 0 });
  });

  it("hands a reload asked for during start-up over once, when it runs", () => {
    const life = new DaemonLifecycle();
    life.deferReload();
    expect(life.markRunning()).toBe(true);
    expect(life.phase).toBe("running");
    expect(life.markRunning()).toBe(false);
    life.markStopping();
    expect(life.phase).toBe("stopping");
  });

  it("installs every process-wide hook and its one disposer removes them all", () => {
    const { logger, lines } = captureLogger();
    const notifier = createNotifier(logger, {});
    const before = counts();
    const previous = rxjsConfig.onUnhandledError;
    const seen: string[] = [];
    const remove = installProcessHooks(logger, notifier, {
      reload: () => seen.push("reload"),
      stop: (signal) => seen.push(signal),
    });
    expect(counts()).toEqual(before.map((n) => n + 1));
    expect(rxjsConfig.onUnhandledError).not.toBe(previous);
    process.emit("SIGHUP", "SIGHUP");
    process.emit("SIGTERM", "SIGTERM");
    rxjsConfig.onUnhandledError?.(new Error("subscriber bug"));
    expect(seen).toEqual(["reload", "SIGTERM"]);
    expect(lines().some((l) => l.msg === "a snapshot subscriber threw")).toBe(true);
    remove();
    remove();
    expect(counts()).toEqual(before);
    expect(rxjsConfig.onUnhandledError).toBe(previous);
    notifier.close();
  });
});
