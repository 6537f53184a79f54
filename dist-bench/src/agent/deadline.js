import { AgentError } from "./errors.js";
/**
 * Runs `work` with a signal that fires on timeout or on the caller's abort, and
 * rejects at that moment even if `work` has not settled yet. undici notices an
 * aborted request only once its socket has connected
 * (https://github.com/nodejs/undici/issues/386), so a request stuck in the TLS
 * handshake would otherwise wait for the connect timeout.
 */
export async function withDeadline(addr, what, options, work) {
    const { timeoutMs, signal } = options;
    const controller = new AbortController();
    let timer;
    let onAbort;
    const deadline = new Promise((_, reject) => {
        const stop = (err) => {
            controller.abort(err);
            reject(err);
        };
        if (signal?.aborted) {
            stop(new AgentError("ERR_AGENT_ABORTED", addr, `${what}: aborted`, { cause: signal.reason }));
            return;
        }
        onAbort = () => stop(new AgentError("ERR_AGENT_ABORTED", addr, `${what}: aborted`, { cause: signal?.reason }));
        signal?.addEventListener("abort", onAbort, { once: true });
        if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
            timer = setTimeout(() => stop(new AgentError("ERR_AGENT_TIMEOUT", addr, `${what}: timed out after ${timeoutMs} ms`)), timeoutMs);
        }
    });
    // The loser of the race must not surface as an unhandled rejection.
    deadline.catch(() => { });
    try {
        const running = controller.signal.aborted ? deadline : work(controller.signal);
        running.catch(() => { });
        return await Promise.race([running, deadline]);
    }
    catch (err) {
        if (err instanceof AgentError)
            throw err;
        if (controller.signal.aborted && controller.signal.reason instanceof AgentError)
            throw controller.signal.reason;
        const reason = err instanceof Error ? err.message : String(err);
        throw new AgentError("ERR_AGENT_REQUEST", addr, `${what}: ${reason}`, { cause: err });
    }
    finally {
        clearTimeout(timer);
        if (onAbort)
            signal?.removeEventListener("abort", onAbort);
    }
}
