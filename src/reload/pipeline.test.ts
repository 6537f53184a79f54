import { from, lastValueFrom, mergeMap, toArray } from "rxjs";
import { TestScheduler } from "rxjs/testing";
import { expect, it } from "vitest";
import { ConfigError } from "../config/errors.js";
import type { PreparedConfig } from "../config/load.js";
import {
  type Candidate,
  coalesce,
  prepareCandidate,
  skipUnchanged,
  type Trigger,
} from "./pipeline.js";

const scheduler = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

it("coalesce: a burst becomes one trigger once the debounce passes, keeping its first event time", () => {
  scheduler().run(({ cold, expectObservable }) => {
    const t = (kind: Trigger["kind"], at: number): Trigger => ({ kind, at });
    const events = cold("a-b-c 20ms d", {
      a: t("file", 0),
      b: t("file", 2),
      c: t("forced", 4),
      d: t("file", 30),
    });
    expectObservable(events.pipe(coalesce(10))).toBe("14ms x 20ms y", {
      x: { kind: "forced", at: 0 },
      y: { kind: "file", at: 30 },
    });
  });
});

it("coalesce: a signal in a burst keeps its kind; a file event outranks a resync", () => {
  scheduler().run(({ cold, expectObservable }) => {
    const t = (kind: Trigger["kind"], at: number): Trigger => ({ kind, at });
    const events = cold("a-b 20ms c-d 20ms e", {
      a: t("resync", 0),
      b: t("signal", 2),
      c: t("resync", 25),
      d: t("file", 27),
      e: t("resync", 50),
    });
    expectObservable(events.pipe(coalesce(10))).toBe("12ms x 22ms y 20ms z", {
      x: { kind: "signal", at: 0 },
      y: { kind: "file", at: 25 },
      z: { kind: "resync", at: 50 },
    });
  });
});

const prepared = {} as PreparedConfig;
const ok = (digest: string, kind: Trigger["kind"] = "file"): Candidate => ({
  ok: true,
  trigger: { kind, at: 0 },
  started: 0,
  prepareMs: 0,
  digest,
  config: prepared,
});
const failed = (digest: string, message: string): Candidate => ({
  ok: false,
  trigger: { kind: "file", at: 0 },
  started: 0,
  prepareMs: 0,
  digest,
  error: new ConfigError("ERR_CONFIG_INVALID", [{ file: "c.yml", message }]),
});

async function kept(candidates: Candidate[]): Promise<string[]> {
  const out = await lastValueFrom(from(candidates).pipe(skipUnchanged(), toArray()));
  return out.map((c) => `${c.ok ? "ok" : "fail"}:${c.digest}`);
}

it("skipUnchanged drops a resync that found the same bytes, but never a SIGHUP", async () => {
  expect(await kept([ok("A"), ok("A", "resync"), ok("A", "signal"), ok("B", "resync")])).toEqual([
    "ok:A",
    "ok:A",
    "ok:B",
  ]);
});

it("skipUnchanged drops a repeat of the same bytes and outcome, but never a forced attempt", async () => {
  expect(
    await kept([ok("A"), ok("A"), ok("B"), ok("B", "forced"), failed("C", "x"), failed("C", "x")]),
  ).toEqual(["ok:A", "ok:B", "ok:B", "fail:C"]);
});

// Regression: a rejected candidate's digest is read after it failed, so it can
// already match the good file written meanwhile; that file was then dropped.
it("skipUnchanged keeps a good candidate whose digest equals the previous failure's", async () => {
  expect(await kept([failed("D", "key.pem missing"), ok("D")])).toEqual(["fail:D", "ok:D"]);
});

// Regression: a SIGHUP cut short by a file event with unchanged bytes was lost.
it("prepareCandidate hands the force of a cancelled forced attempt on to the trigger that replaced it", async () => {
  const { Subject } = await import("rxjs");
  const triggers = new Subject<Trigger>();
  const config = { inputs: new Map([["/c.yml", "h"]]) } as unknown as PreparedConfig;
  const prepare = () =>
    new Promise<PreparedConfig>((resolve) => setTimeout(() => resolve(config), 20));
  const seen: Candidate[] = [];
  triggers.pipe(prepareCandidate(prepare)).subscribe((c) => seen.push(c));
  triggers.next({ kind: "forced", at: 0 });
  await new Promise((r) => setTimeout(r, 5));
  triggers.next({ kind: "file", at: 1 });
  await new Promise((r) => setTimeout(r, 60));
  triggers.next({ kind: "file", at: 2 });
  await new Promise((r) => setTimeout(r, 60));
  expect(seen.map((c) => c.trigger.kind)).toEqual(["forced", "file"]);
});

// Regression: Math.min(...burst) overflowed the stack on a long burst.
it("coalesce survives a burst of 200,000 events", () => {
  scheduler().run(({ cold, expectObservable }) => {
    const burst: Trigger[] = Array.from({ length: 200_000 }, (_, i) => ({ kind: "file", at: i }));
    const events = cold("a").pipe(mergeMap(() => from(burst)));
    expectObservable(events.pipe(coalesce(10))).toBe("10ms x", { x: { kind: "file", at: 0 } });
  });
});
