import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { LedgerError } from '../errors.ts';
import type { UsageRecord } from '../usage.ts';
import { planAggregate } from './aggregate-plan.ts';
import { type BudgetAlertQuery, type BudgetAlertRow, budgetAlertsSqlite, keepBudgetAlertsSqlite } from './budget-alerts.ts';
import { type EncodedBatch, encodeBatch, WIDTH } from './encoded-batch.ts';
import { ID_SCALE, RecentMap } from './ids.ts';
import {
  type AlertmanagerNotification,
  type KeptNotification,
  keepNotification,
  type ReceivedAlert,
  type ReceivedAlertQuery,
  receivedAlerts,
} from './notifications.ts';
import { addToGroup, DAY_MS, HOUR_MS, ROLLUP_USER_HOUR, type Rollup, type RowSums } from './rollup.ts';
import { ROLLUP_LAYOUT, type RollupLayout } from './schema.ts';
import { migrate, SCHEMA_VERSION } from './sqlite-migrations.ts';
import { groupSql, rowToRecord, sumsSql, THREAD_IDS_SQL, userHoursSql, whereSql } from './sqlite-read.ts';
import { MINUTE_MS, type WriteContext, writeEncodedRows } from './sqlite-write.ts';

export { THREAD_IDS_SQL, userHoursSql };

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

/**
 * Dictionary entries kept in memory, per generation (RecentMap): enough for every provider, model,
 * agent and the users and threads of the moment, while a new thread id on every call cannot grow
 * the heap without bound. Strings not in memory are read with one indexed statement.
 */
const DICT_CACHE = 4096;

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
  readonly #writeContext: WriteContext;
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
    this.#writeContext = { db: this.#db, prepare: (key, sql) => this.#prepare(key, sql), idOf: (value, added) => this.#idOf(value, added) };
    try {
      if (!readonly) {
        this.#db.pragma('journal_mode = WAL');
        this.#db.pragma('synchronous = NORMAL');
        migrate(this.#db);
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
  readonly #nameOf = (id: number | null): string | null => {
    if (id === null || id === 0) return null;
    let name = this.#names.get(id);
    if (name === undefined) {
      const row = this.#prepare('nameOf', 'SELECT value FROM strings WHERE id = ?').get(id) as { value: string } | undefined;
      name = row?.value ?? `#${id}`;
      this.#names.set(id, name);
    }
    return name;
  };

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
   * the rollups (sqlite-write.ts).
   */
  writeEncoded(batch: EncodedBatch): void {
    const count = batch.values.length / WIDTH;
    if (count === 0) return;
    const added: string[] = [];
    try {
      writeEncodedRows(this.#writeContext, batch, added);
    } catch (cause) {
      // Ids handed out inside the failed transaction were rolled back with it.
      for (const s of added) this.#ids.delete(s);
      throw new LedgerError(this.location, `cannot write ${count} records: ${(cause as Error).message}`, {
        cause,
        code: sqliteCode(cause),
      });
    }
  }

  async write(batch: readonly UsageRecord[]): Promise<void> {
    this.#write(batch);
  }

  /** WHERE clause and parameters of a filter over `records` (or a rollup, for the fields it has); null: it matches nothing. */
  #where(filter: LedgerFilter, rollup?: Rollup): { sql: string; params: (number | string)[] } | null {
    return whereSql(filter, rollup, (v) => this.#lookupId(v), this.#version);
  }

  #lookupId(value: string): number | undefined {
    const known = this.#ids.get(value);
    if (known !== undefined) return known;
    const row = this.#prepare('idOf', 'SELECT id FROM strings WHERE value = ?').get(value) as { id: number } | undefined;
    if (row !== undefined) this.#ids.set(value, row.id);
    return row?.id;
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
    const g = rollup.time === 'hour' ? groupSql(by, 'hour', 'hour / 24', noUser) : groupSql(by, 'NULL', 'day', noUser);
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
    this.#rows(
      `SELECT ${g.select}${(ROLLUP_LAYOUT[rollup.table] as RollupLayout).sums} FROM ${rollup.table} ${where.sql} ${g.group}`,
      where.params,
      by,
      out,
      sign,
    );
  }

  #rawAggregate(filter: LedgerFilter, by: readonly Dimension[], out: Map<string, AggregateRow>, sign: 1 | -1 = 1): void {
    const where = this.#where(filter);
    if (where === null) return;
    const g = groupSql(by, `(id >> 10) / ${HOUR_MS}`, `(id >> 10) / ${DAY_MS}`);
    this.#rows(`SELECT ${g.select}${sumsSql(this.#version)} FROM records ${where.sql} ${g.group}`, where.params, by, out, sign);
  }

  #toRecord(row: Record<string, number | string | null>): UsageRecord & { id: number } {
    return rowToRecord(row, this.#version, this.#nameOf);
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
