import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const DIST = fileURLToPath(new URL("../../dist/", import.meta.url));

/** Every module `entry` loads before it runs (static imports, followed through dist), and the packages among them. */
function staticGraph(entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, "utf8");
    // `import … from "x"` and `import "x"`, not `import("x")`: what loads up front.
    for (const [, spec] of text.matchAll(
      /^(?:import|export)\s(?:[^"'\n;]*?\sfrom\s)?["']([^"'\n]+)["'];?$/gm,
    )) {
      if (!spec) continue;
      if (spec.startsWith(".")) visit(resolve(dirname(file), spec));
      else if (!spec.startsWith("node:")) packages.add(spec);
    }
  };
  visit(entry);
  return {
    files: [...files].map((f) => f.slice(DIST.length)),
    packages: [...packages],
  };
}

describe("agentpool status loads only what it needs", () => {
  it.skipIf(!existsSync(`${DIST}daemon/commands/status.js`))(
    "reads the views' shapes and the address parser, not prom-client, undici, the prober or the server",
    () => {
      const { files, packages } = staticGraph(`${DIST}daemon/commands/status.js`);
      expect(files).toContain("daemon/status/listen.js");
      expect(packages).toEqual([]);
      for (const heavy of [
        "status/prober.js",
        "status/server.js",
        "status/metrics.js",
        "agent/agent.js",
      ])
        expect(files.some((f) => f.endsWith(heavy))).toBe(false);
    },
  );
});
