export {
  Agent,
  type AgentConfig,
  type AgentOptions,
  DEFAULT_AGENT_TIMEOUT_MS,
  type RequestOptions,
} from "./agent/agent.js";
export type { DeadlineOptions } from "./agent/deadline.js";
export { AgentError, type AgentErrorCode } from "./agent/errors.js";
export {
  AGENT_HOST,
  type AgentInfo,
  API_BASE,
  API_BASE_URL,
  agentAddrFromDockerHost,
  type ContainerRuntime,
  DOCKER_HOST,
  dockerHostOf,
  FAKE_DOCKER_HOST_PREFIX,
  type HealthCheckResult,
  isDockerHostAgent,
  parseAddr,
} from "./agent/protocol.js";
export { type TlsMaterial, type VerifiedTls, verifyTls } from "./agent/tls.js";
export {
  ConfigError,
  type ConfigErrorCode,
  type ConfigIssue,
  formatIssue,
} from "./config/errors.js";
export {
  type LoadOptions,
  type LoadResult,
  loadConfig,
  type PreparedConfig,
  prepareConfig,
} from "./config/load.js";
export {
  type DockerSocketInfo,
  type DockerSockets,
  type DockerSocketsOptions,
  serveDockerSockets,
  socketFileName,
} from "./consumers/docker-sockets/index.js";
export { OptionError } from "./options.js";
export { AgentPool, type AgentPoolOptions, type BatchOptions } from "./pool/pool.js";
export type { PoolSnapshot, SnapshotCause } from "./pool/snapshot.js";
export type {
  ReloadCause,
  ReloadFailure,
  ReloadResult,
  ReloadSuccess,
  ReloadTimings,
} from "./reload/result.js";
export { DEFAULT_RESYNC_MS } from "./reload/resync.js";
export type { WatchProblem } from "./reload/source.js";
export {
  type ConfigWatcher,
  DEFAULT_DEBOUNCE_MS,
  type WatchConfigOptions,
  watchConfig,
} from "./reload/watch-config.js";
