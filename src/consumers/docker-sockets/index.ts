export { socketFileName } from "./names.js";
export {
  type DockerSocketInfo,
  type DockerSockets,
  type DockerSocketsOptions,
  serveDockerSockets,
} from "./serve.js";
