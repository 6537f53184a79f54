/** A certificate expiring sooner than this is worth a warning at every load. */
export const EXPIRY_WARNING_DAYS = 30;
const DAY_MS = 86_400_000;
/** `(agent a:1)` or `(agent a:1 and 1999 more)`: who is affected by a shared file. */
export function agentsNote(addrs) {
    const [first] = addrs;
    const more = addrs.length > 1 ? ` and ${addrs.length - 1} more` : "";
    return `(agent ${first}${more})`;
}
/**
 * A key readable or writable by group or others, even via the zip that holds
 * it, is one `chmod` away from being fixed: warn, the load still succeeds.
 */
export function keyModeWarning(keyFile, mode, inBundle, addrs) {
    if ((mode & 0o077) === 0)
        return undefined;
    const bits = (mode & 0o777).toString(8).padStart(4, "0");
    const access = mode & 0o044 ? "readable" : "accessible";
    const what = inBundle ? "holds a private key and is" : "private key is";
    return `${keyFile} ${agentsNote(addrs)}: ${what} ${access} by group/others (mode ${bits}); chmod 600 it`;
}
/** A certificate that has expired or expires within {@link EXPIRY_WARNING_DAYS} days. */
export function expiryWarning(label, kind, notAfter, addrs, now = Date.now()) {
    const left = notAfter.getTime() - now;
    if (left >= EXPIRY_WARNING_DAYS * DAY_MS)
        return undefined;
    const when = notAfter.toISOString();
    let state;
    if (left <= 0) {
        const days = Math.floor(-left / DAY_MS);
        state =
            days >= 1
                ? `expired ${days} day${days === 1 ? "" : "s"} ago, on ${when}`
                : `expired on ${when}`;
    }
    else {
        const days = Math.floor(left / DAY_MS);
        state =
            days >= 1
                ? `expires in ${days} day${days === 1 ? "" : "s"}, on ${when}`
                : `expires in less than a day, on ${when}`;
    }
    return `${label} ${agentsNote(addrs)}: ${kind} ${state}`;
}
