import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/** `npm run test:docker`: the docker CLI against podman behind a test agent (slow: containers). */
export default defineConfig({
  test: {
    root: fileURLToPath(new URL("../..", import.meta.url)),
    include: ["test/docker-sockets/*.e2e.ts"],
    testTimeout: 90_000,
    hookTimeout: 120_000,
    pool: "forks",
    reporters: ["default"],
  },
});
