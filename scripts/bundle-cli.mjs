// Bundles the CLI into dist/daemon/cli.js, replacing what tsc wrote there.
//
// Why: rxjs resolves to its CommonJS build under Node (its "node" export
// condition), about 400 files required one by one, and zod and our own
// dist/ add about 150 ES modules more; resolving, reading and compiling
// them was most of the daemon's start-up (node --cpu-prof). One file is
// measured in the README's benchmark (start → READY=1). Packages that are
// loaded lazily or only for some commands (undici, yaml, prom-client, pino's
// workers, the native unix-dgram) stay external, as does everything in
// node_modules that expects its own file layout. dist/index.js and the other
// modules tsc wrote stay as they are for the library.
import { rename, rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { build } from "rolldown";

const dist = fileURLToPath(new URL("../dist/daemon/", import.meta.url));
const EXTERNAL = [
  "pino",
  "pino-pretty",
  "prom-client",
  "undici",
  "yaml",
  "unix-dgram",
  "@peculiar/x509",
  "reflect-metadata",
  "fflate",
];

const out = `${dist}.bundle/`;
await rm(out, { recursive: true, force: true });
await build({
  input: { cli: `${dist}cli.js` },
  platform: "node",
  external: (id) => EXTERNAL.some((name) => id === name || id.startsWith(`${name}/`)),
  logLevel: "warn",
  output: {
    dir: out,
    format: "esm",
    // Chunks keep each command's code (and the externals it imports) behind
    // its dynamic import: one file would import every external up front.
    entryFileNames: "[name].js",
    chunkFileNames: "chunks/[name]-[hash].js",
    sourcemap: false,
  },
});
await rm(`${dist}chunks`, { recursive: true, force: true });
await rm(`${dist}cli.js.map`, { force: true });
await rename(`${out}chunks`, `${dist}chunks`);
await rename(`${out}cli.js`, `${dist}cli.js`);
await rm(out, { recursive: true, force: true });
