import { BehaviorSubject } from "rxjs";
import { Agent, agentSharingConnection, connectionOf, fingerprintOf, } from "../agent/agent.js";
import { agentAddrFromDockerHost, isDockerHostAgent } from "../agent/protocol.js";
import { verifyTls } from "../agent/tls.js";
import { diffAgents, freezeSnapshot } from "./snapshot.js";
/**
 * The pool of agents: the one mutable object. Every change publishes a frozen
 * {@link PoolSnapshot}; changes inside {@link AgentPool.batch} publish one
 * snapshot at the end, so nobody sees the pool half-way through a batch.
 *
 * Re-adding an agent whose addr, name and TLS material are unchanged (for
 * example `removeAll()` then `add()` in one batch) keeps the same `Agent` and
 * its open connections. Agents that leave the pool are closed gracefully
 * after the snapshot is published.
 */
export class AgentPool {
    #options;
    #state = { byAddr: new Map(), byName: new Map() };
    /** The agents of the last published snapshot, by addr. */
    #published = new Map();
    #snapshot;
    #subject;
    #batchDepth = 0;
    #batchCause = "api";
    #dirty = false;
    /** State before the outermost batch's first change, restored if the batch throws. */
    #rollback;
    /** Agents created since the last publication, which may never make it into one. */
    #created = [];
    #pending = [];
    #emitting = false;
    constructor(options = {}) {
        this.#options = Object.freeze({ ...options });
        this.#snapshot = freezeSnapshot(0, [], { added: [], removed: [], changed: [] }, "initial");
        this.#subject = new BehaviorSubject(this.#snapshot);
    }
    /** The current snapshot. */
    get snapshot() {
        return this.#snapshot;
    }
    /** The current snapshot on subscribe, then every later one, synchronously. */
    get snapshots$() {
        return this.#subject.asObservable();
    }
    /**
     * Adds an agent. Returns false, keeping the existing agent untouched, when
     * that addr is already in the pool. Throws an `AgentError` naming the addr
     * when the config's addr or TLS material is invalid.
     */
    add(config) {
        if (this.#state.byAddr.has(config?.addr))
            return false;
        const agent = this.#build(config);
        this.#mutate(() => {
            this.#state.byAddr.set(agent.addr, agent);
            const sameName = this.#state.byName.get(agent.name);
            if (sameName)
                sameName.push(agent);
            else
                this.#state.byName.set(agent.name, [agent]);
        });
        return true;
    }
    has(config) {
        return this.#state.byAddr.has(config.addr);
    }
    remove(config) {
        const agent = this.#state.byAddr.get(config.addr);
        if (!agent)
            return;
        this.#mutate(() => {
            this.#state.byAddr.delete(agent.addr);
            const sameName = this.#state.byName.get(agent.name) ?? [];
            const rest = sameName.filter((a) => a !== agent);
            if (rest.length > 0)
                this.#state.byName.set(agent.name, rest);
            else
                this.#state.byName.delete(agent.name);
        });
    }
    removeAll() {
        if (this.#state.byAddr.size === 0)
            return;
        this.#mutate(() => {
            this.#state = { byAddr: new Map(), byName: new Map() };
        });
    }
    /** By addr, or by fake docker host `agent://addr`. */
    get(addrOrDockerHost) {
        const addr = isDockerHostAgent(addrOrDockerHost)
            ? agentAddrFromDockerHost(addrOrDockerHost)
            : addrOrDockerHost;
        return this.#state.byAddr.get(addr);
    }
    /** By name, through an index. An unnamed agent's name is its addr. */
    getAgent(name) {
        return this.#state.byName.get(name)?.[0];
    }
    /** A new array each call, in insertion order. */
    list() {
        return Array.from(this.#state.byAddr.values());
    }
    iter() {
        return this.#state.byAddr.entries();
    }
    [Symbol.iterator]() {
        return this.iter();
    }
    num() {
        return this.#state.byAddr.size;
    }
    get size() {
        return this.#state.byAddr.size;
    }
    /**
     * Runs `fn`; all changes it makes publish one snapshot when it returns.
     * If `fn` throws, the pool is put back as it was and nothing is published.
     */
    batch(fn, options = {}) {
        const outermost = this.#batchDepth === 0;
        if (outermost)
            this.#batchCause = options.cause ?? "api";
        this.#batchDepth++;
        let result;
        try {
            result = fn();
        }
        catch (err) {
            this.#batchDepth--;
            if (outermost)
                this.#abandon();
            throw err;
        }
        this.#batchDepth--;
        if (outermost && this.#dirty)
            this.#publish(this.#batchCause);
        return result;
    }
    /**
     * A new Agent for `config`, or the one already published at that addr when
     * name and TLS material are the same, so its connections carry over.
     */
    #build(config) {
        const previous = this.#published.get(config?.addr);
        if (previous && typeof config.tls === "object" && config.tls !== null) {
            const sameTls = verifyTls(config.addr, config.tls).fingerprint === fingerprintOf(previous);
            if (sameTls && previous.name === (config.name || config.addr))
                return previous;
            if (sameTls)
                return this.#track(agentSharingConnection(config, previous, this.#options.agent));
        }
        return this.#track(new Agent(config, this.#options.agent));
    }
    #track(agent) {
        this.#created.push(agent);
        return agent;
    }
    #mutate(change) {
        if (this.#batchDepth > 0 && !this.#rollback) {
            this.#rollback = {
                byAddr: new Map(this.#state.byAddr),
                byName: new Map(Array.from(this.#state.byName, ([name, agents]) => [name, agents.slice()])),
            };
        }
        change();
        this.#dirty = true;
        if (this.#batchDepth === 0)
            this.#publish("api");
    }
    #abandon() {
        if (this.#rollback)
            this.#state = this.#rollback;
        this.#rollback = undefined;
        this.#dirty = false;
        this.#retire();
    }
    #publish(cause) {
        const next = new Map(this.#state.byAddr);
        const diff = diffAgents(this.#published, next);
        const snapshot = freezeSnapshot(this.#snapshot.version + 1, Array.from(next.values()), diff, cause);
        const before = this.#published;
        const gone = [...diff.removed, ...diff.changed].map((addr) => before.get(addr));
        this.#published = next;
        this.#snapshot = snapshot;
        this.#rollback = undefined;
        this.#dirty = false;
        this.#retire(gone);
        this.#emit(snapshot);
    }
    /**
     * Closes, in the background, the connections of agents that left the pool
     * (and of agents created but never published), unless the agent now at the
     * same addr took them over.
     */
    #retire(gone = []) {
        const candidates = gone.concat(this.#created);
        this.#created = [];
        for (const agent of candidates) {
            const current = this.#state.byAddr.get(agent.addr);
            if (current === agent)
                continue;
            const connection = connectionOf(agent);
            if (current && connectionOf(current) === connection)
                continue;
            connection.close().catch((err) => this.#options.onCloseError?.(err, agent.addr));
        }
    }
    // A subscriber that changes the pool must not make others see snapshots out
    // of order: later snapshots wait until the current one reached everybody.
    #emit(snapshot) {
        this.#pending.push(snapshot);
        if (this.#emitting)
            return;
        this.#emitting = true;
        try {
            for (let next = this.#pending.shift(); next; next = this.#pending.shift())
                this.#subject.next(next);
        }
        finally {
            this.#emitting = false;
        }
    }
}
