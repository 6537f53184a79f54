/** Longest label value taken from what an agent reports about itself. */
export const MAX_REPORTED_LABEL_CHARS = 64;

/**
 * A value an agent reports (its `/info` version) as a metric label: one line
 * of printable text, cut to {@link MAX_REPORTED_LABEL_CHARS} with the cut
 * marked. Names and addrs need none of this: the config's schema has
 * validated them; a remote agent's answer has not been.
 */
export function reportedLabel(value: string): string {
  const printable = value.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, "\uFFFD");
  return printable.length > MAX_REPORTED_LABEL_CHARS
    ? `${printable.slice(0, MAX_REPORTED_LABEL_CHARS)}…`
    : printable;
}
