/**
 * Every error an agent raises. Match on `code`; `message` names the agent's
 * addr and never contains key material.
 */
export class AgentError extends Error {
    name = "AgentError";
    code;
    addr;
    constructor(code, addr, message, options) {
        super(`agent ${addr}: ${message}`, options);
        this.code = code;
        this.addr = addr;
    }
}
