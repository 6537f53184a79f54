import { describe, expect, it } from "vitest";
import { Agent, OptionError, watchConfig } from "../src/index.js";
import { check, resolveOptions } from "../src/options.js";
import { AgentPool } from "../src/pool/pool.js";
import { createTestPki } from "../src/testing/index.js";

describe("options", () => {
  it("drops undefined, falls back to the frozen defaults, and freezes the result", () => {
    const defaults = Object.freeze({ timeoutMs: 5_000, retries: 3 });
    const resolved = resolveOptions<{ timeoutMs?: number; retries?: number }, typeof defaults>(
      { timeoutMs: undefined, retries: 1 },
      defaults,
      { timeoutMs: check.positiveMs, retries: check.positiveInteger },
    );
    expect(resolved).toEqual({ timeoutMs: 5_000, retries: 1 });
    expect(Object.isFrozen(resolved)).toBe(true);
  });

  it("refuses an invalid option with one sentence and a stable code, from every entry point", async () => {
    const pki = await createTestPki();
    const attempts: [string, () => unknown][] = [
      [
        "connections",
        () => new Agent({ addr: "127.0.0.1:1", tls: pki.clientTls }, { connections: 0 }),
      ],
      ["debounceMs", () => watchConfig(new AgentPool(), { configPath: "x.yml", debounceMs: -1 })],
      ["configPath", () => watchConfig(new AgentPool(), { configPath: "" })],
      // Past Node's timer limit a period would fire every 1 ms.
      [
        "resyncMs",
        () => watchConfig(new AgentPool(), { configPath: "x.yml", resyncMs: 3_000_000_000 }),
      ],
    ];
    for (const [option, attempt] of attempts) {
      let thrown: unknown;
      try {
        attempt();
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(OptionError);
      expect(thrown).toBeInstanceOf(TypeError);
      expect((thrown as OptionError).code).toBe("ERR_INVALID_OPTION");
      expect((thrown as OptionError).option).toBe(option);
      expect((thrown as Error).message).toMatch(new RegExp(`^${option} [^\\n]+\\.$`));
    }
    expect(() =>
      watchConfig(new AgentPool(), { configPath: "x.yml", resyncMs: 3_000_000_000 }),
    ).toThrow("resyncMs must be at most 2147483647 milliseconds (about 24 days).");
    // The README quotes this one.
    expect(
      () => new Agent({ addr: "127.0.0.1:1", tls: pki.clientTls }, { connections: 0 }),
    ).toThrow("connections must be a positive integer.");
  });
});
