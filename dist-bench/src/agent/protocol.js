import { isIPv4, isIPv6 } from "node:net";
/** The name every agent's server certificate carries; used for SNI, verification and `Host`. */
export const AGENT_HOST = "godoxy.agent";
/** Path prefix of the agent's own API; every other path is the Docker Engine API. */
export const API_BASE = "/godoxy/agent";
export const API_BASE_URL = `https://${AGENT_HOST}${API_BASE}`;
/** Origin to use for Docker Engine API calls through an agent's dispatcher. */
export const DOCKER_HOST = `https://${AGENT_HOST}`;
/** Prefix of the fake docker host that names an agent: `agent://host:port`. */
export const FAKE_DOCKER_HOST_PREFIX = "agent://";
export function isDockerHostAgent(dockerHost) {
    return dockerHost.startsWith(FAKE_DOCKER_HOST_PREFIX);
}
/** `agent://h:p` → `h:p`. Callers check {@link isDockerHostAgent} first. */
export function agentAddrFromDockerHost(dockerHost) {
    return dockerHost.slice(FAKE_DOCKER_HOST_PREFIX.length);
}
export function dockerHostOf(addr) {
    return FAKE_DOCKER_HOST_PREFIX + addr;
}
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/**
 * Splits `host:port` (hostname, IPv4 or `[IPv6]`) into its parts, or returns
 * undefined when it is not of that form or the port is outside 1–65535.
 */
export function parseAddr(addr) {
    const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(addr);
    if (!m)
        return undefined;
    const port = Number(m[3]);
    if (port < 1 || port > 65535)
        return undefined;
    if (m[1] !== undefined)
        return isIPv6(m[1]) ? { host: m[1], port } : undefined;
    const host = m[2] ?? "";
    const valid = /^[\d.]+$/.test(host) ? isIPv4(host) : HOSTNAME.test(host);
    return valid ? { host, port } : undefined;
}
