// Edits made to a generated config before it is parsed, for the property
// tests that hold the loader's parsers to yaml: lines deleted, duplicated and
// re-indented, characters replaced or inserted, values swapped.
import fc from "fast-check";

export type Mutation =
  | { op: "delete"; at: number }
  | { op: "duplicate"; at: number }
  | { op: "char"; at: number; text: string }
  | { op: "insert"; at: number; text: string }
  | { op: "scalar"; at: number; scalar: string }
  | { op: "indent"; at: number; by: number };

/**
 * Mutations inserting `significant` text; also replacing a character with it
 * when `replaceChars`, and a line's value with one of `scalars` when given.
 */
export function mutationArb(options: {
  significant: readonly string[];
  replaceChars?: boolean;
  scalars?: readonly string[];
}): fc.Arbitrary<Mutation> {
  const { significant, replaceChars = false, scalars } = options;
  const text = fc.constantFrom(...significant);
  return fc.oneof(
    fc.record({ op: fc.constant("delete" as const), at: fc.nat() }),
    fc.record({ op: fc.constant("duplicate" as const), at: fc.nat() }),
    ...(replaceChars ? [fc.record({ op: fc.constant("char" as const), at: fc.nat(), text })] : []),
    fc.record({ op: fc.constant("insert" as const), at: fc.nat(), text }),
    ...(scalars
      ? [
          fc.record({
            op: fc.constant("scalar" as const),
            at: fc.nat(),
            scalar: fc.constantFrom(...scalars),
          }),
        ]
      : []),
    fc.record({
      op: fc.constant("indent" as const),
      at: fc.nat(),
      by: fc.integer({ min: -2, max: 2 }),
    }),
  );
}

/** `text` with each mutation applied in turn; positions wrap around what is there. */
export function mutate(text: string, mutations: readonly Mutation[]): string {
  let out = text;
  for (const m of mutations) {
    const lines = out.split("\n");
    const line = m.at % Math.max(1, lines.length);
    switch (m.op) {
      case "delete":
        lines.splice(line, 1);
        out = lines.join("\n");
        break;
      case "duplicate":
        lines.splice(line, 0, lines[line] ?? "");
        out = lines.join("\n");
        break;
      case "indent": {
        const current = lines[line] ?? "";
        lines[line] = m.by > 0 ? " ".repeat(m.by) + current : current.slice(-m.by);
        out = lines.join("\n");
        break;
      }
      case "char": {
        const at = m.at % Math.max(1, out.length);
        out = out.slice(0, at) + m.text + out.slice(at + 1);
        break;
      }
      case "insert": {
        const at = m.at % (out.length + 1);
        out = out.slice(0, at) + m.text + out.slice(at);
        break;
      }
      case "scalar": {
        // Replace a value: the text after the first ": " of a line.
        const current = lines[line] ?? "";
        const colon = current.indexOf(": ");
        lines[line] =
          colon < 0 ? `${current} ${m.scalar}` : `${current.slice(0, colon + 2)}${m.scalar}`;
        out = lines.join("\n");
        break;
      }
    }
  }
  return out;
}
