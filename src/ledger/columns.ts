import type { UsageRecord } from '../usage.ts';
import { FIELD_LIST } from '../usage-fields.ts';

/**
 * The record fields in export order, with their snake_case names (CSV headers, JSON export and
 * archive keys, SQL columns of the `usage_records` view), from the table of record fields.
 */
export const RECORD_COLUMNS: readonly (readonly [keyof UsageRecord, string])[] = FIELD_LIST.map(([field, f]) => [field, f.column]);

/** A record with snake_case keys and an ISO 8601 timestamp, as exports and archives hold it. */
export function toSnakeRecord(r: UsageRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, name] of RECORD_COLUMNS) out[name] = field === 'timestamp' ? new Date(r.timestamp).toISOString() : r[field];
  return out;
}

/** The reverse of {@link toSnakeRecord}; the exact cost comes back from the USD figure. */
export function fromSnakeRecord(o: Record<string, unknown>): UsageRecord {
  const r: Record<string, unknown> = {};
  for (const [field, name] of RECORD_COLUMNS) r[field] = o[name] ?? (field === 'error' ? false : null);
  r.timestamp = Date.parse(String(o.timestamp));
  r.costPicoUsd =
    typeof o.cost_pico_usd === 'number' ? o.cost_pico_usd : typeof r.costUsd === 'number' ? Math.round(r.costUsd * 1e12) : null;
  return r as unknown as UsageRecord;
}
