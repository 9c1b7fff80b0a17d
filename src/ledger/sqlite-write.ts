import type BetterSqlite3 from 'better-sqlite3';
import { AT, type EncodedBatch, WIDTH } from './encoded-batch.ts';
import { ID_SCALE, IdAllocator } from './ids.ts';
import { DAY_MS, HOUR_MS, outputCostNano, RollupBuckets, type RowCounts } from './rollup.ts';
import { ROLLUP_KEY_COLUMNS, ROLLUP_LAYOUT, type RollupLayout, storedCost, storedTotal } from './schema.ts';

/** Common records inserted by one statement. */
export const CHUNK = 32;
/** Values a common record binds. */
const COMMON_WIDTH = 17;
/** The unit of thread_minutes: a thread's rows are read a minute of ids at a time (schema 6). */
export const MINUTE_MS = 60_000;

/** What writing a batch needs of its SQLite store. */
export interface WriteContext {
  readonly db: BetterSqlite3.Database;
  /** A prepared statement, kept by `key`. */
  prepare(key: string, sql: string): BetterSqlite3.Statement;
  /** The dictionary id of a string, added to `strings` when new (and then pushed to `added`). */
  idOf(value: string, added: string[]): number;
}

/**
 * Writes an encoded batch (encoded-batch.ts) in one IMMEDIATE transaction: the rows, their new
 * strings and the rollups. Each distinct string of the batch has its dictionary id looked up once,
 * and the rows are read from the batch's values, with no record object built per row. The strings
 * it added are pushed to `added`, for the caller to forget when the transaction fails.
 */
export function writeEncodedRows(ctx: WriteContext, batch: EncodedBatch, added: string[]): void {
  const { values: v, strings } = batch;
  const insert = ctx.prepare(
    'insert',
    `INSERT INTO records (id, provider, service_type, model, operation, input_tokens, output_tokens,
      cached_input_tokens, cache_write_tokens, reasoning_tokens, total_tokens, cost, api_key_id, user_id, thread_id, agent,
      duration_us, error, rare, output_cost_nano)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  // Common rows, n a statement (CHUNK, or fewer to finish a run of them: see flush).
  const insertCommon = (n: number): BetterSqlite3.Statement =>
    ctx.prepare(
      `insertCommon:${n}`,
      `INSERT INTO records (id, provider, service_type, model, operation, input_tokens, output_tokens,
      cached_input_tokens, total_tokens, cost, api_key_id, user_id, thread_id, agent, duration_us, error, output_cost_nano)
     VALUES ${Array.from({ length: n }, () => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
    );
  const lastId = ctx.prepare('lastId', 'SELECT MAX(id) AS id FROM records');
  const lastIdIn = ctx.prepare('lastIdIn', 'SELECT MAX(id) AS id FROM records WHERE id >= ? AND id < ?');
  const firstFree = (ms: number): number => {
    const last = (lastIdIn.get(ms * ID_SCALE, (ms + 1) * ID_SCALE) as { id: number | null }).id;
    return last === null ? ms * ID_SCALE : last + 1;
  };
  // The dictionary id of the batch's string k, looked up once (0: not yet; ids start at 1); null stays null.
  const sid = new Float64Array(strings.length);
  const idOf = (k: number): number | null => {
    if (k < 0) return null;
    const known = sid[k] as number;
    if (known !== 0) return known;
    const id = ctx.idOf(strings[k] as string, added);
    sid[k] = id;
    return id;
  };
  const num = (x: number): number | null => (Number.isNaN(x) ? null : x);
  // The values of the common rows waiting, COMMON_WIDTH a row, in one array reused for the batch
  // (an array per row, flattened per statement, cost the writer thread garbage collection).
  const chunk: unknown[] = [];
  let rows = 0;
  // Writes the common rows waiting in `chunk`, in as few statements as their count's binary digits
  // (32 = CHUNK, 16, 8...). Before any other row: rows go in id order, so that each lands at the
  // end of the table and SQLite leaves its pages full (a row put before others, then those others
  // after it, split pages half full: 10% of the table at 1M records).
  const flush = () => {
    if (rows === CHUNK) insertCommon(CHUNK).run(chunk);
    else {
      let i = 0;
      for (let n = CHUNK; n >= 1; n >>= 1) {
        if (rows - i >= n) {
          insertCommon(n).run(chunk.slice(i * COMMON_WIDTH, (i + n) * COMMON_WIDTH));
          i += n;
        }
      }
    }
    chunk.length = 0;
    rows = 0;
  };
  // The batch's (thread, minute) pairs, a thread's pair once while its calls follow each other.
  const threadMinutes: number[] = [];
  const lastMinute = new Map<number, number>();
  const hours = new RollupBuckets();
  const users = new RollupBuckets();
  const userHours = new RollupBuckets();
  // Each record's counts in turn, for the rollups (one object for the batch).
  const row: RowCounts = {
    error: 0,
    input: null,
    output: null,
    cached: null,
    cacheWrite: null,
    reasoning: null,
    total: null,
    cost: null,
    outputCost: null,
  };
  const run = ctx.db.transaction(() => {
    // Read inside the transaction: no other writer can take an id until it ends.
    const ids = new IdAllocator((lastId.get() as { id: number | null }).id, firstFree);
    for (let o = 0; o < v.length; o += WIDTH) {
      const provider = idOf(v[o + AT.provider] as number) as number;
      const serviceType = idOf(v[o + AT.serviceType] as number) as number;
      const model = idOf(v[o + AT.model] as number) as number;
      const operation = idOf(v[o + AT.operation] as number) as number;
      const key = idOf(v[o + AT.apiKeyId] as number);
      const user = idOf(v[o + AT.userId] as number);
      const agent = idOf(v[o + AT.agent] as number);
      // Whole milliseconds: an INTEGER PRIMARY KEY takes no fraction (records from validateUsage have none).
      const id = ids.take(Math.floor(v[o + AT.timestamp] as number));
      // The time the row keeps (a burst past 1,024 records a millisecond moves on): rollups bucket by it, so they and the rows agree.
      const at = Math.floor(id / ID_SCALE);
      const thread = idOf(v[o + AT.threadId] as number);
      const durationMs = v[o + AT.durationMs] as number;
      const duration = Number.isNaN(durationMs) ? null : Math.round(durationMs * 1000);
      const error = v[o + AT.error] === 1 ? 1 : 0;
      const input = num(v[o + AT.inputTokens] as number);
      const output = num(v[o + AT.outputTokens] as number);
      const cached = num(v[o + AT.cachedInputTokens] as number);
      const total = num(v[o + AT.totalTokens] as number);
      // Schema 9: NULL for input + output (storedTotal).
      const totalKept = storedTotal(input, output, total);
      const cost = num(v[o + AT.costPicoUsd] as number);
      // The cost's output side in whole nanodollars (schema 9).
      const outputCost = outputCostNano(cost, v[o + AT.outputCostUsd] as number);
      // Most records leave the other fields empty: the shorter statement binds 17 values, not 24.
      const common =
        (v[o + AT.requestModel] as number) < 0 &&
        Number.isNaN(v[o + AT.cacheWriteTokens]) &&
        Number.isNaN(v[o + AT.reasoningTokens]) &&
        (v[o + AT.errorType] as number) < 0 &&
        (v[o + AT.errorMessage] as number) < 0 &&
        (v[o + AT.metadata] as number) < 0 &&
        (v[o + AT.rare] as number) < 0;
      if (common) {
        // Common records go in CHUNK rows a statement: fewer calls into SQLite per record.
        chunk.push(
          id,
          provider,
          serviceType,
          model,
          operation,
          input,
          output,
          cached,
          totalKept,
          storedCost(cost),
          key,
          user,
          thread,
          agent,
          duration,
          error,
          outputCost,
        );
        if (++rows === CHUNK) flush();
      } else {
        flush();
        const message = v[o + AT.errorMessage] as number;
        const metadata = v[o + AT.metadata] as number;
        const rare = v[o + AT.rare] as number;
        // Schema 9: the fields most records leave empty, in the `rare` JSON beside the rare counts
        // (metadata as the JSON it was encoded to; strings by their dictionary ids).
        const extra: string[] = [];
        const requestModel = idOf(v[o + AT.requestModel] as number);
        const errorType = idOf(v[o + AT.errorType] as number);
        if (requestModel !== null) extra.push(`"request_model":${requestModel}`);
        if (errorType !== null) extra.push(`"error_type":${errorType}`);
        if (message >= 0) extra.push(`"error_message":${JSON.stringify(strings[message])}`);
        if (metadata >= 0) extra.push(`"metadata":${strings[metadata]}`);
        if (rare >= 0) extra.push((strings[rare] as string).slice(1, -1));
        insert.run([
          id,
          provider,
          serviceType,
          model,
          operation,
          input,
          output,
          cached,
          num(v[o + AT.cacheWriteTokens] as number),
          num(v[o + AT.reasoningTokens] as number),
          totalKept,
          storedCost(cost),
          key,
          user,
          thread,
          agent,
          duration,
          error,
          extra.length === 0 ? null : `{${extra.join(',')}}`,
          outputCost,
        ]);
      }
      if (thread !== null) {
        const minute = Math.floor(at / MINUTE_MS);
        if (lastMinute.get(thread) !== minute) {
          lastMinute.set(thread, minute);
          threadMinutes.push(thread, minute);
        }
      }
      row.error = error;
      row.input = input;
      row.output = output;
      row.cached = cached;
      row.cacheWrite = v[o + AT.cacheWriteTokens] as number;
      row.reasoning = v[o + AT.reasoningTokens] as number;
      row.total = total;
      row.cost = cost;
      row.outputCost = outputCost;
      hours.add([Math.floor(at / HOUR_MS), provider, serviceType, model, operation, agent ?? 0, key ?? 0], row);
      if (user !== null) {
        users.add([user, Math.floor(at / DAY_MS), provider, serviceType, model, agent ?? 0], row);
        userHours.add([Math.floor(at / HOUR_MS), user, provider, serviceType, model, agent ?? 0], row);
      }
    }
    flush();
    addToRollup(ctx, 'rollup_hour', hours);
    addToRollup(ctx, 'rollup_user_day', users);
    addToRollup(ctx, 'rollup_user_hour', userHours);
    addThreadMinutes(ctx, threadMinutes);
  });
  run.immediate();
}

/**
 * Adds a batch's buckets to a rollup table, CHUNK buckets a statement: a batch of 1,000 records
 * of 200 users has some 600 buckets in each user rollup (200k records in 1,000-record batches:
 * 57k/s against 45k/s with a statement a bucket; medians of 5 interleaved runs, a loaded machine).
 */
function addToRollup(ctx: WriteContext, table: string, buckets: RollupBuckets): void {
  const rows: (number | string)[][] = [];
  const layout = ROLLUP_LAYOUT[table] as RollupLayout;
  for (const s of buckets) rows.push([...s.key, ...layout.values(s)]);
  if (rows.length === 0) return;
  const width = (rows[0] as (number | string)[]).length;
  // Columns named: those added by later migrations sit at the table's end in the order they were added.
  const cols = [...(ROLLUP_KEY_COLUMNS[table] as readonly string[]), ...layout.columns].join(', ');
  const sql = (n: number) => {
    const row = `(${Array.from({ length: width }, () => '?').join(', ')})`;
    return `INSERT INTO ${table} (${cols}) VALUES ${Array.from({ length: n }, () => row).join(', ')} ${layout.add}`;
  };
  const many = ctx.prepare(`${table}:many`, sql(CHUNK));
  const one = ctx.prepare(`${table}:one`, sql(1));
  let i = 0;
  for (; i + CHUNK <= rows.length; i += CHUNK) many.run(rows.slice(i, i + CHUNK).flat());
  for (; i < rows.length; i++) one.run(rows[i]);
}

/** Adds a batch's (thread, minute) pairs (flat: thread, minute, thread, minute...) that are new, CHUNK a statement. */
function addThreadMinutes(ctx: WriteContext, pairs: number[]): void {
  if (pairs.length === 0) return;
  const sql = (n: number) =>
    `INSERT INTO thread_minutes VALUES ${Array.from({ length: n }, () => '(?, ?)').join(', ')} ON CONFLICT DO NOTHING`;
  const many = ctx.prepare('thread_minutes:many', sql(CHUNK));
  const one = ctx.prepare('thread_minutes:one', sql(1));
  let i = 0;
  for (; i + 2 * CHUNK <= pairs.length; i += 2 * CHUNK) many.run(pairs.slice(i, i + 2 * CHUNK));
  for (; i < pairs.length; i += 2) one.run(pairs[i], pairs[i + 1]);
}
