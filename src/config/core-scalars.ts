/*
 * How YAML 1.2's core schema (yaml's default) types a plain scalar: null,
 * bool, int, float, else a string. Shared by both parsers of the accepted
 * path, so they type scalars the way the located path does.
 */

// YAML 1.2.2 §10.3.2 (core schema), tag resolution of plain scalars.
const NULL = /^(?:~|null|Null|NULL)?$/;
const BOOL = /^(?:true|True|TRUE|false|False|FALSE)$/;
const INT = /^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$/;
const FLOAT =
  /^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;

// What each pattern's match starts with: most scalars (names, addrs, paths)
// are told apart by their first character, without running 4 patterns each.
const NULL_START = "~nN";
const BOOL_START = "tTfF";
const NUMBER_START = "0123456789+-.";

/** Whether a plain scalar is null: `~`, `null`, `Null`, `NULL` or nothing. */
export const isCoreNull = (text: string): boolean =>
  (text.length === 0 || NULL_START.includes(text[0] as string)) && NULL.test(text);

/** Whether a plain scalar is a bool: `true` or `false`, in three spellings each. */
export const isCoreBool = (text: string): boolean =>
  BOOL_START.includes(text[0] as string) && BOOL.test(text);

/** Whether a plain scalar is an int: decimal with a sign, `0o` octal or `0x` hex. */
export const isCoreInt = (text: string): boolean =>
  NUMBER_START.includes(text[0] as string) && INT.test(text);

/** Whether a plain scalar is a float, `.inf` and `.nan` included. */
export const isCoreFloat = (text: string): boolean =>
  NUMBER_START.includes(text[0] as string) && FLOAT.test(text);

/** The value of a scalar {@link isCoreBool} accepts. */
export const coreBool = (text: string): boolean => text.charAt(0).toLowerCase() === "t";

/** The value of a scalar {@link isCoreInt} accepts (a Number, as yaml gives without `intAsBigInt`). */
export function coreInt(text: string): number {
  if (text.startsWith("0o")) return Number.parseInt(text.slice(2), 8);
  if (text.startsWith("0x")) return Number.parseInt(text.slice(2), 16);
  return Number.parseInt(text, 10);
}

/** The value of a scalar {@link isCoreFloat} accepts. */
export function coreFloat(text: string): number {
  const lower = text.toLowerCase();
  if (lower.endsWith(".nan")) return Number.NaN;
  if (lower.endsWith(".inf")) return lower.startsWith("-") ? -Infinity : Infinity;
  return Number.parseFloat(text);
}

/** The value of a plain (unquoted) scalar, typed as the core schema types it. */
export function corePlainValue(text: string): unknown {
  const first = text[0];
  if (first === undefined) return null;
  // Most scalars are names, addrs and paths: one look at the first character.
  if (!NULL_START.includes(first) && !BOOL_START.includes(first) && !NUMBER_START.includes(first))
    return text;
  if (isCoreNull(text)) return null;
  if (isCoreBool(text)) return coreBool(text);
  if (isCoreInt(text)) return coreInt(text);
  if (isCoreFloat(text)) return coreFloat(text);
  return text;
}
