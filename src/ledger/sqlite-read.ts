/**
 * Reading the SQLite ledger's rows (sqlite.ts runs these): the sums' SQL by schema version, a
 * thread's rows through thread_minutes, a user's hours from rollup_user_hour, a row as its record,
 * and a filter as its WHERE clause and a grouping as its select and group-by.
 */
import type { UsageRecord } from '../usage.ts';
import { ID_SCALE } from './ids.ts';
import { rareCounts } from './rare.ts';
import { COLUMN, nanoOfPico, type Rollup } from './rollup.ts';
import { COST_SQL, IN_RARE, TOTAL_TOKENS_SQL, totalOfRow, USER_HOUR_SUMS_SQL } from './schema.ts';
import { MINUTE_MS } from './sqlite-write.ts';
import type { Dimension, LedgerFilter } from './types.ts';

/** Columns of `records` that hold an id of `strings`, and the record field each comes from. */
const DICT = [
  ['provider', 'provider'],
  ['service_type', 'serviceType'],
  ['model', 'model'],
  ['request_model', 'requestModel'],
  ['operation', 'operation'],
  ['api_key_id', 'apiKeyId'],
  ['user_id', 'userId'],
  ['thread_id', 'threadId'],
  ['agent', 'agent'],
  ['error_type', 'errorType'],
] as const;

/** A thread's records: the rows of each minute it had calls in, by their ids, that are its own. Exported for the test of its plan. */
export const THREAD_IDS_SQL = `SELECT t.id FROM thread_minutes m JOIN records t ON t.id >= m.minute * ${MINUTE_MS * ID_SCALE}
  AND t.id < (m.minute + 1) * ${MINUTE_MS * ID_SCALE} WHERE m.thread_id = ? AND t.thread_id = ?`;

/**
 * Sums over `records` of a ledger of schema `version` (older ones are read without migrating them:
 * the CLI opens ledgers read-only). Before 7 rows keep no split of the cost (none of it is split);
 * 7 and 8 keep its output side in picodollars, taken to whole nanodollars as migration 9 does;
 * from 9 the total is NULL when it is the input plus the output (TOTAL_TOKENS_SQL) and the cost may
 * be kept in nanodollars (COST_SQL).
 */
export function sumsSql(version: number): string {
  const total = version >= 9 ? TOTAL_TOKENS_SQL : 'total_tokens';
  const cost = version >= 9 ? COST_SQL : 'cost_pico';
  const out =
    version >= 9
      ? 'output_cost_nano'
      : version >= 7
        ? `(CASE WHEN output_cost_pico IS NULL OR cost_pico IS NULL THEN NULL WHEN (output_cost_pico + 500) / 1000 * 1000 > cost_pico
            THEN cost_pico / 1000 ELSE (output_cost_pico + 500) / 1000 END)`
        : 'NULL';
  return `COUNT(*) AS requests, SUM(error) AS errors, SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens,
  SUM(cached_input_tokens) AS cached_input_tokens, SUM(cache_write_tokens) AS cache_write_tokens,
  SUM(reasoning_tokens) AS reasoning_tokens, SUM(${total}) AS total_tokens, SUM(${cost}) AS cost_pico,
  SUM(${cost} IS NULL) AS unpriced, SUM(CASE WHEN ${out} IS NULL THEN ${cost} END) AS unsplit_cost_pico,
  IFNULL(SUM(${out}), 0) AS output_cost_nano, SUM(input_tokens IS NULL) AS input_tokens_unknown,
  SUM(output_tokens IS NULL) AS output_tokens_unknown, SUM(cached_input_tokens IS NULL) AS cached_input_tokens_unknown,
  SUM(cache_write_tokens IS NULL) AS cache_write_tokens_unknown, SUM(reasoning_tokens IS NULL) AS reasoning_tokens_unknown,
  SUM(${total} IS NULL) AS total_tokens_unknown`;
}

/**
 * The statement that reads one user's hourly buckets: the hours h of [?, ?) (bound first, not
 * empty), one row each, and for each a seek of (hour, user_id) in rollup_user_hour, so that it
 * reads that user's buckets only, not every user's of those hours. `where` filters on the user
 * (and may add more), `select` and `group` are #groupSql's. Exported for the test of its plan.
 */
export function userHoursSql(select: string, where: string, group: string): string {
  return `WITH RECURSIVE hours(h) AS (SELECT ? UNION ALL SELECT h + 1 FROM hours WHERE h + 1 < ?)
    SELECT ${select}${USER_HOUR_SUMS_SQL} FROM hours CROSS JOIN rollup_user_hour ${where} AND hour = h ${group}`;
}

/**
 * A row of `records` as the record it keeps, for a ledger of schema `version` (older ones are read
 * without migrating them); `nameOf` gives a dictionary id's string.
 */
export function rowToRecord(
  row: Record<string, number | string | null>,
  version: number,
  nameOf: (id: number | null) => string | null,
): UsageRecord & { id: number } {
  const v9 = version >= 9;
  // Schema 9 keeps a cost of whole nanodollars as their negative (storedCost).
  const kept = (v9 ? row.cost : row.cost_pico) as number | null;
  const pico = kept !== null && kept < 0 ? -kept * 1000 : kept;
  // The output side, whole nanodollars (schema 9; 7 and 8 kept picodollars, taken to nanodollars
  // as migration 9 does); undefined before 7, read without migrating: unknown, as NULL is.
  const outputNano = v9 ? (row.output_cost_nano as number | null) : nanoOfPico(pico, (row.output_cost_pico ?? null) as number | null);
  const outputPico = outputNano === null ? null : outputNano * 1000;
  const input = row.input_tokens as number | null;
  const output = row.output_tokens as number | null;
  // Schema 9: request model, error type and message and metadata in `rare`, beside the rare counts.
  const rare = v9 && row.rare !== null ? (JSON.parse(row.rare as string) as Record<string, unknown>) : null;
  const fromRare = (key: string) => (rare?.[key] ?? null) as number | string | null;
  const dict: Record<string, string | null> = {};
  for (const [col, field] of DICT) dict[field] = nameOf((v9 && IN_RARE.has(col) ? fromRare(col) : row[col]) as number | null);
  const metadata = v9 ? fromRare('metadata') : row.metadata === null ? null : JSON.parse(row.metadata as string);
  return {
    id: row.id as number,
    timestamp: Math.floor((row.id as number) / ID_SCALE),
    provider: dict.provider as string,
    serviceType: dict.serviceType as UsageRecord['serviceType'],
    model: dict.model as string,
    requestModel: dict.requestModel ?? null,
    operation: dict.operation as string,
    inputTokens: input,
    outputTokens: output,
    cachedInputTokens: row.cached_input_tokens as number | null,
    cacheWriteTokens: row.cache_write_tokens as number | null,
    reasoningTokens: row.reasoning_tokens as number | null,
    totalTokens: v9 ? totalOfRow(input, output, row.total_tokens as number | null) : (row.total_tokens as number | null),
    // A ledger older than schema 6, read without migrating it (readonly), has a column for each.
    ...rareCounts(v9 ? rare : row.rare === undefined ? row : (row.rare as string | null)),
    costUsd: pico === null ? null : pico / 1e12,
    costPicoUsd: pico,
    inputCostUsd: pico === null || outputPico === null ? null : (pico - outputPico) / 1e12,
    outputCostUsd: pico === null || outputPico === null ? null : outputPico / 1e12,
    apiKeyId: dict.apiKeyId ?? null,
    userId: dict.userId ?? null,
    threadId: dict.threadId ?? null,
    agent: dict.agent ?? null,
    durationMs: row.duration_us === null ? null : (row.duration_us as number) / 1000,
    error: row.error === 1,
    errorType: dict.errorType ?? null,
    errorMessage: (v9 ? fromRare('error_message') : row.error_message) as string | null,
    metadata: metadata as Record<string, unknown> | null,
  };
}

/**
 * WHERE clause and parameters of a filter over `records` (or a rollup, for the fields it has), of a ledger of schema
 * `version`; `lookupId` gives a string's id, undefined when never recorded (the filter then matches nothing: null).
 */
export function whereSql(
  filter: LedgerFilter,
  rollup: Rollup | undefined,
  lookupId: (value: string) => number | undefined,
  version: number,
): { sql: string; params: (number | string)[] } | null {
  const parts: string[] = [];
  const params: (number | string)[] = [];
  // Rollup ranges arrive aligned to their buckets; record ranges are whole milliseconds of ids.
  // A thread's rows are read by their ids (thread_minutes): `+id` keeps SQLite from scanning the range instead.
  const thread = rollup === undefined && filter.threadId !== undefined;
  const column = rollup?.time ?? (thread ? '+id' : 'id');
  const at = (ms: number) => (rollup === undefined ? Math.ceil(ms) * ID_SCALE : Math.ceil(ms / rollup.unitMs));
  if (filter.since !== undefined) {
    parts.push(`${column} >= ?`);
    params.push(at(filter.since));
  }
  if (filter.until !== undefined) {
    parts.push(`${column} < ?`);
    params.push(at(filter.until));
  }
  for (const field of Object.keys(COLUMN) as (keyof typeof COLUMN)[]) {
    const v = filter[field];
    if (v === undefined) continue;
    const id = lookupId(v);
    // A value never recorded matches nothing.
    if (id === undefined) return null;
    if (field === 'threadId' && thread) {
      parts.push(`id IN (${THREAD_IDS_SQL})`);
      params.push(id, id);
      continue;
    }
    parts.push(`${COLUMN[field]} = ?`);
    params.push(id);
  }
  // The users' rollups hold only records with a user; the hourly one is never read for these.
  if (filter.withUser === true && rollup === undefined) parts.push('user_id IS NOT NULL');
  if (filter.runId !== undefined) {
    // Rollups do not keep runs; callers pass runs to the rows only.
    if (rollup !== undefined) throw new Error('a run filter reads the rows, not the rollups');
    // The terms of the records_run index (its WHERE too, which SQLite cannot infer from the other).
    parts.push(
      version >= 9
        ? `json_extract(rare, '$.metadata.run_id') IS NOT NULL AND json_extract(rare, '$.metadata.run_id') = ?`
        : `metadata IS NOT NULL AND json_extract(metadata, '$.run_id') = ?`,
    );
    params.push(filter.runId);
  }
  return { sql: parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`, params };
}

/** Select and group-by clauses; `hourExpr` is the hour number, `dayExpr` the day number; `noUser`: every row as if it had no user. */
export function groupSql(by: readonly Dimension[], hourExpr: string, dayExpr: string, noUser = false): { select: string; group: string } {
  const cols = by.map((d) => {
    if (d === 'day') return `${dayExpr} AS day`;
    if (d === 'hour') return `${hourExpr} AS hour`;
    if (d === 'userId' && noUser) return 'NULL AS userId';
    return `${COLUMN[d]} AS ${d}`;
  });
  return { select: cols.map((c) => `${c}, `).join(''), group: by.length === 0 ? '' : `GROUP BY ${by.join(', ')}` };
}
