import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { LedgerError } from '../errors.ts';
import type { UsageRecord } from '../usage.ts';
import { planAggregate } from './aggregate-plan.ts';
import { type BudgetAlertQuery, type BudgetAlertRow, budgetAlertsSqlite, keepBudgetAlertsSqlite } from './budget-alerts.ts';
import { AT, type EncodedBatch, encodeBatch, WIDTH } from './encoded-batch.ts';
import { ID_SCALE, IdAllocator, RecentMap } from './ids.ts';
import {
  type AlertmanagerNotification,
  type KeptNotification,
  keepNotification,
  type ReceivedAlert,
  type ReceivedAlertQuery,
  receivedAlerts,
} from './notifications.ts';
import { rareCounts } from './rare.ts';
import {
  addToGroup,
  COLUMN,
  DAY_MS,
  HOUR_MS,
  nanoOfPico,
  outputCostNano,
  ROLLUP_USER_HOUR,
  type Rollup,
  RollupBuckets,
  type RowCounts,
  type RowSums,
} from './rollup.ts';
import {
  COST_SQL,
  IN_RARE,
  MIGRATIONS,
  ROLLUP_ADD,
  ROLLUP_KEY_COLUMNS,
  ROLLUP_SUM_COLUMNS,
  ROLLUP_SUMS_SQL,
  rollupValues,
  SCHEMA_VERSION,
  storedCost,
  storedTotal,
  TOTAL_TOKENS_SQL,
  totalOfRow,
  usageRecordsViewSql,
} from './schema.ts';
import type { AggregateRow, Dimension, LedgerFilter, LedgerStore, RecordQuery } from './types.ts';

type Db = BetterSqlite3.Database;
type Stmt = BetterSqlite3.Statement;

/** Options of a {@link SqliteStore}. */
export interface SqliteStoreOptions {
  /** Open for reading only (the CLI's read commands). @default false */
  readonly?: boolean;
  /** How long a writer waits for another process's transaction, in ms. @default 10000 */
  busyTimeoutMs?: number;
}

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

/** Common records inserted by one statement. */
const CHUNK = 32;
/**
 * Dictionary entries kept in memory, per generation (RecentMap): enough for every provider, model,
 * agent and the users and threads of the moment, while a new thread id on every call cannot grow
 * the heap without bound. Strings not in memory are read with one indexed statement.
 */
const DICT_CACHE = 4096;

/** The unit of thread_minutes: a thread's rows are read a minute of ids at a time (schema 6). */
const MINUTE_MS = 60_000;
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
function sumsSql(version: number): string {
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
    SELECT ${select}${ROLLUP_SUMS_SQL} FROM hours CROSS JOIN rollup_user_hour ${where} AND hour = h ${group}`;
}

const require = createRequire(import.meta.url);
let driver: typeof BetterSqlite3 | undefined;

function sqliteCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The default ledger: one SQLite file (better-sqlite3), shared safely by every process on the
 * machine. WAL lets readers run beside the one writer; each batch is one IMMEDIATE transaction,
 * so concurrent writers queue on SQLite's lock (for up to `busyTimeoutMs`) instead of failing
 * with "database is locked" halfway through. `synchronous = NORMAL` in WAL mode keeps every
 * committed batch through a process crash (SIGKILL); a power cut may lose the last batches.
 */
export class SqliteStore implements LedgerStore {
  readonly kind = 'sqlite';
  readonly location: string;
  readonly #db: Db;
  readonly #ids = new RecentMap<string, number>(DICT_CACHE);
  readonly #names = new RecentMap<number, string>(DICT_CACHE);
  readonly #stmt: Record<string, Stmt> = {};
  readonly writeSync: ((batch: readonly UsageRecord[]) => void) | undefined;
  /**
   * The ledger's schema version: older than this tokenmeter's only when opened read-only (not
   * migrated). Its rows are then read as that schema wrote them, and sums come from the rows, not
   * from rollups that lack the cost's split and the unknown counts (before 7) or keep the split in
   * picodollars (7 and 8).
   */
  readonly #version: number = SCHEMA_VERSION;
  readonly #legacy: boolean = false;

  constructor(file: string, options: SqliteStoreOptions = {}) {
    this.location = file;
    driver ??= require('better-sqlite3') as typeof BetterSqlite3;
    const readonly = options.readonly === true;
    try {
      if (!readonly) mkdirSync(dirname(file), { recursive: true });
      this.#db = new driver(file, { readonly, fileMustExist: readonly, timeout: options.busyTimeoutMs ?? 10_000 });
    } catch (cause) {
      throw new LedgerError(file, `cannot open the ledger: ${(cause as Error).message}`, {
        cause,
        code: sqliteCode(cause) ?? (cause as { code?: string }).code,
      });
    }
    try {
      if (!readonly) {
        this.#db.pragma('journal_mode = WAL');
        this.#db.pragma('synchronous = NORMAL');
        this.#migrate();
      } else {
        const v = this.#db.pragma('user_version', { simple: true }) as number;
        if (v > SCHEMA_VERSION) throw new Error(`its schema version ${v} is newer than this tokenmeter's (${SCHEMA_VERSION})`);
        this.#version = v;
        this.#legacy = v < SCHEMA_VERSION;
      }
    } catch (cause) {
      this.#db.close();
      throw new LedgerError(file, `cannot use the ledger: ${(cause as Error).message}`, { cause, code: sqliteCode(cause) });
    }
    this.writeSync = readonly ? undefined : (batch) => this.#write(batch);
  }

  #migrate(): void {
    const db = this.#db;
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > SCHEMA_VERSION) throw new Error(`its schema version ${current} is newer than this tokenmeter's (${SCHEMA_VERSION})`);
    const view = usageRecordsViewSql();
    const viewNow = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'view' AND name = 'usage_records'").pluck();
    if (current === SCHEMA_VERSION && viewNow.get() === view) return;
    db.transaction(() => {
      // Another process may have migrated while this one waited for the lock.
      const v = db.pragma('user_version', { simple: true }) as number;
      for (let i = v; i < SCHEMA_VERSION; i++) db.exec(MIGRATIONS[i] as string);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
      // The view holds no data: made anew from the table of record fields whenever it differs (a field added).
      if (viewNow.get() !== view) {
        db.exec('DROP VIEW IF EXISTS usage_records');
        db.exec(view);
      }
    }).immediate();
  }

  #prepare(key: string, sql: string): Stmt {
    let s = this.#stmt[key];
    if (s === undefined) {
      s = this.#db.prepare(sql);
      this.#stmt[key] = s;
    }
    return s;
  }

  /** The id of a string, adding it to the dictionary when new (inside the caller's transaction). */
  #idOf(value: string, added: string[]): number {
    const known = this.#ids.get(value);
    if (known !== undefined) return known;
    const row = this.#prepare(
      'insertString',
      'INSERT INTO strings (value) VALUES (?) ON CONFLICT (value) DO UPDATE SET value = value RETURNING id',
    ).get(value) as { id: number };
    this.#ids.set(value, row.id);
    added.push(value);
    return row.id;
  }

  /** The string of an id (ids never change once given). */
  #nameOf(id: number | null): string | null {
    if (id === null || id === 0) return null;
    let name = this.#names.get(id);
    if (name === undefined) {
      const row = this.#prepare('nameOf', 'SELECT value FROM strings WHERE id = ?').get(id) as { value: string } | undefined;
      name = row?.value ?? `#${id}`;
      this.#names.set(id, name);
    }
    return name;
  }

  #write(batch: readonly UsageRecord[]): void {
    if (batch.length === 0) return;
    let encoded: EncodedBatch;
    try {
      encoded = encodeBatch(batch);
    } catch (cause) {
      // Metadata JSON cannot write (a bigint, a cycle): none of the batch is written.
      throw new LedgerError(this.location, `cannot write ${batch.length} records: ${(cause as Error).message}`, { cause });
    }
    this.writeEncoded(encoded);
  }

  /**
   * Writes an encoded batch (encoded-batch.ts) in one transaction: the rows, their new strings and
   * the rollups. Each distinct string of the batch has its dictionary id looked up once, and the
   * rows are read from the batch's values, with no record object built per row.
   */
  writeEncoded(batch: EncodedBatch): void {
    const { values: v, strings } = batch;
    const count = v.length / WIDTH;
    if (count === 0) return;
    const insert = this.#prepare(
      'insert',
      `INSERT INTO records (id, provider, service_type, model, operation, input_tokens, output_tokens,
        cached_input_tokens, cache_write_tokens, reasoning_tokens, total_tokens, cost, api_key_id, user_id, thread_id, agent,
        duration_us, error, rare, output_cost_nano)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // Common rows, n a statement (CHUNK, or fewer to finish a run of them: see flush).
    const insertCommon = (n: number): Stmt =>
      this.#prepare(
        `insertCommon:${n}`,
        `INSERT INTO records (id, provider, service_type, model, operation, input_tokens, output_tokens,
        cached_input_tokens, total_tokens, cost, api_key_id, user_id, thread_id, agent, duration_us, error, output_cost_nano)
       VALUES ${Array.from({ length: n }, () => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
      );
    const lastId = this.#prepare('lastId', 'SELECT MAX(id) AS id FROM records');
    const lastIdIn = this.#prepare('lastIdIn', 'SELECT MAX(id) AS id FROM records WHERE id >= ? AND id < ?');
    const firstFree = (ms: number): number => {
      const last = (lastIdIn.get(ms * ID_SCALE, (ms + 1) * ID_SCALE) as { id: number | null }).id;
      return last === null ? ms * ID_SCALE : last + 1;
    };
    const added: string[] = [];
    // The dictionary id of the batch's string k, looked up once (0: not yet; ids start at 1); null stays null.
    const sid = new Float64Array(strings.length);
    const idOf = (k: number): number | null => {
      if (k < 0) return null;
      const known = sid[k] as number;
      if (known !== 0) return known;
      const id = this.#idOf(strings[k] as string, added);
      sid[k] = id;
      return id;
    };
    const num = (x: number): number | null => (Number.isNaN(x) ? null : x);
    const chunk: unknown[][] = [];
    // Writes the common rows waiting in `chunk`, in as few statements as their count's binary digits
    // (32 = CHUNK, 16, 8...). Before any other row: rows go in id order, so that each lands at the
    // end of the table and SQLite leaves its pages full (a row put before others, then those others
    // after it, split pages half full: 10% of the table at 1M records).
    const flush = () => {
      let i = 0;
      for (let n = CHUNK; n >= 1; n >>= 1) {
        if (chunk.length - i >= n) {
          insertCommon(n).run(chunk.slice(i, i + n).flat());
          i += n;
        }
      }
      chunk.length = 0;
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
    const run = this.#db.transaction(() => {
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
          chunk.push([
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
          ]);
          if (chunk.length === CHUNK) flush();
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
      this.#addToRollup('rollup_hour', hours);
      this.#addToRollup('rollup_user_day', users);
      this.#addToRollup('rollup_user_hour', userHours);
      this.#addThreadMinutes(threadMinutes);
    });
    try {
      run.immediate();
    } catch (cause) {
      // Ids handed out inside the failed transaction were rolled back with it.
      for (const s of added) this.#ids.delete(s);
      throw new LedgerError(this.location, `cannot write ${count} records: ${(cause as Error).message}`, {
        cause,
        code: sqliteCode(cause),
      });
    }
  }

  /**
   * Adds a batch's buckets to a rollup table, CHUNK buckets a statement: a batch of 1,000 records
   * of 200 users has some 600 buckets in each user rollup (200k records in 1,000-record batches:
   * 57k/s against 45k/s with a statement a bucket; medians of 5 interleaved runs, a loaded machine).
   */
  #addToRollup(table: string, buckets: RollupBuckets): void {
    const rows: (number | string)[][] = [];
    for (const s of buckets) rows.push([...s.key, ...rollupValues(s)]);
    if (rows.length === 0) return;
    const width = (rows[0] as (number | string)[]).length;
    // Columns named: those added by later migrations sit at the table's end in the order they were added.
    const cols = [...(ROLLUP_KEY_COLUMNS[table] as readonly string[]), ...ROLLUP_SUM_COLUMNS].join(', ');
    const sql = (n: number) => {
      const row = `(${Array.from({ length: width }, () => '?').join(', ')})`;
      return `INSERT INTO ${table} (${cols}) VALUES ${Array.from({ length: n }, () => row).join(', ')} ${ROLLUP_ADD}`;
    };
    const many = this.#prepare(`${table}:many`, sql(CHUNK));
    const one = this.#prepare(`${table}:one`, sql(1));
    let i = 0;
    for (; i + CHUNK <= rows.length; i += CHUNK) many.run(rows.slice(i, i + CHUNK).flat());
    for (; i < rows.length; i++) one.run(rows[i]);
  }

  /** Adds a batch's (thread, minute) pairs (flat: thread, minute, thread, minute...) that are new, CHUNK a statement. */
  #addThreadMinutes(pairs: number[]): void {
    if (pairs.length === 0) return;
    const sql = (n: number) =>
      `INSERT INTO thread_minutes VALUES ${Array.from({ length: n }, () => '(?, ?)').join(', ')} ON CONFLICT DO NOTHING`;
    const many = this.#prepare('thread_minutes:many', sql(CHUNK));
    const one = this.#prepare('thread_minutes:one', sql(1));
    let i = 0;
    for (; i + 2 * CHUNK <= pairs.length; i += 2 * CHUNK) many.run(pairs.slice(i, i + 2 * CHUNK));
    for (; i < pairs.length; i += 2) one.run(pairs[i], pairs[i + 1]);
  }

  async write(batch: readonly UsageRecord[]): Promise<void> {
    this.#write(batch);
  }

  /** WHERE clause and parameters of a filter over `records` (or a rollup, for the fields it has). */
  #where(filter: LedgerFilter, rollup?: Rollup): { sql: string; params: (number | string)[] } | null {
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
      const id = this.#lookupId(v);
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
        this.#version >= 9
          ? `json_extract(rare, '$.metadata.run_id') IS NOT NULL AND json_extract(rare, '$.metadata.run_id') = ?`
          : `metadata IS NOT NULL AND json_extract(metadata, '$.run_id') = ?`,
      );
      params.push(filter.runId);
    }
    return { sql: parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`, params };
  }

  #lookupId(value: string): number | undefined {
    const known = this.#ids.get(value);
    if (known !== undefined) return known;
    const row = this.#prepare('idOf', 'SELECT id FROM strings WHERE value = ?').get(value) as { id: number } | undefined;
    if (row !== undefined) this.#ids.set(value, row.id);
    return row?.id;
  }

  /** Select and group-by clauses; `hourExpr` is the hour number, `dayExpr` the day number; `noUser`: every row as if it had no user. */
  #groupSql(by: readonly Dimension[], hourExpr: string, dayExpr: string, noUser = false): { select: string; group: string } {
    const cols = by.map((d) => {
      if (d === 'day') return `${dayExpr} AS day`;
      if (d === 'hour') return `${hourExpr} AS hour`;
      if (d === 'userId' && noUser) return 'NULL AS userId';
      return `${COLUMN[d]} AS ${d}`;
    });
    return { select: cols.map((c) => `${c}, `).join(''), group: by.length === 0 ? '' : `GROUP BY ${by.join(', ')}` };
  }

  #rows(
    sql: string,
    params: readonly (number | string)[],
    by: readonly Dimension[],
    into: Map<string, AggregateRow>,
    sign: 1 | -1 = 1,
  ): void {
    const stmt = this.#prepare(sql, sql);
    stmt.safeIntegers(true);
    for (const raw of stmt.all(...params) as Record<string, bigint | null>[]) {
      if (raw.requests === null || raw.requests === 0n) continue;
      const key: AggregateRow['key'] = {};
      for (const d of by) {
        const v = raw[d];
        if (d === 'day') key.day = new Date(Number(v) * DAY_MS).toISOString().slice(0, 10);
        else if (d === 'hour') key.hour = new Date(Number(v) * HOUR_MS).toISOString().slice(0, 13);
        else key[d] = this.#nameOf(v === null || v === undefined ? null : Number(v));
      }
      addToGroup(into, by, key, raw as unknown as RowSums, sign);
    }
  }

  async aggregate(filter: LedgerFilter, by: readonly Dimension[]): Promise<AggregateRow[]> {
    return this.#aggregateSync(filter, by);
  }

  /** `aggregate`, synchronously (the CLI and budget seeding use it directly). */
  readonly aggregateSync = (filter: LedgerFilter, by: readonly Dimension[]): AggregateRow[] => this.#aggregateSync(filter, by);

  #aggregateSync(filter: LedgerFilter, by: readonly Dimension[]): AggregateRow[] {
    const out = new Map<string, AggregateRow>();
    for (const read of planAggregate(filter, by, this.#legacy)) {
      if (read.from === 'records') this.#rawAggregate(read.filter, by, out, read.sign);
      else this.#fromRollup(read.filter, by, out, read.rollup, read.noUser, read.sign);
    }
    // A group the rows outside the range took away whole.
    return [...out.values()].filter((r) => r.requests !== 0);
  }

  /** The sums of `rollup` over a range aligned to its buckets (either end open; aggregate-plan.ts). */
  #fromRollup(
    filter: LedgerFilter,
    by: readonly Dimension[],
    out: Map<string, AggregateRow>,
    rollup: Rollup,
    noUser: boolean,
    sign: 1 | -1,
  ): void {
    const { since, until } = filter;
    const g = rollup.time === 'hour' ? this.#groupSql(by, 'hour', 'hour / 24', noUser) : this.#groupSql(by, 'NULL', 'day', noUser);
    if (rollup === ROLLUP_USER_HOUR && filter.userId !== undefined && since !== undefined && until !== undefined) {
      // Keyed hour first (so that writes append): one user's hours are a seek of (hour, user) each,
      // one hour after the other, not every user's buckets of the range.
      const where = this.#where({ ...filter, since: undefined, until: undefined }, rollup);
      if (where === null) return;
      this.#rows(userHoursSql(g.select, where.sql, g.group), [since / HOUR_MS, until / HOUR_MS, ...where.params], by, out, sign);
      return;
    }
    const where = this.#where(filter, rollup);
    if (where === null) return;
    this.#rows(`SELECT ${g.select}${ROLLUP_SUMS_SQL} FROM ${rollup.table} ${where.sql} ${g.group}`, where.params, by, out, sign);
  }

  #rawAggregate(filter: LedgerFilter, by: readonly Dimension[], out: Map<string, AggregateRow>, sign: 1 | -1 = 1): void {
    const where = this.#where(filter);
    if (where === null) return;
    const g = this.#groupSql(by, `(id >> 10) / ${HOUR_MS}`, `(id >> 10) / ${DAY_MS}`);
    this.#rows(`SELECT ${g.select}${sumsSql(this.#version)} FROM records ${where.sql} ${g.group}`, where.params, by, out, sign);
  }

  #toRecord(row: Record<string, number | string | null>): UsageRecord & { id: number } {
    const v9 = this.#version >= 9;
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
    for (const [col, field] of DICT) dict[field] = this.#nameOf((v9 && IN_RARE.has(col) ? fromRare(col) : row[col]) as number | null);
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

  async records(query: RecordQuery): Promise<UsageRecord[]> {
    return this.recordsSync(query);
  }

  recordsSync(query: RecordQuery): (UsageRecord & { id: number })[] {
    const where = this.#where(query);
    if (where === null) return [];
    const order = query.order === 'asc' ? 'ASC' : 'DESC';
    // The limit is bound, not written into the SQL: statements are kept one per distinct SQL text, and
    // a client asking for a new limit each time (the REST API's ?limit=) would add one per call.
    const limit = query.limit === undefined ? -1 : Math.max(0, Math.floor(query.limit));
    const cond = query.errors !== true ? where.sql : where.sql === '' ? 'WHERE error = 1' : `${where.sql} AND error = 1`;
    const sql = `SELECT * FROM records ${cond} ORDER BY id ${order} LIMIT ?`;
    return (this.#prepare(sql, sql).all(...where.params, limit) as Record<string, number | string | null>[]).map((r) => this.#toRecord(r));
  }

  /** Pages through the records in time order, a page per step, so that no statement stays open between pages. */
  async *iterate(filter: LedgerFilter): AsyncGenerator<UsageRecord & { id: number }> {
    const where = this.#where(filter);
    if (where === null) return;
    const page = 2000;
    const cond = where.sql === '' ? 'WHERE' : `${where.sql} AND`;
    const idColumn = filter.threadId !== undefined ? '+id' : 'id';
    const sql = `SELECT * FROM records ${cond} ${idColumn} > ? ORDER BY id LIMIT ${page}`;
    let id = -1;
    for (;;) {
      const rows = this.#prepare(sql, sql).all(...where.params, id) as Record<string, number | string | null>[];
      for (const row of rows) yield this.#toRecord(row);
      if (rows.length < page) return;
      id = (rows[rows.length - 1] as { id: number }).id;
    }
  }

  async count(filter: LedgerFilter): Promise<number> {
    const where = this.#where(filter);
    if (where === null) return 0;
    const sql = `SELECT COUNT(*) AS n FROM records ${where.sql}`;
    return (this.#prepare(sql, sql).get(...where.params) as { n: number }).n;
  }

  async span(filter: LedgerFilter = {}): Promise<{ first: number; last: number } | null> {
    const where = this.#where(filter);
    if (where === null) return null;
    const sql = `SELECT MIN(id) >> 10 AS first, MAX(id) >> 10 AS last FROM records ${where.sql}`;
    const row = this.#prepare(sql, sql).get(...where.params) as { first: number | null; last: number | null };
    return row.first === null || row.last === null ? null : { first: row.first, last: row.last };
  }

  async deleteBefore(cutoff: number): Promise<number> {
    // Rollup buckets go whole: the cutoff is taken down to its day (UTC) so that they and the rows agree.
    const day = Math.floor(cutoff / DAY_MS);
    try {
      return this.#db
        .transaction(() => {
          const n = this.#db.prepare('DELETE FROM records WHERE id < ?').run(day * DAY_MS * ID_SCALE).changes;
          this.#db.prepare('DELETE FROM rollup_hour WHERE hour < ?').run(day * 24);
          this.#db.prepare('DELETE FROM rollup_user_day WHERE day < ?').run(day);
          this.#db.prepare('DELETE FROM rollup_user_hour WHERE hour < ?').run(day * 24);
          this.#db.prepare('DELETE FROM thread_minutes WHERE minute < ?').run((day * DAY_MS) / MINUTE_MS);
          return n;
        })
        .immediate();
    } catch (cause) {
      throw new LedgerError(this.location, `cannot delete old records: ${(cause as Error).message}`, { cause, code: sqliteCode(cause) });
    }
  }

  /** Keeps a notification Alertmanager sent (one transaction, on this connection). */
  keepNotification(n: AlertmanagerNotification, receivedAt = Date.now()): KeptNotification {
    try {
      return keepNotification(this.#db, n, receivedAt);
    } catch (cause) {
      throw new LedgerError(this.location, `cannot keep an Alertmanager notification: ${(cause as Error).message}`, {
        cause,
        code: sqliteCode(cause),
      });
    }
  }

  /** The alerts Alertmanager sent, newest notified first (none in a ledger older than schema 5). */
  receivedAlerts(q: ReceivedAlertQuery = {}): ReceivedAlert[] {
    return receivedAlerts(this.#db, q);
  }

  /** Keeps budget alerts (one transaction, on this connection); one already kept by any process is left as it is. */
  keepBudgetAlertsSync(alerts: readonly BudgetAlertRow[]): void {
    try {
      keepBudgetAlertsSqlite(this.#db, alerts);
    } catch (cause) {
      throw new LedgerError(this.location, `cannot keep ${alerts.length} budget alerts: ${(cause as Error).message}`, {
        cause,
        code: sqliteCode(cause),
      });
    }
  }

  async keepBudgetAlerts(alerts: readonly BudgetAlertRow[]): Promise<void> {
    this.keepBudgetAlertsSync(alerts);
  }

  /** The budget alerts kept, newest first (none in a ledger older than schema 8). */
  async budgetAlerts(q: BudgetAlertQuery = {}): Promise<BudgetAlertRow[]> {
    return budgetAlertsSqlite(this.#db, q);
  }

  /** Gives the space of deleted rows back to the file system (after a cleanup). */
  vacuum(): void {
    this.#db.exec('VACUUM');
  }

  /** Disk use of the file and its WAL, in bytes. */
  pageBytes(): number {
    const count = this.#db.pragma('page_count', { simple: true }) as number;
    const size = this.#db.pragma('page_size', { simple: true }) as number;
    return count * size;
  }

  async close(): Promise<void> {
    this.closeSync();
  }

  closeSync(): void {
    if (this.#db.open) this.#db.close();
  }
}
