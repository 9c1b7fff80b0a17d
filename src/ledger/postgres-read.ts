/**
 * Reading the PostgreSQL ledger (postgres.ts runs these): a filter as its WHERE clause, a grouping as
 * its select and group-by, the rows' sums, and a row as its record.
 */
import type { UsageRecord } from '../usage.ts';
import { rareCounts } from './rare.ts';
import { COLUMN, type Rollup } from './rollup.ts';
import type { Dimension, LedgerFilter } from './types.ts';

/** The sums of `records` rows, by the names RowSums reads (the rollups: ROLLUP_SUMS_SQL). */
export const SUMS_SQL = `COUNT(*) AS requests, COUNT(*) FILTER (WHERE error) AS errors, SUM(input_tokens)::bigint AS input_tokens,
  SUM(output_tokens)::bigint AS output_tokens, SUM(cached_input_tokens)::bigint AS cached_input_tokens,
  SUM(cache_write_tokens)::bigint AS cache_write_tokens, SUM(reasoning_tokens)::bigint AS reasoning_tokens,
  SUM(total_tokens)::bigint AS total_tokens, SUM(cost_pico)::bigint AS cost_pico, COUNT(*) FILTER (WHERE cost_pico IS NULL) AS unpriced,
  SUM(cost_pico) FILTER (WHERE output_cost_pico IS NULL)::bigint AS unsplit_cost_pico, SUM(output_cost_pico)::bigint AS output_cost_pico,
  COUNT(*) FILTER (WHERE input_tokens IS NULL) AS input_tokens_unknown, COUNT(*) FILTER (WHERE output_tokens IS NULL) AS output_tokens_unknown,
  COUNT(*) FILTER (WHERE cached_input_tokens IS NULL) AS cached_input_tokens_unknown,
  COUNT(*) FILTER (WHERE cache_write_tokens IS NULL) AS cache_write_tokens_unknown,
  COUNT(*) FILTER (WHERE reasoning_tokens IS NULL) AS reasoning_tokens_unknown,
  COUNT(*) FILTER (WHERE total_tokens IS NULL) AS total_tokens_unknown`;

const n = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** WHERE clause and parameters of a filter over `records` (or a rollup, for the fields it has); `p`: parameters so far. */
export function whereSql(filter: LedgerFilter, rollup?: Rollup, p: unknown[] = []): { sql: string; params: unknown[] } {
  const parts: string[] = [];
  const params = p;
  const column = rollup?.time ?? 'ts';
  const at = (ms: number) => (rollup === undefined ? Math.ceil(ms) : Math.ceil(ms / rollup.unitMs));
  if (filter.since !== undefined) {
    params.push(at(filter.since));
    parts.push(`${column} >= $${params.length}`);
  }
  if (filter.until !== undefined) {
    params.push(at(filter.until));
    parts.push(`${column} < $${params.length}`);
  }
  for (const field of Object.keys(COLUMN) as (keyof typeof COLUMN)[]) {
    const v = filter[field];
    if (v === undefined) continue;
    params.push(v);
    parts.push(`${COLUMN[field]} = $${params.length}`);
  }
  // The users' rollups hold only records with a user; the hourly one is never read for these.
  if (filter.withUser === true && rollup === undefined) parts.push('user_id IS NOT NULL');
  if (filter.runId !== undefined) {
    if (rollup !== undefined) throw new Error('a run filter reads the rows, not the rollups');
    params.push(filter.runId);
    parts.push(`metadata IS NOT NULL AND metadata ->> 'run_id' = $${params.length}`);
  }
  return { sql: parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`, params };
}

/** Select and group-by clauses (by position); `noUser`: every row as if it had no user. */
export function groupSql(by: readonly Dimension[], hourExpr: string, dayExpr: string, noUser = false): { select: string; group: string } {
  const cols = by.map((d, i) => {
    const as = `AS d${i}`;
    if (d === 'day') return `${dayExpr} ${as}`;
    if (d === 'hour') return `${hourExpr} ${as}`;
    if (d === 'userId' && noUser) return `NULL::text ${as}`;
    return `${COLUMN[d]} ${as}`;
  });
  return {
    select: cols.map((c) => `${c}, `).join(''),
    group: by.length === 0 ? '' : `GROUP BY ${by.map((_, i) => i + 1).join(', ')}`,
  };
}

/** A row of `records` (all its columns) as its record. */
export function rowToRecord(row: Record<string, unknown>): UsageRecord & { id: number } {
  const pico = n(row.cost_pico);
  const outputPico = n(row.output_cost_pico);
  return {
    id: Number(row.id),
    timestamp: Number(row.ts),
    provider: row.provider as string,
    serviceType: row.service_type as UsageRecord['serviceType'],
    model: row.model as string,
    requestModel: (row.request_model as string | null) ?? null,
    operation: row.operation as string,
    inputTokens: n(row.input_tokens),
    outputTokens: n(row.output_tokens),
    cachedInputTokens: n(row.cached_input_tokens),
    cacheWriteTokens: n(row.cache_write_tokens),
    reasoningTokens: n(row.reasoning_tokens),
    totalTokens: n(row.total_tokens),
    ...rareCounts(row.rare as Record<string, unknown> | null),
    costUsd: pico === null ? null : pico / 1e12,
    costPicoUsd: pico,
    inputCostUsd: pico === null || outputPico === null ? null : (pico - outputPico) / 1e12,
    outputCostUsd: pico === null || outputPico === null ? null : outputPico / 1e12,
    apiKeyId: (row.api_key_id as string | null) ?? null,
    userId: (row.user_id as string | null) ?? null,
    threadId: (row.thread_id as string | null) ?? null,
    agent: (row.agent as string | null) ?? null,
    durationMs: row.duration_us === null ? null : Number(row.duration_us) / 1000,
    error: row.error === true,
    errorType: (row.error_type as string | null) ?? null,
    errorMessage: (row.error_message as string | null) ?? null,
    metadata: (row.metadata as Record<string, unknown> | null) ?? null,
  };
}
