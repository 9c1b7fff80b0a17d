/** Lengths of time in milliseconds, defined once. Days are UTC days. */
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;
