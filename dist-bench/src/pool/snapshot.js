/**
 * What changed between two states. Agents are immutable, so "same object"
 * means "unchanged"; a different object at the same addr is a change.
 */
export function diffAgents(previous, next) {
    const added = [];
    const changed = [];
    const removed = [];
    for (const [addr, agent] of next) {
        const before = previous.get(addr);
        if (before === undefined)
            added.push(addr);
        else if (before !== agent)
            changed.push(addr);
    }
    for (const addr of previous.keys())
        if (!next.has(addr))
            removed.push(addr);
    return { added, removed, changed };
}
export function freezeSnapshot(version, agents, diff, cause) {
    return Object.freeze({
        version,
        agents: Object.freeze(agents.slice()),
        added: Object.freeze(diff.added),
        removed: Object.freeze(diff.removed),
        changed: Object.freeze(diff.changed),
        cause,
        at: new Date().toISOString(),
    });
}
