/**
 * Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection, so a
 * proxy never passes them on. Used by the docker sockets' proxy and by the
 * test agent's Docker API pass-through.
 */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);
