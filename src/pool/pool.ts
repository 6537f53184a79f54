import { BehaviorSubject, type Observable } from "rxjs";
import {
  Agent,
  type AgentConfig,
  type AgentOptions,
  agentSharingConnection,
  connectionOf,
  fingerprintOf,
} from "../agent/agent.js";
import { verifyTls } from "../agent/tls.js";
import { diffAgents, freezeSnapshot, type PoolSnapshot, type SnapshotCause } from "./snapshot.js";

export interface AgentPoolOptions {
  /** Applied to every agent the pool creates. */
  agent?: AgentOptions;
  /** Called when closing a retired agent's sockets fails; default: ignored. */
  onCloseError?: (error: unknown, addr: string) => void;
}

export interface BatchOptions {
  /** Recorded in the snapshot the batch publishes. Default `"api"`. */
  cause?: SnapshotCause;
}

interface State {
  byAddr: Map<string, Agent>;
  /**
   * Keyed by addr AND by `agent://addr`: get() takes either in one hash
   * lookup (two indexes cost a miss in the first for one of the forms, and
   * halved the rate at 10,000 agents), and no string slicing per lookup.
   */
  byKey: Map<string, Agent>;
  /** The first agent added under each name. */
  byName: Map<string, Agent>;
  /** Later agents that share a name already taken (rare: the loader refuses them). */
  sameName: Map<string, Agent[]>;
}

const emptyState = (): State => ({
  byAddr: new Map(),
  byKey: new Map(),
  byName: new Map(),
  sameName: new Map(),
});

/** Puts `agent` in the state's indexes (its addr is not in them yet). */
function index(state: State, agent: Agent): void {
  indexAddr(state, agent);
  indexName(state, agent);
}

/** `agent` under its addr and its `agent://` form, new or in place of the agent there. */
function indexAddr(state: State, agent: Agent): void {
  state.byAddr.set(agent.addr, agent);
  state.byKey.set(agent.addr, agent);
  state.byKey.set(agent.dockerHost, agent);
}

function indexName(state: State, agent: Agent): void {
  if (!state.byName.has(agent.name)) state.byName.set(agent.name, agent);
  else state.sameName.set(agent.name, [...(state.sameName.get(agent.name) ?? []), agent]);
}

/**
 * A batch that began with removeAll() on the published pool and so far has
 * re-added its addrs in the same order: a reload's swap. Its agents are only
 * listed here, not indexed; the indexes are updated in place when it is
 * published (setting a key a Map already holds costs a fifth of inserting it
 * into a new one, and allocates nothing). Any other change, or a lookup,
 * first turns it into an ordinary state.
 */
interface Replay {
  /** The published agents, in order. */
  readonly base: readonly Agent[];
  /** The agents re-added so far: `agents[i]` has the addr of `base[i]`. */
  readonly agents: Agent[];
  /** Addrs whose agent is not the published one (the snapshot's `changed`). */
  readonly changed: string[];
}

const copyState = (state: State): State => ({
  byAddr: new Map(state.byAddr),
  byKey: new Map(state.byKey),
  byName: new Map(state.byName),
  sameName: new Map(Array.from(state.sameName, ([name, agents]) => [name, agents.slice()])),
});

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
export class AgentPool implements Iterable<[string, Agent]> {
  readonly #options: Readonly<AgentPoolOptions>;
  #state: State = emptyState();
  /** The agents of the last published snapshot, by addr. */
  #published: Map<string, Agent> = new Map();
  #snapshot: PoolSnapshot;
  readonly #subject: BehaviorSubject<PoolSnapshot>;

  #batchDepth = 0;
  #batchCause: SnapshotCause = "api";
  #dirty = false;
  /** State before the outermost batch's first change, restored if the batch throws. */
  #rollback: State | undefined;
  /** Agents created since the last publication, which may never make it into one. */
  #created: Agent[] = [];
  #replay: Replay | undefined;

  readonly #pending: PoolSnapshot[] = [];
  #emitting = false;

  constructor(options: AgentPoolOptions = {}) {
    // The agent options frozen too: every agent of the pool then shares one resolution of them.
    this.#options = Object.freeze({
      ...options,
      ...(options.agent ? { agent: Object.freeze({ ...options.agent }) } : {}),
    });
    this.#snapshot = freezeSnapshot(0, [], { added: [], removed: [], changed: [] }, "initial");
    this.#subject = new BehaviorSubject(this.#snapshot);
  }

  /** The current snapshot. */
  get snapshot(): PoolSnapshot {
    return this.#snapshot;
  }

  /** The current snapshot on subscribe, then every later one, synchronously. */
  get snapshots$(): Observable<PoolSnapshot> {
    return this.#subject.asObservable();
  }

  /**
   * Adds an agent. Returns false, keeping the existing agent untouched, when
   * that addr is already in the pool. Throws an `AgentError` naming the addr
   * when the config's addr or TLS material is invalid.
   */
  add(config: AgentConfig): boolean {
    const replay = this.#replay;
    if (replay) {
      const previous = replay.base[replay.agents.length];
      if (previous !== undefined && config?.addr === previous.addr) {
        const agent = this.#build(config, previous);
        replay.agents.push(agent);
        if (agent !== previous) replay.changed.push(agent.addr);
        this.#afterChange();
        return true;
      }
      this.#endReplay();
    }
    if (this.#state.byAddr.has(config?.addr)) return false;
    const agent = this.#build(config);
    this.#beforeChange(false);
    index(this.#ownState(), agent);
    this.#afterChange();
    return true;
  }

  has(config: Pick<AgentConfig, "addr">): boolean {
    return this.#current().byAddr.has(config.addr);
  }

  remove(config: Pick<AgentConfig, "addr">): void {
    const agent = this.#current().byAddr.get(config.addr);
    if (!agent) return;
    this.#beforeChange(false);
    const state = this.#ownState();
    state.byAddr.delete(agent.addr);
    state.byKey.delete(agent.addr);
    state.byKey.delete(agent.dockerHost);
    const others = state.sameName.get(agent.name) ?? [];
    const rest =
      state.byName.get(agent.name) === agent ? others.slice(1) : others.filter((a) => a !== agent);
    if (state.byName.get(agent.name) === agent) {
      if (others[0]) state.byName.set(agent.name, others[0]);
      else state.byName.delete(agent.name);
    }
    if (rest.length > 0) state.sameName.set(agent.name, rest);
    else state.sameName.delete(agent.name);
    this.#afterChange();
  }

  removeAll(): void {
    if (this.size === 0) return;
    this.#beforeChange(true);
    if (this.#replay) {
      // A second removeAll in the batch: no replay any more (its agents are retired as unpublished).
      this.#replay = undefined;
      this.#state = emptyState();
    } else if (this.#batchDepth > 0 && this.#state.byAddr === this.#published) {
      // The state stays the published one until the batch is published.
      this.#replay = { base: this.#snapshot.agents, agents: [], changed: [] };
    } else {
      this.#state = emptyState();
    }
    this.#afterChange();
  }

  /** By addr, or by fake docker host `agent://addr`. */
  get(addrOrDockerHost: string): Agent | undefined {
    return this.#current().byKey.get(addrOrDockerHost);
  }

  /** By name, through an index. An unnamed agent's name is its addr. */
  getAgent(name: string): Agent | undefined {
    return this.#current().byName.get(name);
  }

  /** A new array each call, in insertion order. */
  list(): Agent[] {
    if (this.#replay) return this.#replay.agents.slice();
    return Array.from(this.#state.byAddr.values());
  }

  /**
   * Over the agents as they are when called, in insertion order: a swap
   * while the caller is part-way through does not show in it (a reload that
   * renames agents updates the published indexes in place).
   */
  iter(): IterableIterator<[string, Agent]> {
    const current = this.#current();
    return pairsOf(
      current.byAddr === this.#published
        ? this.#snapshot.agents
        : Array.from(current.byAddr.values()),
    );
  }

  [Symbol.iterator](): IterableIterator<[string, Agent]> {
    return this.iter();
  }

  num(): number {
    return this.size;
  }

  get size(): number {
    return this.#replay ? this.#replay.agents.length : this.#state.byAddr.size;
  }

  /**
   * Runs `fn`; all changes it makes publish one snapshot when it returns
   * (none if the pool ends as it was). If `fn` throws, the pool is put back
   * as it was and nothing is published.
   */
  batch<T>(fn: () => T, options: BatchOptions = {}): T {
    const outermost = this.#batchDepth === 0;
    if (outermost) this.#batchCause = options.cause ?? "api";
    this.#batchDepth++;
    let result: T;
    try {
      result = fn();
    } catch (err) {
      this.#batchDepth--;
      if (outermost) this.#abandon();
      throw err;
    }
    this.#batchDepth--;
    if (outermost && this.#dirty) this.#publish(this.#batchCause);
    return result;
  }

  /**
   * A new Agent for `config`, or the one already published at that addr when
   * name and TLS material are the same, so its connections carry over.
   */
  #build(config: AgentConfig, previous = this.#published.get(config?.addr)): Agent {
    if (previous && typeof config.tls === "object" && config.tls !== null) {
      const sameTls = verifyTls(config.addr, config.tls).fingerprint === fingerprintOf(previous);
      if (sameTls && previous.name === (config.name || config.addr)) return previous;
      if (sameTls)
        return this.#track(agentSharingConnection(config, previous, this.#options.agent));
    }
    return this.#track(new Agent(config, this.#options.agent));
  }

  #track(agent: Agent): Agent {
    this.#created.push(agent);
    return agent;
  }

  /**
   * Inside a batch, keeps what the pool was before its first change, so a
   * throwing batch can be undone. A change that replaces the state object
   * (removeAll) leaves the old one intact, so nothing needs copying.
   */
  #beforeChange(replacesState: boolean): void {
    if (this.#batchDepth > 0 && !this.#rollback) {
      this.#rollback = replacesState ? this.#state : copyState(this.#state);
    }
  }

  /**
   * The state, ready to be changed: after a publication its addr index is
   * the published map itself (no copy of 10,000 entries per snapshot), so
   * the first change after one copies it. A reload's swap starts with
   * removeAll(), which needs no copy at all.
   */
  #ownState(): State {
    const state = this.#state;
    if (state.byAddr === this.#published) state.byAddr = new Map(state.byAddr);
    return state;
  }

  /** The state with every change of the batch so far in its indexes. */
  #current(): State {
    this.#endReplay();
    return this.#state;
  }

  /** Indexes a replay's agents in a new state, for a batch that does more than replay. */
  #endReplay(): void {
    const replay = this.#replay;
    if (!replay) return;
    this.#replay = undefined;
    const state = emptyState();
    for (const agent of replay.agents) index(state, agent);
    this.#state = state;
  }

  #afterChange(): void {
    this.#dirty = true;
    if (this.#batchDepth === 0) this.#publish("api");
  }

  #abandon(): void {
    this.#replay = undefined;
    if (this.#rollback) this.#state = this.#rollback;
    this.#rollback = undefined;
    this.#dirty = false;
    this.#retire();
  }

  #publish(cause: SnapshotCause): void {
    const replay = this.#replay;
    this.#replay = undefined;
    if (replay && replay.agents.length === replay.base.length) {
      this.#publishReplay(replay, cause);
      return;
    }
    if (replay) {
      this.#replay = replay;
      this.#endReplay();
    }
    const current = this.#state.byAddr;
    const diff = diffAgents(this.#published, current);
    if (
      diff.added.length + diff.removed.length + diff.changed.length === 0 &&
      sameOrder(this.#published, current)
    ) {
      // A batch that put back exactly what was there (a reload of the same
      // agents) is not a change: nothing to publish.
      this.#rollback = undefined;
      this.#dirty = false;
      this.#retire();
      return;
    }
    // Shared with the state until its next change (see #ownState).
    const next = current;
    const snapshot = freezeSnapshot(
      this.#snapshot.version + 1,
      Array.from(next.values()),
      diff,
      cause,
    );
    const before = this.#published;
    const gone = [...diff.removed, ...diff.changed].map((addr) => before.get(addr) as Agent);
    this.#published = next;
    this.#snapshot = snapshot;
    this.#rollback = undefined;
    this.#dirty = false;
    this.#retire(gone);
    this.#emit(snapshot);
  }

  /**
   * Publishes a batch that re-added every published addr in order: the
   * published state's indexes take the new agents in place (they are no
   * longer needed as they were: the diff is already known), and its agents
   * list becomes the snapshot's.
   */
  #publishReplay({ base, agents, changed }: Replay, cause: SnapshotCause): void {
    this.#rollback = undefined;
    this.#dirty = false;
    // Every agent created in the batch is among `agents` (a second removeAll ends a replay).
    this.#created = [];
    // The same agents in the same order: nothing changed, nothing to publish.
    if (changed.length === 0) return;
    const state = this.#state;
    let renamed = false;
    for (let i = 0; i < agents.length; i++) {
      const agent = agents[i] as Agent;
      const before = base[i] as Agent;
      if (agent === before) continue;
      indexAddr(state, agent);
      if (agent.name !== before.name) renamed = true;
    }
    if (renamed) {
      state.byName = new Map();
      state.sameName = new Map();
      for (const agent of agents) indexName(state, agent);
    } else {
      for (let i = 0; i < agents.length; i++) {
        const agent = agents[i] as Agent;
        const before = base[i] as Agent;
        if (agent === before) continue;
        if (state.byName.get(agent.name) === before) state.byName.set(agent.name, agent);
        else {
          const others = state.sameName.get(agent.name) as Agent[];
          others[others.indexOf(before)] = agent;
        }
      }
    }
    const snapshot = freezeSnapshot(
      this.#snapshot.version + 1,
      agents,
      { added: [], removed: [], changed },
      cause,
    );
    this.#snapshot = snapshot;
    for (let i = 0; i < agents.length; i++) {
      const before = base[i] as Agent;
      const connection = connectionOf(before);
      if (connection === connectionOf(agents[i] as Agent)) continue;
      connection.close().catch((err: unknown) => this.#options.onCloseError?.(err, before.addr));
    }
    this.#emit(snapshot);
  }

  /**
   * Closes, in the background, the connections of agents that left the pool
   * (and of agents created but never published), unless the agent now at the
   * same addr took them over.
   */
  #retire(gone: Agent[] = []): void {
    const candidates = gone.concat(this.#created);
    this.#created = [];
    for (const agent of candidates) {
      const current = this.#state.byAddr.get(agent.addr);
      if (current === agent) continue;
      const connection = connectionOf(agent);
      if (current && connectionOf(current) === connection) continue;
      connection.close().catch((err: unknown) => this.#options.onCloseError?.(err, agent.addr));
    }
  }

  // A subscriber that changes the pool must not make others see snapshots out
  // of order: later snapshots wait until the current one reached everybody.
  #emit(snapshot: PoolSnapshot): void {
    this.#pending.push(snapshot);
    if (this.#emitting) return;
    this.#emitting = true;
    try {
      for (let next = this.#pending.shift(); next; next = this.#pending.shift())
        this.#subject.next(next);
    } finally {
      this.#emitting = false;
    }
  }
}

function sameOrder(a: ReadonlyMap<string, Agent>, b: ReadonlyMap<string, Agent>): boolean {
  if (a.size !== b.size) return false;
  const left = a.values();
  for (const agent of b.values()) if (left.next().value !== agent) return false;
  return true;
}

function* pairsOf(agents: readonly Agent[]): IterableIterator<[string, Agent]> {
  for (const agent of agents) yield [agent.addr, agent];
}
