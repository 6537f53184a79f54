/**
 * Alias expansion allowed in one file, counted in nodes. A legitimate file
 * that shares one `tls:` block among 10,000 agents expands to ~70,000; a
 * "billion laughs" file to 10^9. Checked before anything is expanded, on
 * both the fast and the located path.
 */
export const ALIAS_EXPANSION_LIMIT = 1_000_000;
