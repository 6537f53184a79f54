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

export function isDockerHostAgent(dockerHost: string): boolean {
  return dockerHost.startsWith(FAKE_DOCKER_HOST_PREFIX);
}

/** `agent://h:p` → `h:p`. Callers check {@link isDockerHostAgent} first. */
export function agentAddrFromDockerHost(dockerHost: string): string {
  return dockerHost.slice(FAKE_DOCKER_HOST_PREFIX.length);
}

export function dockerHostOf(addr: string): string {
  return FAKE_DOCKER_HOST_PREFIX + addr;
}

export type ContainerRuntime = "docker" | "podman";

export interface AgentInfo {
  version: string;
  name: string;
  runtime: ContainerRuntime;
}

export interface HealthCheckResult {
  healthy: boolean;
  detail: string;
  /** As the agent reports it (Go `time.Duration`, nanoseconds); measured locally when the agent gives none. */
  latency: number;
}

/**
 * A hostname the way Go's resolver takes one (`isDomainName` in net/dnsclient.go),
 * since GoDoxy dials `addr` with Go's net package: labels of letters, digits,
 * `-` and `_` (Docker service names often have underscores), a `-` never at
 * either end of a label, labels of 1-63 characters, an optional trailing dot
 * (fully qualified), at most 253 characters (254 with the dot), and not
 * all-numeric.
 */
function isHostname(host: string): boolean {
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  if (name.length === 0 || name.length > 253) return false;
  if (!/[A-Za-z_-]/.test(name)) return false;
  return name
    .split(".")
    .every((label) => /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(label));
}

/**
 * The one `host:port` splitter: `[IPv6]:port` (the brackets' content must be
 * an IPv6 address) or `host:port` with a host free of `:`, `[` and `]`, and a
 * port of 0–65535. The host is not judged further; callers that need a real
 * hostname or IPv4 address check it ({@link parseAddr} does).
 */
export function splitHostPort(
  text: string,
): { host: string; port: number; bracketed: boolean } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  if (m[1] !== undefined) return isIPv6(m[1]) ? { host: m[1], port, bracketed: true } : undefined;
  return { host: m[2] ?? "", port, bracketed: false };
}

/**
 * Splits `host:port` (hostname, IPv4 or `[IPv6]`) into its parts, or returns
 * undefined when it is not of that form or the port is outside 1–65535.
 */
export function parseAddr(addr: string): { host: string; port: number } | undefined {
  const split = splitHostPort(addr);
  if (!split || split.port < 1) return undefined;
  const { host, port } = split;
  if (split.bracketed) return { host, port };
  const valid = /^[\d.]+$/.test(host) ? isIPv4(host) : isHostname(host);
  return valid ? { host, port } : undefined;
}
