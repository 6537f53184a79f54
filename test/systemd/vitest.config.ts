import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// `npm run test:systemd`: boots a container, so it runs on its own, one file
// at a time, with room for a first debootstrap.
export default defineConfig({
  test: {
    root: fileURLToPath(new URL("../..", import.meta.url)),
    include: ["test/systemd/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 25 * 60_000,
    pool: "forks",
    fileParallelism: false,
    reporters: ["default"],
  },
});
