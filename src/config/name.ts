/*
 * An agent's name is shown in tables, terminals, logs and Prometheus labels,
 * so it must read as what it is: one line of visible text. A U+202E (right-
 * to-left override) would make `evil` display as something else, a control
 * character can rewrite a terminal, and a name of spaces names nothing.
 */

/** The longest name accepted: a DNS name's length, since a name is often a hostname. */
export const MAX_NAME_CHARS = 253;

/**
 * Characters a name may not hold: controls (C0, DEL, C1), format characters
 * (bidi embeddings, overrides and isolates, zero-width spaces, BOM) except the
 * zero-width joiner emoji sequences need, line and paragraph separators, and
 * lone surrogates.
 */
const FORBIDDEN = /[\p{Cc}\p{Zl}\p{Zp}]|(?!\u200D)\p{Cf}|\p{Cs}/u;

/**
 * Why `name` is not acceptable as an agent name, as a short phrase that never
 * repeats the name (it may be anything), or undefined when it is fine.
 */
export function checkName(name: string): string | undefined {
  if (name.length > MAX_NAME_CHARS) {
    return `too long (${name.length} characters; at most ${MAX_NAME_CHARS})`;
  }
  if (name.trim() === "") return "must not be blank";
  const bad = FORBIDDEN.exec(name);
  if (bad) {
    const codePoint = (bad[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0");
    const position = [...name.slice(0, bad.index)].length + 1;
    return `must be one line of printable text; character ${position} is U+${codePoint}, a control or text-direction character`;
  }
  return undefined;
}
