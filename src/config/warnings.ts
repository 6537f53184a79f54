import { DAY_MS } from "../time.js";
/** A certificate expiring sooner than this is worth a warning at every load. */
export const EXPIRY_WARNING_DAYS = 30;

/** `(agent a:1)` or `(agent a:1 and 1999 more)`: who is affected by a shared file. */
export function agentsNote(addrs: readonly string[]): string {
  const [first] = addrs;
  const more = addrs.length > 1 ? ` and ${addrs.length - 1} more` : "";
  return `(agent ${first}${more})`;
}

/**
 * A key that anyone but its owner (and the daemon's own group, for reading)
 * can get at, even via the zip that holds it, is one `chmod` away from being
 * fixed: warn, the load still succeeds. `0640 root:agentpool` is the usual way
 * to hand a root-owned key to a service running in group `agentpool`
 * (`ownGid`), so that alone is not worth a warning; read access for any other
 * group, write access for any group, or any access for others is.
 */
export function keyModeWarning(
  keyFile: string,
  stat: { mode: number; gid: number },
  inBundle: boolean,
  addrs: readonly string[],
  ownGid: number | undefined = process.getgid?.(),
): string | undefined {
  const { mode, gid } = stat;
  const groupBits = mode & 0o070;
  const groupOk = groupBits === 0 || (groupBits === 0o040 && gid === ownGid);
  const others = (mode & 0o007) !== 0;
  if (groupOk && !others) return undefined;
  const bits = (mode & 0o777).toString(8).padStart(4, "0");
  const who = [...(groupOk ? [] : [`group ${gid}`]), ...(others ? ["others"] : [])].join(" and ");
  const access = mode & (groupOk ? 0o004 : 0o044) ? "readable" : "accessible";
  const what = inBundle ? "holds a private key and is" : "private key is";
  const own = ownGid === undefined ? "" : ` (or 640 in the daemon's group, gid ${ownGid})`;
  return `${keyFile} ${agentsNote(addrs)}: ${what} ${access} by ${who} (mode ${bits}); chmod 600 it${own}`;
}

/** A certificate that has expired or expires within {@link EXPIRY_WARNING_DAYS} days. */
export function expiryWarning(
  label: string,
  kind: "client certificate" | "CA certificate",
  notAfter: Date,
  addrs: readonly string[],
  now: number = Date.now(),
): string | undefined {
  const left = notAfter.getTime() - now;
  if (left >= EXPIRY_WARNING_DAYS * DAY_MS) return undefined;
  const when = notAfter.toISOString();
  let state: string;
  if (left <= 0) {
    const days = Math.floor(-left / DAY_MS);
    state =
      days >= 1
        ? `expired ${days} day${days === 1 ? "" : "s"} ago, on ${when}`
        : `expired on ${when}`;
  } else {
    const days = Math.floor(left / DAY_MS);
    state =
      days >= 1
        ? `expires in ${days} day${days === 1 ? "" : "s"}, on ${when}`
        : `expires in less than a day, on ${when}`;
  }
  return `${label} ${agentsNote(addrs)}: ${kind} ${state}`;
}
