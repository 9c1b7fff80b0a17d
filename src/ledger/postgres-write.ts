/**
 * Writing a batch to the PostgreSQL ledger (postgres.ts runs it): the statement, and the batch's
 * rows and rollup buckets as one binary array per column.
 */
import type { UsageRecord } from '../usage.ts';
import { binaryArray } from './pg-binary.ts';
import { rareJson } from './rare.ts';
import { DAY_MS, HOUR_MS, outputCostNano, RollupBuckets, type RowCounts, rollupSums } from './rollup.ts';

/**
 * The rollups' sums, in rollupSums' order: a column each (SQLite's rollup_user_hour packs the
 * unknown counts into one, and SQLite keeps the output side in nanodollars, for bytes; here a
 * bigint is 8 bytes whatever it holds). The output side holds whole nanodollars (outputPico), as SQLite's.
 */
const ROLLUP_SUM_COLUMNS = [
  'requests',
  'errors',
  'input_tokens',
  'output_tokens',
  'cached_input_tokens',
  'cache_write_tokens',
  'reasoning_tokens',
  'total_tokens',
  'cost_pico',
  'unpriced',
  'unsplit_cost_pico',
  'output_cost_pico',
  'input_tokens_unknown',
  'output_tokens_unknown',
  'cached_input_tokens_unknown',
  'cache_write_tokens_unknown',
  'reasoning_tokens_unknown',
  'total_tokens_unknown',
] as const;
export const ROLLUP_SUMS_SQL = ROLLUP_SUM_COLUMNS.map((c) => `SUM(${c})::bigint AS ${c}`).join(', ');

/** The columns of `records` a write fills, with the type of their unnest() array, in order. */
const INSERT_COLUMNS = [
  ['ts', 'bigint'],
  ['provider', 'text'],
  ['service_type', 'text'],
  ['model', 'text'],
  ['request_model', 'text'],
  ['operation', 'text'],
  ['input_tokens', 'bigint'],
  ['output_tokens', 'bigint'],
  ['cached_input_tokens', 'bigint'],
  ['cache_write_tokens', 'bigint'],
  ['reasoning_tokens', 'bigint'],
  ['total_tokens', 'bigint'],
  ['cost_pico', 'bigint'],
  ['api_key_id', 'text'],
  ['user_id', 'text'],
  ['thread_id', 'text'],
  ['agent', 'text'],
  ['duration_us', 'bigint'],
  ['error', 'boolean'],
  ['error_type', 'text'],
  ['error_message', 'text'],
  ['metadata', 'jsonb'],
  ['rare', 'jsonb'],
  ['output_cost_pico', 'bigint'],
] as const;

/** The rollups a write adds to: their key columns in primary-key order, and which of those are times (integers; the rest text). */
const ROLLUP_TABLES = [
  { table: 'rollup_hour', keys: ['hour', 'provider', 'service_type', 'model', 'operation', 'agent', 'api_key_id'], times: [0] },
  { table: 'rollup_user_day', keys: ['user_id', 'day', 'provider', 'service_type', 'model', 'agent'], times: [1] },
  { table: 'rollup_user_hour', keys: ['hour', 'user_id', 'provider', 'service_type', 'model', 'agent'], times: [0] },
] as const;

/**
 * A batch in one statement, so one round trip and one implicit transaction: the rows, the three
 * rollup upserts and the batch's token, as data-modifying CTEs. Each column goes as one binary
 * array parameter (pg-binary.ts) and the rows come from unnest(): a multi-row VALUES list binds
 * rows × 23 parameters (at most 65,535: about 2,800 rows a statement) and is parsed anew for each
 * batch size; this stays one prepared statement whatever the batch (bench/postgres.ts measures it
 * beside plain multi-row inserts). The rollup rows are summed per bucket key in JS first, so each
 * upsert touches a bucket once, and sorted by key: every instance runs the same statement and
 * takes its row locks in the same order, table after table, so two writers wait, never deadlock.
 */
export const WRITE_SQL = (() => {
  let p = 0;
  const param = (t: string) => `$${++p}::${t}[]`;
  const records = `INSERT INTO records (${INSERT_COLUMNS.map(([c]) => c).join(', ')})
    SELECT ${INSERT_COLUMNS.map(([c, t]) => (t === 'jsonb' ? `${c}::jsonb` : c)).join(', ')}
    FROM unnest(${INSERT_COLUMNS.map(([, t]) => param(t === 'jsonb' ? 'text' : t)).join(', ')})
    AS u(${INSERT_COLUMNS.map(([c]) => c).join(', ')})`;
  const rollups = ROLLUP_TABLES.map(({ table, keys, times }) => {
    const cols = [...keys, ...ROLLUP_SUM_COLUMNS];
    const types = cols.map((_c, i) => (i < keys.length ? ((times as readonly number[]).includes(i) ? 'integer' : 'text') : 'bigint'));
    return `${table} AS (INSERT INTO ${table} (${cols.join(', ')}) SELECT * FROM unnest(${types.map(param).join(', ')})
      ON CONFLICT (${keys.join(', ')}) DO UPDATE SET ${ROLLUP_SUM_COLUMNS.map((c) => `${c} = ${table}.${c} + excluded.${c}`).join(', ')})`;
  });
  return `WITH records AS (${records}), ${rollups.join(', ')}
    INSERT INTO tokenmeter_batches (token, written_at) VALUES ($${++p}::uuid, $${++p}::bigint)`;
})();

/**
 * A record's cost's output side in picodollars, as the ledger keeps it: whole nanodollars, as
 * SQLite's (outputCostNano), so that both stores answer alike; null when its split is unknown.
 */
function outputPico(r: UsageRecord): number | null {
  const nano = outputCostNano(r.costPicoUsd, r.outputCostUsd);
  return nano === null ? null : nano * 1000;
}

/** The batch as one binary array per column. */
export function batchColumns(batch: readonly UsageRecord[]): Buffer[] {
  const cols: unknown[][] = INSERT_COLUMNS.map(() => new Array(batch.length));
  for (let i = 0; i < batch.length; i++) {
    const r = batch[i] as UsageRecord;
    const v = [
      Math.floor(r.timestamp),
      r.provider,
      r.serviceType,
      r.model,
      r.requestModel,
      r.operation,
      r.inputTokens,
      r.outputTokens,
      r.cachedInputTokens,
      r.cacheWriteTokens,
      r.reasoningTokens,
      r.totalTokens,
      r.costPicoUsd,
      r.apiKeyId,
      r.userId,
      r.threadId,
      r.agent,
      r.durationMs === null ? null : Math.round(r.durationMs * 1000),
      r.error,
      r.errorType,
      r.errorMessage,
      r.metadata === null ? null : JSON.stringify(r.metadata),
      rareJson(r),
      outputPico(r),
    ];
    for (let c = 0; c < v.length; c++) (cols[c] as unknown[])[i] = v[c] ?? null;
  }
  return cols.map((col, c) => {
    const type = (INSERT_COLUMNS[c] as (typeof INSERT_COLUMNS)[number])[1];
    return binaryArray(type === 'jsonb' ? 'text' : type, col);
  });
}

/** The batch's sums per bucket of the three rollups (ROLLUP_TABLES' order), each as one binary array per column, buckets in key order. */
export function batchRollups(batch: readonly UsageRecord[]): Buffer[] {
  // Strings as small integers for RollupBuckets' keys, and back.
  const ids = new Map<string, number>();
  const names: string[] = [];
  const id = (s: string | null): number => {
    const v = s ?? '';
    let k = ids.get(v);
    if (k === undefined) {
      k = names.length;
      names.push(v);
      ids.set(v, k);
    }
    return k;
  };
  const hours = new RollupBuckets();
  const users = new RollupBuckets();
  const userHours = new RollupBuckets();
  for (const r of batch) {
    const ts = Math.floor(r.timestamp);
    const [p, st, m, o, a, k] = [id(r.provider), id(r.serviceType), id(r.model), id(r.operation), id(r.agent), id(r.apiKeyId)];
    const row: RowCounts = {
      error: r.error ? 1 : 0,
      input: r.inputTokens,
      output: r.outputTokens,
      cached: r.cachedInputTokens,
      cacheWrite: r.cacheWriteTokens,
      reasoning: r.reasoningTokens,
      total: r.totalTokens,
      cost: r.costPicoUsd,
      outputCost: outputPico(r),
    };
    hours.add([Math.floor(ts / HOUR_MS), p, st, m, o, a, k], row);
    if (r.userId !== null) {
      const u = id(r.userId);
      users.add([u, Math.floor(ts / DAY_MS), p, st, m, a], row);
      userHours.add([Math.floor(ts / HOUR_MS), u, p, st, m, a], row);
    }
  }
  return [hours, users, userHours].flatMap((buckets, t) => {
    const { keys, times } = ROLLUP_TABLES[t] as (typeof ROLLUP_TABLES)[number];
    const isTime = (i: number) => (times as readonly number[]).includes(i);
    const rows = [...buckets].map((s) => s.key.map((v, i) => (isTime(i) ? v : names[v])).concat(rollupSums(s)));
    const cmp = (a: unknown, b: unknown) => (a === b ? 0 : (a as number | string) < (b as number | string) ? -1 : 1);
    rows.sort((a, b) => {
      for (let i = 0; i < keys.length; i++) {
        const c = cmp(a[i], b[i]);
        if (c !== 0) return c;
      }
      return 0;
    });
    return [...keys, ...ROLLUP_SUM_COLUMNS].map((_c, c) =>
      binaryArray(
        c < keys.length ? (isTime(c) ? 'integer' : 'text') : 'bigint',
        rows.map((r) => r[c]),
      ),
    );
  });
}
