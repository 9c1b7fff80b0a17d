import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type Pg from 'pg';
import { LedgerError } from '../errors.ts';
import type { UsageRecord } from '../usage.ts';
import { planAggregate } from './aggregate-plan.ts';
import {
  BUDGET_ALERT_COLUMNS,
  type BudgetAlertQuery,
  type BudgetAlertRow,
  budgetAlertLimit,
  budgetAlertOf,
  budgetAlertValues,
  budgetAlertWhere,
  type StoredBudgetAlert,
} from './budget-alerts.ts';
import type { AlertmanagerNotification, KeptNotification, ReceivedAlert, ReceivedAlertQuery } from './notifications.ts';
import { keepNotificationPg, receivedAlertsPg } from './notifications-pg.ts';
import { connectionLost, isPostgresUrl, pgTypes, redactUrl } from './postgres-connection.ts';
import { groupSql, rowToRecord, SUMS_SQL, whereSql } from './postgres-read.ts';
import { MIGRATION_LOCK, PG_MIGRATIONS, PG_SCHEMA_VERSION, PG_VIEW_COLUMNS, usageRecordsViewPg } from './postgres-schema.ts';
import { batchColumns, batchRollups, ROLLUP_SUMS_SQL, WRITE_SQL } from './postgres-write.ts';
import { addToGroup, DAY_MS, HOUR_MS, ROLLUP_USER_HOUR, type Rollup, type RowSums } from './rollup.ts';
import type { AggregateRow, Dimension, LedgerFilter, LedgerStore, RecordQuery } from './types.ts';

/** Options of a {@link PostgresStore}. */
export interface PostgresStoreOptions {
  /** Connections kept in the pool. @default 4 */
  maxConnections?: number;
  /** How long to wait for a connection (a database that is down fails a write after this), in ms. @default 5000 */
  connectTimeoutMs?: number;
}

export { isPostgresUrl, redactUrl };

const require = createRequire(import.meta.url);
let driver: typeof Pg | undefined;

/**
 * The ledger in PostgreSQL (`pg`, loaded only when used), for many instances writing one database:
 * the same records, rollups, queries and retention as the SQLite store. Each batch is one
 * statement, so one transaction and one round trip (WRITE_SQL): the rows from unnest() of binary
 * arrays, the rollups as upserts sorted by key (so that two instances updating the same buckets
 * take their locks in the same order and do not deadlock). Everything is asynchronous: there is no
 * `writeSync` or `aggregateSync` (budgets seed asynchronously; records still queued are written by
 * `close()`, when the event loop runs out of work, or before SIGINT/SIGTERM end the process, and
 * reported lost if `process.exit()` comes first: see LedgerWriter).
 */
export class PostgresStore implements LedgerStore {
  readonly kind = 'postgres';
  readonly location: string;
  readonly #pool: Pg.Pool;
  #ready: Promise<void> | undefined;
  /** A batch whose COMMIT was cut: written or not, found out before the next write. */
  #uncertain: { token: string; records: ReadonlySet<UsageRecord> } | undefined;
  #closed = false;

  constructor(url: string, options: PostgresStoreOptions = {}) {
    this.location = redactUrl(url);
    try {
      driver ??= require('pg') as typeof Pg;
    } catch (cause) {
      throw new LedgerError(this.location, 'a PostgreSQL ledger needs the pg package: npm install pg', { cause, code: 'MODULE_NOT_FOUND' });
    }
    this.#pool = new driver.Pool({
      connectionString: url,
      max: options.maxConnections ?? 4,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      types: pgTypes(driver),
      application_name: 'tokenmeter',
      // Idle connections do not keep the application alive (a write under way does).
      allowExitOnIdle: true,
    });
    // An idle connection cut by a restart emits here; the next query reports (and retries) it.
    this.#pool.on('error', () => {});
    // A connection cut while checked out (between statements) emits on the client: the statement that follows fails and is retried.
    this.#pool.on('connect', (client) => client.on('error', () => {}));
  }

  /** The schema migrated to this version once per store (again after a failure). */
  #migrated(): Promise<void> {
    this.#ready ??= this.#migrate().catch((cause: unknown) => {
      this.#ready = undefined;
      throw this.#error('cannot open the ledger', cause);
    });
    return this.#ready;
  }

  async #migrate(): Promise<void> {
    const client = await this.#pool.connect();
    try {
      // Session-level: held across the migration's transaction, released below (or with the connection).
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK.toString()]);
      try {
        await client.query('CREATE TABLE IF NOT EXISTS tokenmeter_schema (version integer NOT NULL)');
        const r = await client.query<{ version: number }>('SELECT version FROM tokenmeter_schema');
        const current = r.rows[0]?.version ?? 0;
        if (current > PG_SCHEMA_VERSION)
          throw new Error(`its schema version ${current} is newer than this tokenmeter's (${PG_SCHEMA_VERSION})`);
        // The view holds no data: made anew from the table of record fields whenever its columns differ (a field added).
        const viewColumns = async () =>
          (
            await client.query<{ c: string }>(
              "SELECT column_name AS c FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'usage_records' ORDER BY ordinal_position",
            )
          ).rows.map((r) => r.c);
        const sameView = (cols: string[]) => cols.join() === PG_VIEW_COLUMNS.join();
        if (current === PG_SCHEMA_VERSION && sameView(await viewColumns())) return;
        await client.query('BEGIN');
        try {
          for (let i = current; i < PG_SCHEMA_VERSION; i++) await client.query(PG_MIGRATIONS[i] as string);
          await client.query('DELETE FROM tokenmeter_schema');
          await client.query('INSERT INTO tokenmeter_schema (version) VALUES ($1)', [PG_SCHEMA_VERSION]);
          if (!sameView(await viewColumns())) {
            await client.query('DROP VIEW IF EXISTS usage_records');
            await client.query(usageRecordsViewPg());
          }
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK').catch(() => {});
          throw error;
        }
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK.toString()]).catch(() => {});
      }
    } finally {
      client.release();
    }
  }

  #error(what: string, cause: unknown): LedgerError {
    const code = (cause as { code?: unknown })?.code;
    return new LedgerError(this.location, `${what}: ${(cause as Error)?.message ?? String(cause)}`, {
      cause,
      code: typeof code === 'string' ? code : undefined,
    });
  }

  async #query(sql: string, params: readonly unknown[] = []): Promise<Record<string, unknown>[]> {
    await this.#migrated();
    try {
      return (await this.#pool.query(sql, params as unknown[])).rows as Record<string, unknown>[];
    } catch (cause) {
      throw this.#error('cannot read the ledger', cause);
    }
  }

  async write(batch: readonly UsageRecord[]): Promise<void> {
    await this.#write(batch);
  }

  /**
   * Writes records copied from another ledger (`tokenmeter migrate`) and, in the same transaction,
   * how far that source has been copied: its id of the last record and the running count.
   */
  async writeImport(batch: readonly UsageRecord[], source: string, lastId: number): Promise<void> {
    await this.#write(batch, async (client) => {
      await client.query(
        `INSERT INTO tokenmeter_imports (source, last_id, records) VALUES ($1, $2, $3)
         ON CONFLICT (source) DO UPDATE SET last_id = excluded.last_id, records = tokenmeter_imports.records + excluded.records`,
        [source, lastId, batch.length],
      );
    });
  }

  /** How far `source` has been copied in: the last id and the records so far (zero when never). */
  async imported(source: string): Promise<{ lastId: number; records: number }> {
    const [row] = await this.#query('SELECT last_id, records FROM tokenmeter_imports WHERE source = $1', [source]);
    return row === undefined ? { lastId: -1, records: 0 } : { lastId: Number(row.last_id), records: Number(row.records) };
  }

  async #write(batch: readonly UsageRecord[], also?: (client: Pg.PoolClient) => Promise<void>): Promise<void> {
    if (batch.length === 0) return;
    await this.#migrated();
    let rows = batch;
    const client = await this.#pool.connect().catch((cause: unknown) => {
      throw this.#error(`cannot write ${batch.length} records`, cause);
    });
    let committing = false;
    const token = randomUUID();
    try {
      const uncertain = this.#uncertain;
      if (uncertain !== undefined) {
        // The batch whose COMMIT was cut: if it landed, its records are not written again.
        const r = await client.query('SELECT 1 FROM tokenmeter_batches WHERE token = $1', [uncertain.token]);
        if (r.rows.length > 0) rows = rows.filter((x) => !uncertain.records.has(x));
        this.#uncertain = undefined;
        if (rows.length === 0) {
          client.release();
          return;
        }
      }
      const values = [...batchColumns(rows), ...batchRollups(rows), token, Date.now()];
      // Without more to write in the same transaction, the statement is its own transaction.
      if (also !== undefined) await client.query('BEGIN');
      else committing = true;
      await client.query({ name: 'tokenmeter_write', text: WRITE_SQL, values });
      if (also !== undefined) {
        await also(client);
        committing = true;
        await client.query('COMMIT');
      }
    } catch (cause) {
      if (committing && connectionLost(cause)) this.#uncertain = { token, records: new Set(rows) };
      else if (also !== undefined) await client.query('ROLLBACK').catch(() => {});
      client.release(connectionLost(cause) ? (cause as Error) : undefined);
      throw this.#error(`cannot write ${rows.length} records`, cause);
    }
    client.release();
  }

  /**
   * Keeps budget alerts in one statement; one already kept (by this instance or another, which may
   * cross the same threshold at the same time) is left as it is: the unique key decides, no lock.
   */
  async keepBudgetAlerts(alerts: readonly BudgetAlertRow[]): Promise<void> {
    await this.#migrated();
    const w = BUDGET_ALERT_COLUMNS.length;
    // A statement binds at most 65,535 parameters: 1,000 alerts of 14 are well within.
    for (let from = 0; from < alerts.length; from += 1000) {
      const values = alerts.slice(from, from + 1000).map(budgetAlertValues);
      const rows = values.map((_, r) => `(${BUDGET_ALERT_COLUMNS.map((_c, i) => `$${r * w + i + 1}`).join(', ')})`);
      try {
        await this.#pool.query(
          `INSERT INTO budget_alerts (${BUDGET_ALERT_COLUMNS.join(', ')}) VALUES ${rows.join(', ')} ON CONFLICT DO NOTHING`,
          values.flat(),
        );
      } catch (cause) {
        throw this.#error(`cannot keep ${alerts.length} budget alerts`, cause);
      }
    }
  }

  /** The budget alerts kept, newest first. */
  async budgetAlerts(q: BudgetAlertQuery = {}): Promise<BudgetAlertRow[]> {
    const where = budgetAlertWhere(q, (i) => `$${i}`);
    const rows = await this.#query(`SELECT * FROM budget_alerts ${where.sql} ORDER BY at DESC, id DESC LIMIT $${where.params.length + 1}`, [
      ...where.params,
      budgetAlertLimit(q),
    ]);
    return rows.map((r) =>
      budgetAlertOf({
        ...(r as unknown as StoredBudgetAlert),
        at: Number(r.at),
        window_start: Number(r.window_start),
        resets_at: r.resets_at === null ? null : Number(r.resets_at),
      }),
    );
  }

  async #rows(
    sql: string,
    params: readonly unknown[],
    by: readonly Dimension[],
    into: Map<string, AggregateRow>,
    sign: 1 | -1 = 1,
  ): Promise<void> {
    for (const raw of await this.#query(sql, params)) {
      if (raw.requests === null || raw.requests === 0n) continue;
      const key: AggregateRow['key'] = {};
      by.forEach((d, i) => {
        const v = raw[`d${i}`];
        if (d === 'day') key.day = new Date(Number(v) * DAY_MS).toISOString().slice(0, 10);
        else if (d === 'hour') key.hour = new Date(Number(v) * HOUR_MS).toISOString().slice(0, 13);
        // The rollups' '' is "none".
        else key[d] = v === null || v === undefined || v === '' ? null : String(v);
      });
      addToGroup(into, by, key, raw as unknown as RowSums, sign);
    }
  }

  /**
   * Sums grouped by `by`, from the rollups where they answer and the rows for the rest: the same
   * plan as the SQLite store's (aggregate-plan.ts), so both answer alike to the cent. The reads are
   * independent: on connections of their own, at once.
   */
  async aggregate(filter: LedgerFilter, by: readonly Dimension[]): Promise<AggregateRow[]> {
    const out = new Map<string, AggregateRow>();
    await Promise.all(
      planAggregate(filter, by).map((read) =>
        read.from === 'records'
          ? this.#rawAggregate(read.filter, by, out, read.sign)
          : this.#fromRollup(read.filter, by, out, read.rollup, read.noUser, read.sign),
      ),
    );
    return [...out.values()].filter((r) => r.requests !== 0);
  }

  /** The sums of `rollup` over a range aligned to its buckets (either end open; aggregate-plan.ts). */
  async #fromRollup(
    filter: LedgerFilter,
    by: readonly Dimension[],
    out: Map<string, AggregateRow>,
    rollup: Rollup,
    noUser: boolean,
    sign: 1 | -1,
  ): Promise<void> {
    const { since, until } = filter;
    const g = rollup.time === 'hour' ? groupSql(by, 'hour', 'hour / 24', noUser) : groupSql(by, 'NULL::integer', 'day', noUser);
    if (rollup === ROLLUP_USER_HOUR && filter.userId !== undefined && since !== undefined && until !== undefined) {
      // Keyed hour first (writes append): one user's few hours as a list, each a seek of (hour, user_id).
      const hours: number[] = [];
      for (let h = since / HOUR_MS; h < until / HOUR_MS; h++) hours.push(h);
      const where = whereSql({ ...filter, since: undefined, until: undefined }, rollup, [hours]);
      const sql = `SELECT ${g.select}${ROLLUP_SUMS_SQL} FROM rollup_user_hour ${where.sql} AND hour = ANY($1::integer[]) ${g.group}`;
      await this.#rows(sql, where.params, by, out, sign);
      return;
    }
    const where = whereSql(filter, rollup);
    await this.#rows(`SELECT ${g.select}${ROLLUP_SUMS_SQL} FROM ${rollup.table} ${where.sql} ${g.group}`, where.params, by, out, sign);
  }

  async #rawAggregate(filter: LedgerFilter, by: readonly Dimension[], out: Map<string, AggregateRow>, sign: 1 | -1 = 1): Promise<void> {
    const where = whereSql(filter);
    const g = groupSql(by, `ts / ${HOUR_MS}`, `ts / ${DAY_MS}`);
    await this.#rows(`SELECT ${g.select}${SUMS_SQL} FROM records ${where.sql} ${g.group}`, where.params, by, out, sign);
  }

  async records(query: RecordQuery): Promise<(UsageRecord & { id: number })[]> {
    const where = whereSql(query);
    const order = query.order === 'asc' ? 'ASC' : 'DESC';
    const limit = query.limit === undefined ? null : Math.max(0, Math.floor(query.limit));
    where.params.push(limit);
    const sql = `SELECT * FROM records ${where.sql} ORDER BY ts ${order}, id ${order} LIMIT $${where.params.length}`;
    return (await this.#query(sql, where.params)).map(rowToRecord);
  }

  /** Pages through the records in time order (keyset pagination on (ts, id)), so no cursor stays open between pages. */
  async *iterate(filter: LedgerFilter): AsyncGenerator<UsageRecord & { id: number }> {
    const page = 2000;
    let after: [number, number] = [Number.MIN_SAFE_INTEGER, 0];
    for (;;) {
      const where = whereSql(filter);
      where.params.push(after[0], after[1]);
      const k = where.params.length;
      const cond = `${where.sql === '' ? 'WHERE' : `${where.sql} AND`} (ts, id) > ($${k - 1}, $${k})`;
      const rows = await this.#query(`SELECT * FROM records ${cond} ORDER BY ts, id LIMIT ${page}`, where.params);
      for (const row of rows) yield rowToRecord(row);
      if (rows.length < page) return;
      const last = rows[rows.length - 1] as Record<string, unknown>;
      after = [Number(last.ts), Number(last.id)];
    }
  }

  async count(filter: LedgerFilter): Promise<number> {
    const where = whereSql(filter);
    const [row] = await this.#query(`SELECT COUNT(*) AS n FROM records ${where.sql}`, where.params);
    return Number(row?.n ?? 0);
  }

  async span(filter: LedgerFilter = {}): Promise<{ first: number; last: number } | null> {
    const where = whereSql(filter);
    const [row] = await this.#query(`SELECT MIN(ts) AS first, MAX(ts) AS last FROM records ${where.sql}`, where.params);
    return row?.first === null || row?.first === undefined ? null : { first: Number(row.first), last: Number(row.last) };
  }

  async deleteBefore(cutoff: number): Promise<number> {
    // Rollup buckets go whole: the cutoff is taken down to its day (UTC), as the SQLite store does.
    const day = Math.floor(cutoff / DAY_MS);
    await this.#migrated();
    const client = await this.#pool.connect().catch((cause: unknown) => {
      throw this.#error('cannot delete old records', cause);
    });
    try {
      await client.query('BEGIN');
      const r = await client.query('DELETE FROM records WHERE ts < $1', [day * DAY_MS]);
      await client.query('DELETE FROM rollup_hour WHERE hour < $1', [day * 24]);
      await client.query('DELETE FROM rollup_user_day WHERE day < $1', [day]);
      await client.query('DELETE FROM rollup_user_hour WHERE hour < $1', [day * 24]);
      await client.query('DELETE FROM tokenmeter_batches WHERE written_at < $1', [day * DAY_MS]);
      await client.query('COMMIT');
      return r.rowCount ?? 0;
    } catch (cause) {
      await client.query('ROLLBACK').catch(() => {});
      throw this.#error('cannot delete old records', cause);
    } finally {
      client.release();
    }
  }

  /** Keeps a notification Alertmanager sent, in one transaction (notifications-pg.ts). */
  async keepNotification(n: AlertmanagerNotification, receivedAt = Date.now()): Promise<KeptNotification> {
    await this.#migrated();
    const client = await this.#pool.connect().catch((cause: unknown) => {
      throw this.#error('cannot keep an Alertmanager notification', cause);
    });
    try {
      return await keepNotificationPg(client, n, receivedAt);
    } catch (cause) {
      throw this.#error('cannot keep an Alertmanager notification', cause);
    } finally {
      client.release();
    }
  }

  /** The alerts Alertmanager sent, newest notified first. */
  receivedAlerts(q: ReceivedAlertQuery = {}): Promise<ReceivedAlert[]> {
    return receivedAlertsPg((sql, params) => this.#query(sql, params), q);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}
