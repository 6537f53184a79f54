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

  constructor(code: AgentErrorCode, addr: string, message: string, options?: { cause?: unknown }) {
    super(`agent ${addr}: ${message}`, options);
    this.code = code;
    this.addr = addr;
  }
}
