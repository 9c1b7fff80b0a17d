import type { UsageRecord } from '../usage.ts';
import { fieldSpec, RARE_COUNTS, type RareCount } from '../usage-fields.ts';

/**
 * The rare counts' column (`rare` in both stores): a JSON object of only the rare counts a record
 * has, keyed by their snake_case names (`{"web_searches":2}`), or NULL when it has none. Most
 * records have none, so a rare count costs them nothing (a column of its own cost every record a
 * byte of SQLite's row header, NULL or not), and a new rare count needs no new column.
 */

const KEYS: readonly (readonly [RareCount, string])[] = RARE_COUNTS.map((k) => [k, fieldSpec(k).column]);

/** The `rare` column of a record: its rare counts that are known, as JSON, or null when none is. */
export function rareJson(r: UsageRecord): string | null {
  let json: string | null = null;
  for (const [field, key] of KEYS) {
    const v = r[field];
    if (v === null || v === undefined) continue;
    json = json === null ? `{"${key}":${v}` : `${json},"${key}":${v}`;
  }
  return json === null ? null : `${json}}`;
}

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
