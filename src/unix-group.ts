import { readFileSync } from "node:fs";

/**
 * The gid of the group called `name` in /etc/group, or undefined when there
 * is none (or no /etc/group). Node has no getgrnam(); the docker sockets'
 * `--docker-socket-group` and the key-mode warning's service group both ask.
 */
export function groupId(name: string): number | undefined {
  let table: string;
  try {
    table = readFileSync("/etc/group", "utf8");
  } catch {
    return undefined;
  }
  for (const line of table.split("\n")) {
    const [entry, , gid] = line.split(":");
    if (entry === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  return undefined;
}
