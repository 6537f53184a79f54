/** Milliseconds in a day: certificate lifetimes and expiry warnings are counted in days. */
export const DAY_MS = 86_400_000;
