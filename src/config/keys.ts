import type { Alias, Document, Node } from "yaml";
import { quote } from "./path.js";
import { yaml } from "./yaml-lib.js";
import type { SourcePosition, YamlProblem } from "./yaml-source.js";

const { isAlias, isMap, isScalar, isSeq, visit } = yaml;

/**
 * Keys that `yaml` accepts but that cannot become a plain object faithfully:
 * a list or a mapping as a key (turned into a string of YAML text, with a
 * process warning on stderr), and two keys that differ as YAML values but
 * not as strings (`1` and `"1"`, `~` and `""`), of which the later one
 * silently wins. Both are refused like any duplicate key, so a key's meaning
 * never depends on how it was stringified.
 */
export function checkKeys(
  doc: Document.Parsed,
  targets: ReadonlyMap<Alias, Node>,
  at: (offset: number) => SourcePosition,
): YamlProblem | undefined {
  const deref = (node: unknown): unknown => (isAlias(node) ? targets.get(node) : node);
  let found: YamlProblem | undefined;
  visit(doc, {
    Map(_key, map) {
      const seen = new Map<string, number>();
      for (const pair of map.items) {
        const key = deref(pair.key);
        const offset = (pair.key as Node | null)?.range?.[0] ?? map.range?.[0] ?? 0;
        if (isMap(key) || isSeq(key)) {
          found = {
            ...at(offset),
            message: "a key must be a single value, not a list or a mapping",
          };
          return visit.BREAK;
        }
        if (!isScalar(key) || typeof key.value === "symbol") continue;
        const name = key.value === null ? "" : String(key.value);
        const first = seen.get(name);
        if (first !== undefined) {
          found = {
            ...at(offset),
            message: `duplicate key ${quote(name)} (first at line ${at(first).line}, written another way)`,
          };
          return visit.BREAK;
        }
        seen.set(name, offset);
      }
      return undefined;
    },
  });
  return found;
}
