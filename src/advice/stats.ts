/** Robust statistics for the advice: medians, the median absolute deviation, percentiles. */

/** The median of sorted values (the mean of the middle two for an even count); NaN for none. */
export function medianSorted(sorted: readonly number[]): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const mid = n >> 1;
  return n % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The median and the median absolute deviation (MAD) of values, in any order. */
export function medianMad(values: readonly number[]): { median: number; mad: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const median = medianSorted(sorted);
  const dev = sorted.map((v) => Math.abs(v - median)).sort((a, b) => a - b);
  return { median, mad: medianSorted(dev) };
}

/**
 * The modified z-score cut of Iglewicz and Hoaglin: a value whose 0.6745 · (x − median) / MAD is
 * above 3.5 is an outlier (NIST/SEMATECH e-Handbook of Statistical Methods, 1.3.5.17,
 * https://www.itl.nist.gov/div898/handbook/eda/section3/eda35h.htm). The advice also wants an
 * outlier to be at least twice the median, so that a MAD of almost nothing (most calls the same
 * size) does not make every slightly longer prompt one. Returns the smallest outlying value.
 */
export function outlierBound(median: number, mad: number): number {
  const z = mad > 0 ? median + (3.5 / 0.6745) * mad : median + 1;
  return Math.max(z, 2 * median);
}

/** The p-th percentile (0 < p ≤ 1) of sorted values by nearest rank; NaN for none. */
export function percentileSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil(p * sorted.length));
  return sorted[rank - 1] as number;
}
