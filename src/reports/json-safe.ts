/** A deep copy of `v` with every bigint (the exact picodollar sums) as its decimal string, as the REST API writes them. */
function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof Date) return v.toISOString();
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = plain(x);
  return out;
}

/**
 * Lets `JSON.stringify` write a report holding bigints (it throws on them): gives `report` a
 * non-enumerable `toJSON` that writes them as decimal strings, as `/v1` and `--json` do. The
 * report itself keeps its bigints, and comparisons and spreads do not see the method.
 */
export function jsonSafe<T extends object>(report: T): T {
  const copy = () => (Array.isArray(report) ? [...report] : { ...report });
  Object.defineProperty(report, 'toJSON', { value: () => plain(copy()), enumerable: false, configurable: true });
  return report;
}
