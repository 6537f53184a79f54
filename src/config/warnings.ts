import { DAY_MS } from "../time.js";
import { groupId } from "../unix-group.js";

/** A certificate expiring sooner than this is worth a warning at every load. */
export const EXPIRY_WARNING_DAYS = 30;

/** `(agent a:1)` or `(agent a:1 and 1999 more)`: who is affected by a shared file. */
export function agentsNote(addrs: readonly string[]): string {
  const [first] = addrs;
  const more = addrs.length > 1 ? ` and ${addrs.length - 1} more` : "";
  return `(agent ${first}${more})`;
}

/** The group `systemd/install.sh` runs the service in (`systemd/agentpool.sysusers`). */
export const SERVICE_GROUP = "agentpool";

let serviceGid: number | undefined | null = null;

/** The gid of {@link SERVICE_GROUP} on this host, if it has one (read once). */
function serviceGroupGid(): number | undefined {
  if (serviceGid === null) serviceGid = groupId(SERVICE_GROUP);
  return serviceGid;
}

/**
 * The groups that may read a key without a warning: the daemon's own (this
 * process's group and supplementary groups), and the service's group when the
 * host has one, so that `sudo agentpool check` does not flag the installed
 * `0640 root:agentpool` keys.
 */
export function daemonGroups(): readonly number[] {
  const own = [process.getgid?.(), ...(process.getgroups?.() ?? [])];
  const gids = new Set(own.filter((gid): gid is number => gid !== undefined));
  const service = serviceGroupGid();
  if (service !== undefined) gids.add(service);
  return [...gids];
}

/**
 * A key that anyone but its owner (and the daemon's own group, for reading)
 * can get at, even via the zip that holds it, is one `chmod` away from being
 * fixed: warn, the load still succeeds. `0640 root:agentpool` is the usual way
 * to hand a root-owned key to a service running in group `agentpool`
 * (`ownGids`), so that alone is not worth a warning; read access for any other
 * group, write access for any group, or any access for others is.
 */
export function keyModeWarning(
  keyFile: string,
  stat: { mode: number; gid: number },
  inBundle: boolean,
  addrs: readonly string[],
  ownGids: readonly number[] = daemonGroups(),
): string | undefined {
  const { mode, gid } = stat;
  const groupBits = mode & 0o070;
  const groupOk = groupBits === 0 || (groupBits === 0o040 && ownGids.includes(gid));
  const others = (mode & 0o007) !== 0;
  if (groupOk && !others) return undefined;
  const bits = (mode & 0o777).toString(8).padStart(4, "0");
  const who = [...(groupOk ? [] : [`group ${gid}`]), ...(others ? ["others"] : [])].join(" and ");
  const access = mode & (groupOk ? 0o004 : 0o044) ? "readable" : "accessible";
  const what = inBundle ? "holds a private key and is" : "private key is";
  const own =
    ownGids.length === 0 ? "" : ` (or 640 in the daemon's group, gid ${ownGids.join(" or ")})`;
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
