import type { Agent } from "../agent/agent.js";

/** Why a snapshot was published. */
export type SnapshotCause = "initial" | "reload" | "api";

/** One published state of the pool. Deeply frozen. */
export interface PoolSnapshot {
  /** Starts at 0 (the empty pool) and grows by one per published snapshot. */
  readonly version: number;
  /** In insertion order. */
  readonly agents: readonly Agent[];
  /** Addrs new since the previous snapshot. */
  readonly added: readonly string[];
  /** Addrs gone since the previous snapshot. */
  readonly removed: readonly string[];
  /** Addrs still present whose name or TLS material changed. */
  readonly changed: readonly string[];
  readonly cause: SnapshotCause;
  /** ISO 8601 time of publication. */
  readonly at: string;
}

export interface SnapshotDiff {
  added: string[];
  removed: string[];
  changed: string[];
}

/**
 * What changed between two states. Agents are immutable, so "same object"
 * means "unchanged"; a different object at the same addr is a change.
 */
export function diffAgents(
  previous: ReadonlyMap<string, Agent>,
  next: ReadonlyMap<string, Agent>,
): SnapshotDiff {
  const added: string[] = [];
  const changed: string[] = [];
  const removed: string[] = [];
  for (const [addr, agent] of next) {
    const before = previous.get(addr);
    if (before === undefined) added.push(addr);
    else if (before !== agent) changed.push(addr);
  }
  for (const addr of previous.keys()) if (!next.has(addr)) removed.push(addr);
  return { added, removed, changed };
}

/** Freezes in place: `agents` and the diff's arrays must be fresh, owned by the snapshot. */
export function freezeSnapshot(
  version: number,
  agents: Agent[],
  diff: SnapshotDiff,
  cause: SnapshotCause,
): PoolSnapshot {
  return Object.freeze({
    version,
    agents: Object.freeze(agents),
    added: Object.freeze(diff.added),
    removed: Object.freeze(diff.removed),
    changed: Object.freeze(diff.changed),
    cause,
    at: new Date().toISOString(),
  });
}
