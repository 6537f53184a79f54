import { createRequire } from "node:module";
import type * as Undici from "undici";

let loaded: typeof Undici | undefined;

/**
 * undici, loaded on first use. Loading it takes a good part of the daemon's
 * start-up (node --cpu-prof), and agents open no connection before their
 * first request, so `check`, `schema` and a daemon that is not asked
 * anything yet never pay for it. It is a CommonJS package: `require` gives
 * the same module instance an `import "undici"` elsewhere in the process
 * gets, so its classes and errors stay one.
 */
export function undici(): typeof Undici {
  loaded ??= createRequire(import.meta.url)("undici") as typeof Undici;
  return loaded;
}
