import { AgentError } from "./errors.js";

export interface DeadlineOptions {
  /** Give up after this many milliseconds. */
  timeoutMs?: number;
  /** Give up when this signal aborts. */
  signal?: AbortSignal;
}

/**
 * Runs `work` with a signal that fires on timeout or on the caller's abort, and
 * rejects at that moment even if `work` has not settled yet. undici notices an
 * aborted request only once its socket has connected
 * (https://github.com/nodejs/undici/issues/386), so a request stuck in the TLS
 * handshake would otherwise wait for the connect timeout.
 */
export async function withDeadline<T>(
  addr: string,
  what: string,
  options: DeadlineOptions,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const { timeoutMs, signal } = options;
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;

  const deadline = new Promise<never>((_, reject) => {
    const stop = (err: AgentError) => {
      controller.abort(err);
      reject(err);
    };
    if (signal?.aborted) {
      stop(new AgentError("ERR_AGENT_ABORTED", addr, `${what}: aborted`, { cause: signal.reason }));
      return;
    }
    onAbort = () =>
      stop(
        new AgentError("ERR_AGENT_ABORTED", addr, `${what}: aborted`, { cause: signal?.reason }),
      );
    signal?.addEventListener("abort", onAbort, { once: true });
    if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
      timer = setTimeout(
        () =>
          stop(
            new AgentError("ERR_AGENT_TIMEOUT", addr, `${what}: timed out after ${timeoutMs} ms`),
          ),
        timeoutMs,
      );
    }
  });
  // The loser of the race must not surface as an unhandled rejection.
  deadline.catch(() => {});

  try {
    const running = controller.signal.aborted ? deadline : work(controller.signal);
    running.catch(() => {});
    return await Promise.race([running, deadline]);
  } catch (err) {
    if (err instanceof AgentError) throw err;
    if (controller.signal.aborted && controller.signal.reason instanceof AgentError)
      throw controller.signal.reason;
    const reason = err instanceof Error ? err.message : String(err);
    throw new AgentError("ERR_AGENT_REQUEST", addr, `${what}: ${reason}`, { cause: err });
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }
}
