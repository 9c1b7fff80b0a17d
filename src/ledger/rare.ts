import type { UsageRecord } from '../usage.ts';
import { fieldSpec, RARE_COUNTS, type RareCount } from '../usage-fields.ts';

/**
 * The rare counts' column (`rare` in both stores): a JSON object of only the rare counts a record
 * has, keyed by their snake_case names (`{"web_searches":2}`), or NULL when it has none. Most
 * records have none, so a rare count costs them nothing (a column of its own cost every record a
 * byte of SQLite's row header, NULL or not), and a new rare count needs no new column.
 */

const KEYS: readonly (readonly [RareCount, string])[] = RARE_COUNTS.map((k) => [k, fieldSpec(k).column]);

/**
 * The `rare` column of a record: its rare counts that are known, as JSON, or null when none is.
 * Written out from the table once, at load, reading each field by name: it runs for every record a
 * batch carries, on the caller's thread, and a loop reading `r[field]` (a lookup by a different
 * name each time) costs several times more.
 */
export const rareJson: (r: UsageRecord) => string | null = (() => {
  const body = KEYS.map(([field, key]) => {
    // The table's own names: checked so that nothing else can reach the source.
    if (!/^[A-Za-z][A-Za-z0-9]*$/.test(field) || !/^[a-z0-9_]+$/.test(key)) throw new Error(`not a field name: ${field}`);
    return `v = r.${field}; if (v !== null && v !== undefined) j = (j === null ? '{' : j + ',') + '"${key}":' + v;`;
  });
  return new Function(
    `'use strict'; return function rareJson(r) { let j = null, v; ${body.join('\n')} return j === null ? null : j + '}'; };`,
  )();
})();

/** Every rare count of a `rare` column (a JSON text or an object PostgreSQL parsed), null where absent. */
export function rareCounts(rare: string | Record<string, unknown> | null | undefined): Record<RareCount, number | null> {
  const o: Record<string, unknown> | null = typeof rare === 'string' ? (JSON.parse(rare) as Record<string, unknown>) : (rare ?? null);
  const out = {} as Record<RareCount, number | null>;
  for (const [field, key] of KEYS) {
    const v = o?.[key];
    out[field] = typeof v === 'number' ? v : null;
  }
  return out;
}
