import { isIPv4, isIPv6 } from "node:net";
import { parseAddr } from "../agent/protocol.js";
import { quote } from "./path.js";

/**
 * Why `addr` is not `host:port`, as a short human sentence, or `undefined`
 * when it is. `parseAddr` stays the single judge of validity; this only
 * explains its verdict, so the loader and the pool can never disagree.
 */
export function explainAddr(addr: string): string | undefined {
  if (parseAddr(addr)) return undefined;
  const not = `${quote(addr)} is not host:port`;
  const reason = reasonFor(addr);
  return reason ? `${not}: ${reason}` : not;
}

/** Longer than any host:port can be (a 254-character name, a colon, five digits). */
const MAX_ADDR_CHARS = 260;

function reasonFor(addr: string): string | undefined {
  if (addr === "") return "it is empty";
  if (addr.length > MAX_ADDR_CHARS) return `it is too long (${addr.length} characters)`;
  if (/\s/.test(addr)) return "it contains whitespace";
  if (addr.includes("://")) return "leave out the scheme, write host:port";
  if (addr.includes("/")) return "leave out the path, write host:port";

  let host: string;
  let port: string | undefined;
  if (addr.startsWith("[")) {
    const m = /^\[([^\]]*)\](.*)$/.exec(addr);
    if (!m) return "the IPv6 address has no closing ]";
    host = m[1] ?? "";
    if (!isIPv6(host)) return `${quote(host)} is not an IPv6 address`;
    const rest = m[2] ?? "";
    if (rest === "" || rest === ":") return "missing port";
    if (!rest.startsWith(":")) return "expected :port after the ]";
    port = rest.slice(1);
  } else {
    const colon = addr.lastIndexOf(":");
    if (isIPv6(addr)) {
      // "::1:8890" is itself an IPv6 address; most likely the port was meant.
      const head = addr.slice(0, colon);
      const tail = addr.slice(colon + 1);
      return isIPv6(head) && /^\d{1,5}$/.test(tail)
        ? `an IPv6 address needs brackets, e.g. [${head}]:${tail}`
        : `an IPv6 address needs brackets and a port, e.g. [${addr}]:8890`;
    }
    if (colon < 0) return "missing port";
    host = addr.slice(0, colon);
    port = addr.slice(colon + 1);
    if (isIPv6(host)) return `an IPv6 address needs brackets, e.g. [${host}]:${port}`;
    if (host.includes(":")) return "too many colons";
    if (host === "") return "missing host";
    if (port === "") return "missing port";
  }

  if (!/^\d+$/.test(port)) return `port ${quote(port)} is not a number`;
  const portNumber = Number(port);
  if (portNumber < 1 || portNumber > 65535 || port.length > 5) {
    return `port ${port} is out of range 1-65535`;
  }
  if (/^[\d.]+$/.test(host) && !isIPv4(host)) return `${host} is not an IPv4 address`;
  return `${quote(host)} is not a valid hostname`;
}
