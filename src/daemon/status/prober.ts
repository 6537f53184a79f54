import { type Observable, Subject, type Subscription } from "rxjs";
import type { Agent } from "../../agent/agent.js";
import type { AgentInfo } from "../../agent/protocol.js";
import type { Logger } from "../../log.js";
import { check, invalidOption, resolveOptions } from "../../options.js";
import type { AgentPool } from "../../pool/pool.js";
import type { PoolSnapshot } from "../../pool/snapshot.js";

/** What the prober knows about one agent of the pool. */
export interface InfoEntry {
  readonly addr: string;
  /** The agent's name in the pool. */
  readonly name: string;
  /** From the latest successful probe of this agent. */
  readonly info?: AgentInfo;
  /** The latest probe's error message (names the addr); absent once a probe succeeds. */
  readonly error?: string;
  /** The class of that error: the `AgentError` code (`ERR_AGENT_TLS`, `ERR_AGENT_TIMEOUT`, …). */
  readonly errorCode?: string;
  /** ISO time of the latest probe's outcome. */
  readonly at: string;
  /** ISO time since when probes have had this outcome (answering, or failing with this code). */
  readonly since: string;
}

/** One agent's entry changed (`entry` set) or the agent left the pool (`entry` undefined). */
export interface InfoChange {
  readonly addr: string;
  readonly entry: InfoEntry | undefined;
}

/** Options of {@link createInfoProber}; `pool` and `logger` are required, the rest have defaults. */
export interface InfoProberOptions {
  /** The pool whose agents to probe. Required. */
  pool: AgentPool;
  /** Required. */
  logger: Logger;
  /** Most probes in flight at once. Default 4. */
  concurrency?: number;
  /** Bound on one `info()` call, connect and TLS handshake included. Default 5 000 ms. */
  timeoutMs?: number;
  /** Wait before the first retry after a failed probe; doubles per failure. Default 1 000 ms. */
  retryInitialMs?: number;
  /** Longest wait between retries; failing agents are retried at this pace forever. Default 60 000 ms. */
  retryMaxMs?: number;
  /** Clock for `at` (ms since the epoch). Default `Date.now`. */
  now?: () => number;
}

/**
 * Fetches `/info` of every agent that enters the pool (or is replaced by a
 * changed one) in the background, and keeps the answers next to the pool.
 */
export interface InfoProber {
  /** The entry for `addr`, once its first probe has finished. */
  get(addr: string): InfoEntry | undefined;
  /** All entries, in no particular order. */
  entries(): InfoEntry[];
  /** Every change of an entry, and every agent that left the pool. */
  readonly changes$: Observable<InfoChange>;
  /** Stops probing: unsubscribes from the pool, aborts probes in flight, cancels retries. */
  close(): void;
}

const DEFAULTS = Object.freeze({
  concurrency: 4,
  timeoutMs: 5_000,
  retryInitialMs: 1_000,
  retryMaxMs: 60_000,
  now: Date.now,
});

interface Job {
  readonly agent: Agent;
  entry: InfoEntry | undefined;
  failures: number;
  queued: boolean;
  controller: AbortController | undefined;
  retry: NodeJS.Timeout | undefined;
}

function errorCodeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

function resolve(options: InfoProberOptions) {
  const resolved = resolveOptions(
    options,
    DEFAULTS,
    {
      pool: check.agentPool,
      concurrency: check.positiveInteger,
      timeoutMs: check.positiveMs,
      retryInitialMs: check.positiveMs,
      retryMaxMs: check.positiveMs,
      now: check.function,
    },
    ["pool", "logger"],
  );
  if (resolved.retryMaxMs < resolved.retryInitialMs)
    invalidOption("retryMaxMs", "must not be smaller than retryInitialMs");
  return resolved;
}

function newJob(agent: Agent): Job {
  return {
    agent,
    entry: undefined,
    failures: 0,
    queued: false,
    controller: undefined,
    retry: undefined,
  };
}

/** The entry after a probe answered; `since` carries over while probes keep answering. */
function answeredEntry(
  agent: Agent,
  info: AgentInfo,
  previous: InfoEntry | undefined,
  at: string,
): InfoEntry {
  return Object.freeze({
    addr: agent.addr,
    name: agent.name,
    info: Object.freeze({ ...info }),
    at,
    since: previous && previous.error === undefined ? previous.since : at,
  });
}

/**
 * The entry after a probe failed: the last answer is kept, `since` carries
 * over while probes keep failing with the same code.
 */
function failedEntry(
  agent: Agent,
  error: string,
  errorCode: string | undefined,
  previous: InfoEntry | undefined,
  at: string,
): InfoEntry {
  const same = previous?.error !== undefined && previous.errorCode === errorCode;
  return Object.freeze({
    addr: agent.addr,
    name: agent.name,
    ...(previous?.info ? { info: previous.info } : {}),
    error,
    ...(errorCode !== undefined ? { errorCode } : {}),
    at,
    since: same && previous ? previous.since : at,
  });
}

/**
 * Starts probing `pool`'s agents. The snapshot subscriber only updates a map
 * and schedules work: a slow or dead agent never delays a pool publication,
 * and the prober never changes pool membership.
 */
export function createInfoProber(options: InfoProberOptions): InfoProber {
  // Long on purpose: the jobs, the queue and the retry timers are one state that
  // the snapshot subscriber, the workers and close() all change; one closure keeps
  // it out of reach of anything else.
  const { pool, logger, concurrency, timeoutMs, retryInitialMs, retryMaxMs, now } =
    resolve(options);
  // A logger already bound to a module (the status server's) gets a sub-component, not a second `module` key.
  const log =
    logger.bindings().module === undefined
      ? logger.child({ module: "info-prober" })
      : logger.child({ component: "info-prober" });
  const jobs = new Map<string, Job>();
  const queue: Job[] = [];
  const changes$ = new Subject<InfoChange>();
  let running = 0;
  let pumpScheduled = false;
  let closed = false;

  const emit = (addr: string, entry: InfoEntry | undefined) => {
    try {
      changes$.next({ addr, entry });
    } catch (err) {
      log.error({ err, addr }, "an info change subscriber threw");
    }
  };

  const cancel = (job: Job) => {
    job.controller?.abort();
    job.controller = undefined;
    clearTimeout(job.retry);
    job.retry = undefined;
    job.queued = false;
  };

  const enqueue = (job: Job) => {
    if (job.queued || closed) return;
    job.queued = true;
    queue.push(job);
    schedulePump();
  };

  // Probes start on a later turn of the event loop, never inside the
  // synchronous snapshot callback (undici does some work synchronously).
  const schedulePump = () => {
    if (pumpScheduled) return;
    pumpScheduled = true;
    setImmediate(pump);
  };

  function pump(): void {
    pumpScheduled = false;
    while (!closed && running < concurrency && queue.length > 0) {
      const job = queue.shift() as Job;
      if (!job.queued || jobs.get(job.agent.addr) !== job) continue;
      job.queued = false;
      void probe(job);
    }
  }

  async function probe(job: Job): Promise<void> {
    const { agent } = job;
    const controller = new AbortController();
    job.controller = controller;
    running++;
    try {
      const info = await agent.info({ timeoutMs, signal: controller.signal });
      if (controller.signal.aborted || jobs.get(agent.addr) !== job) return;
      if (job.failures > 0)
        log.info({ addr: agent.addr, failures: job.failures }, "agent info probe recovered");
      job.failures = 0;
      job.entry = answeredEntry(agent, info, job.entry, new Date(now()).toISOString());
      emit(agent.addr, job.entry);
    } catch (err) {
      if (controller.signal.aborted || jobs.get(agent.addr) !== job) return;
      const message = err instanceof Error ? err.message : String(err);
      job.failures++;
      // Once per agent at warn; retries of a dead agent would otherwise flood the journal.
      if (job.failures === 1)
        log.warn({ addr: agent.addr, err: message }, "agent info probe failed");
      else
        log.debug(
          { addr: agent.addr, err: message, failures: job.failures },
          "agent info probe failed again",
        );
      const at = new Date(now()).toISOString();
      job.entry = failedEntry(agent, message, errorCodeOf(err), job.entry, at);
      emit(agent.addr, job.entry);
      // Doubling from retryInitialMs up to retryMaxMs; the exponent is capped so it stays finite.
      const delayMs = Math.min(retryMaxMs, retryInitialMs * 2 ** Math.min(job.failures - 1, 30));
      job.retry = setTimeout(() => {
        job.retry = undefined;
        enqueue(job);
      }, delayMs);
      job.retry.unref();
    } finally {
      if (job.controller === controller) job.controller = undefined;
      running--;
      if (queue.length > 0) schedulePump();
    }
  }

  const onSnapshot = (snapshot: PoolSnapshot) => {
    // Compared by identity against what we probe, not through `added` and
    // `changed`: the first snapshot a late subscriber sees lists agents that
    // were added long before.
    const present = new Set<string>();
    for (const agent of snapshot.agents) {
      present.add(agent.addr);
      const job = jobs.get(agent.addr);
      if (job?.agent === agent) continue;
      if (job) cancel(job);
      const next: Job = newJob(agent);
      jobs.set(agent.addr, next);
      enqueue(next);
      // A replaced agent's old answer no longer holds (new certificates, maybe a new host).
      if (job?.entry) emit(agent.addr, undefined);
    }
    for (const [addr, job] of jobs) {
      if (present.has(addr)) continue;
      cancel(job);
      jobs.delete(addr);
      emit(addr, undefined);
    }
  };

  const subscription: Subscription = pool.snapshots$.subscribe({
    next: (snapshot) => {
      try {
        onSnapshot(snapshot);
      } catch (err) {
        log.error({ err }, "info prober could not follow a snapshot");
      }
    },
  });

  return {
    get: (addr) => jobs.get(addr)?.entry,
    entries: () => Array.from(jobs.values(), (job) => job.entry).filter((e): e is InfoEntry => !!e),
    changes$: changes$.asObservable(),
    close() {
      if (closed) return;
      closed = true;
      subscription.unsubscribe();
      for (const job of jobs.values()) cancel(job);
      queue.length = 0;
      changes$.complete();
    },
  };
}
