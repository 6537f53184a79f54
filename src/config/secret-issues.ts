import type { ConfigIssue } from "./errors.js";
import { formatPath } from "./path.js";
import { findPrivateKeys, PRIVATE_KEY_MESSAGE } from "./secrets.js";
import type { SourcePosition } from "./yaml-source.js";

/** What {@link privateKeyIssues} needs of a parsed document. */
export interface LocatableDocument {
  readonly data: unknown;
  locate(path: readonly (string | number)[], part?: "key" | "value"): SourcePosition;
}

/**
 * One issue per place in the document, ignored parts included, that holds a
 * private key. Checked before anything else so that no other message (an
 * unknown key, a bad addr, a file that cannot be read) gets to quote it.
 * A mapping key that is the secret is named by its parent's path. `clean`
 * is a part of the document known to hold no key (see `findPrivateKeys`).
 */
export function privateKeyIssues(
  file: string,
  source: LocatableDocument,
  clean?: object,
): ConfigIssue[] {
  return findPrivateKeys(source.data, clean).map(({ path, part }) => {
    const named = formatPath(part === "key" ? path.slice(0, -1) : path);
    const what = part === "key" ? `a key here ${PRIVATE_KEY_MESSAGE}` : PRIVATE_KEY_MESSAGE;
    return {
      file,
      ...source.locate(path, part),
      ...(named ? { path: named } : {}),
      message: what,
    };
  });
}
