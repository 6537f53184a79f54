import type { TlsPart } from "./tls.js";

export type AgentErrorCode =
  | "ERR_AGENT_CONFIG"
  | "ERR_AGENT_TLS"
  | "ERR_AGENT_TIMEOUT"
  | "ERR_AGENT_ABORTED"
  | "ERR_AGENT_REQUEST"
  | "ERR_AGENT_RESPONSE";

/**
 * Every error an agent raises. Match on `code`; `message` names the agent's
 * addr and never contains key material.
 */
export class AgentError extends Error {
  override readonly name = "AgentError";
  readonly code: AgentErrorCode;
  readonly addr: string;
  /** For `ERR_AGENT_TLS`: which part of the TLS material is at fault. */
  readonly part: TlsPart | undefined;

  constructor(
    code: AgentErrorCode,
    addr: string,
    message: string,
    options: { cause?: unknown; part?: TlsPart } = {},
  ) {
    super(
      `agent ${addr}: ${message}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.code = code;
    this.addr = addr;
    this.part = options.part;
  }
}
