import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { everyCount, expected, randomRecords, rec, rng } from '../../test/helpers/ledger-records.ts';
import { type PostgresServer, startPostgres } from '../../test/helpers/postgres.ts';
import type { UsageRecord } from '../usage.ts';
import { FIELD_LIST } from '../usage-fields.ts';
import type { BudgetAlertRow } from './budget-alerts.ts';
import { toSnakeRecord } from './columns.ts';
import { PostgresStore } from './postgres.ts';
import { HOUR_MS } from './rollup.ts';
import { COST_SQL, UNKNOWN_PARTS, unknownPartSql } from './schema.ts';
import { SqliteStore } from './sqlite.ts';
import type { AggregateRow, Dimension, LedgerFilter, LedgerStore } from './types.ts';

/** rollup_user_hour's buckets by hour and user, as the store keeps them. */
type UserHourBucket = { hour: number; user: string; requests: number; input: number; cost: number; unpriced: number };

/** How to open a fresh, empty store of one kind, and read its user-hour rollup behind its back. */
interface StoreFactory {
  open(): Promise<LedgerStore>;
  userHourBuckets(s: LedgerStore): Promise<UserHourBucket[]>;
  /** The rows of the usage_records view, in id order. */
  view(s: LedgerStore): Promise<Record<string, unknown>[]>;
  /** Another store on the same ledger (another process's connection). */
  again(s: LedgerStore): Promise<LedgerStore>;
}

const open: LedgerStore[] = [];
let server: PostgresServer | undefined;

const sqlite: StoreFactory = {
  async open() {
    const s = new SqliteStore(join(mkdtempSync(join(tmpdir(), 'tm-ledger-')), 'ledger.db'));
    open.push(s);
    return s;
  },
  async userHourBuckets(s) {
    const db = new Database(s.location, { readonly: true });
    try {
      return db
        .prepare(
          `SELECT hour, u.value AS user, SUM(requests) AS requests, SUM(input_tokens) AS input, SUM(${COST_SQL}) AS cost,
             SUM(${unknownPartSql(UNKNOWN_PARTS.findIndex(([name]) => name === 'unpriced'))}) AS unpriced
           FROM rollup_user_hour JOIN strings u ON u.id = user_id GROUP BY hour, user_id ORDER BY hour, user`,
        )
        .all() as UserHourBucket[];
    } finally {
      db.close();
    }
  },
  async again(s) {
    const other = new SqliteStore(s.location);
    open.push(other);
    return other;
  },
  async view(s) {
    const db = new Database(s.location, { readonly: true });
    try {
      return db.prepare('SELECT * FROM usage_records ORDER BY id').all() as Record<string, unknown>[];
    } finally {
      db.close();
    }
  },
};

const urls = new Map<LedgerStore, string>();
const postgres: StoreFactory = {
  async open() {
    server ??= await startPostgres();
    const url = await server.database();
    const s = new PostgresStore(url);
    urls.set(s, url);
    open.push(s);
    return s;
  },
  async userHourBuckets(s) {
    const client = new pg.Client({ connectionString: urls.get(s) });
    await client.connect();
    try {
      const r = await client.query(
        `SELECT hour, user_id AS user, SUM(requests)::int AS requests, SUM(input_tokens)::int AS input, SUM(cost_pico)::float8 AS cost,
           SUM(unpriced)::int AS unpriced FROM rollup_user_hour GROUP BY hour, user_id ORDER BY hour, user_id COLLATE "C"`,
      );
      return r.rows as UserHourBucket[];
    } finally {
      await client.end();
    }
  },
  async again(s) {
    const url = urls.get(s) as string;
    const other = new PostgresStore(url);
    urls.set(other, url);
    open.push(other);
    return other;
  },
  async view(s) {
    const client = new pg.Client({ connectionString: urls.get(s) });
    await client.connect();
    try {
      return (await client.query('SELECT * FROM usage_records ORDER BY id')).rows as Record<string, unknown>[];
    } finally {
      await client.end();
    }
  },
};

beforeAll(async () => {
  server = await startPostgres();
}, 60_000);

afterAll(async () => {
  for (const s of open.splice(0)) await s.close();
  await server?.remove();
});

// The same cases against both stores: they must give the same answers, to the cent (picodollars).
describe.each([
  ['SqliteStore', sqlite],
  ['PostgresStore', postgres],
] as const)(
  '%s',
  (_name, f) => {
    it('gives back every field of a record as it was written', async () => {
      const s = await f.open();
      const a = rec({ metadata: { doc: 'a.pdf', n: 2 }, requestModel: 'gpt-4o-latest', cacheWriteTokens: 100, reasoningTokens: 0 });
      const b = rec({
        timestamp: a.timestamp + 1,
        provider: 'cohere',
        serviceType: 'reranking',
        model: 'rerank-v3.5',
        operation: 'rerank',
        inputTokens: null,
        outputTokens: null,
        cachedInputTokens: null,
        totalTokens: null,
        searchUnits: 1,
        costUsd: null,
        costPicoUsd: null,
        inputCostUsd: null,
        outputCostUsd: null,
        apiKeyId: null,
        userId: null,
        threadId: null,
        agent: null,
        durationMs: null,
        error: true,
        errorType: 'rate_limit',
        errorMessage: '429 Too Many Requests',
        cacheWrite1hTokens: 5,
        inputAudioTokens: 6,
        cachedAudioTokens: 7,
        outputAudioTokens: 8,
        outputImageTokens: 9,
        webSearches: 2,
      });
      await s.write([a, b]);
      const [gotB, gotA] = await s.records({});
      expect(gotA).toEqual({ ...a, id: expect.any(Number) });
      expect(gotB).toEqual({ ...b, id: expect.any(Number) });
      expect(await s.records({ order: 'asc', limit: 1 })).toEqual([{ ...a, id: expect.any(Number) }]);
      const all: UsageRecord[] = [];
      for await (const r of s.iterate({})) all.push(r);
      expect(all.map((r) => r.provider)).toEqual(['openai', 'cohere']);
      expect(await s.span()).toEqual({ first: a.timestamp, last: b.timestamp });
      expect(await s.count({ provider: 'cohere' })).toBe(1);
      expect(await s.count({ provider: 'nobody' })).toBe(0);
    });

    it('keeps every field of the table of record fields, rare counts included, and its usage_records view gives each back by its export name', async () => {
      const s = await f.open();
      const full = everyCount({ metadata: { doc: 'a.pdf' } });
      const plain = rec({ timestamp: full.timestamp + 1 });
      await s.write([full, plain]);
      expect(await s.records({ order: 'asc' })).toEqual([
        { ...full, id: expect.any(Number) },
        { ...plain, id: expect.any(Number) },
      ]);
      const rows = await f.view(s);
      expect(rows).toHaveLength(2);
      for (const [r, row] of [
        [full, rows[0]],
        [plain, rows[1]],
      ] as const) {
        const want = toSnakeRecord(r);
        for (const [, spec] of FIELD_LIST) {
          const got = row?.[spec.column];
          const norm =
            got === null || got === undefined
              ? null
              : spec.kind === 'flag'
                ? Boolean(Number(got))
                : spec.kind === 'json' && typeof got === 'string'
                  ? JSON.parse(got)
                  : ['count', 'usd', 'ms'].includes(spec.kind)
                    ? Number(got)
                    : got;
          expect(norm, spec.column).toEqual(want[spec.column]);
        }
      }
    });

    it('answers every range and grouping the same from its rollups as from the rows themselves', async () => {
      const s = await f.open();
      const start = Date.UTC(2026, 9, 1);
      const records = randomRecords(6000, 42, start, 5 * 86_400_000);
      for (let i = 0; i < records.length; i += 700) await s.write(records.slice(i, i + 700));
      const r = rng(7);
      const cases: [LedgerFilter, Dimension[]][] = [
        [{}, []],
        [{}, ['provider', 'model']],
        [{ since: start + 3_600_000 * 5 + 1234 }, ['provider']],
        [{ since: start + 86_400_000, until: start + 2 * 86_400_000 }, ['model', 'serviceType']],
        [{ userId: 'u2' }, ['model', 'agent']],
        [{ userId: 'u1', since: start + 1000, until: start + 3 * 86_400_000 + 17 }, ['day']],
        [{ threadId: 't3' }, ['day', 'model']],
        [{ provider: 'gemini', since: start + 100 }, ['hour']],
        [{ provider: 'nobody' }, ['model']],
        [{ since: start + 10, until: start + 20 }, []],
        // By user without one: the users' rollup, and the records without a user as all less theirs.
        [{}, ['userId']],
        [{ since: start + 3_600_000 * 5 + 1234 }, ['userId']],
        [{ provider: 'gemini', since: start + 86_400_000 - 7, until: start + 4 * 86_400_000 + 3 }, ['userId', 'day']],
        [{ since: start + 13 * 3_600_000, until: start + 3 * 86_400_000 - 5 }, ['userId', 'model']],
        // A user's range inside one day, on whole hours, and with more than the user to filter on.
        [{ userId: 'u3', since: start + 86_400_000 + 2 * HOUR_MS + 59_999, until: start + 86_400_000 + 21 * HOUR_MS + 1 }, ['model']],
        [{ userId: 'u1', since: start + 3 * HOUR_MS, until: start + 2 * 86_400_000 + 7 * HOUR_MS }, ['agent']],
        [{ userId: 'u2', provider: 'gemini', since: start + 5 * HOUR_MS + 1, until: start + 3 * 86_400_000 + 40 * 60_000 }, ['day']],
        [{ since: start + 86_400_000 + 3 * HOUR_MS + 17, until: start + 86_400_000 + 9 * HOUR_MS - 17 }, ['userId']],
      ];
      for (let i = 0; i < 20; i++) {
        const a = start + Math.floor(r() * 5 * 86_400_000);
        const b = a + Math.floor(r() * 2 * 86_400_000) + 1;
        cases.push([
          { since: a, until: b },
          [(['provider', 'model', 'operation', 'agent', 'apiKeyId', 'day'] as const)[i % 6] as Dimension],
        ]);
        // One user's: whole days from its rollup, the ends from the rows (or the day less the rows outside the range).
        cases.push([{ userId: `u${(i % 3) + 1}`, since: a, until: b }, [(['model', 'agent', 'day'] as const)[i % 3] as Dimension]]);
        cases.push([{ since: a, until: b }, ['userId', (['model', 'agent', 'day'] as const)[i % 3] as Dimension]]);
      }
      // rollup_user_hour bucket by bucket against the rows: what a user's ragged ends read.
      const buckets = await f.userHourBuckets(s);
      const want = new Map<string, { hour: number; user: string; requests: number; input: number; cost: number; unpriced: number }>();
      for (const x of records.filter((x) => x.userId !== null).sort((a, b) => a.timestamp - b.timestamp)) {
        const hour = Math.floor(x.timestamp / HOUR_MS);
        const k = `${hour} ${x.userId}`;
        const b = want.get(k) ?? { hour, user: x.userId as string, requests: 0, input: 0, cost: 0, unpriced: 0 };
        b.requests++;
        b.input += x.inputTokens ?? 0;
        if (x.costPicoUsd === null) b.unpriced++;
        else b.cost += x.costPicoUsd;
        want.set(k, b);
      }
      expect(buckets).toEqual([...want.values()].sort((a, b) => a.hour - b.hour || a.user.localeCompare(b.user)));
      for (const [filter, by] of cases) {
        const want = expected(records, filter, by);
        const got = await s.aggregate(filter, by);
        expect(got.length, JSON.stringify({ filter, by })).toBe(want.size);
        for (const row of got) {
          const w = want.get(JSON.stringify(by.map((d) => row.key[d] ?? null)));
          expect(w, JSON.stringify({ filter, by, key: row.key })).toBeDefined();
          expect({
            requests: row.requests,
            inputTokens: row.inputTokens,
            outputTokens: row.outputTokens,
            costPicoUsd: row.costPicoUsd,
            unpricedRequests: row.unpricedRequests,
            errors: row.errors,
            inputCostPicoUsd: row.inputCostPicoUsd,
            outputCostPicoUsd: row.outputCostPicoUsd,
            outputUnknown: row.unknownCounts.outputTokens,
          }).toEqual(w);
        }
      }
      // Only the records with a user (what the overview's users read): the same groups, less the one without a user.
      const byUser = (rows: AggregateRow[]) => [...rows].sort((a, b) => String(a.key.userId).localeCompare(String(b.key.userId)));
      for (const [since, until] of [
        [undefined, undefined],
        [start + 5 * HOUR_MS + 40 * 60_000, start + 3 * 86_400_000 + 20 * 60_000],
      ] as const) {
        const all = await s.aggregate({ since, until }, ['userId']);
        const withUser = await s.aggregate({ since, until, withUser: true }, ['userId']);
        expect(all.some((x) => x.key.userId === null)).toBe(true);
        expect(byUser(withUser)).toEqual(byUser(all.filter((x) => x.key.userId !== null)));
      }
    });

    it('keeps rollups and rows in agreement when old records are deleted', async () => {
      const s = await f.open();
      const start = Date.UTC(2026, 9, 1);
      const records = randomRecords(3000, 9, start, 4 * 86_400_000);
      await s.write(records);
      const cutoff = start + 2 * 86_400_000 + 5 * HOUR_MS; // mid-day: taken down to the day
      const gone = await s.deleteBefore(cutoff);
      const day = start + 2 * 86_400_000;
      expect(gone).toBe(records.filter((r) => r.timestamp < day).length);
      const [all] = await s.aggregate({}, []);
      expect(all?.requests).toBe(records.length - gone);
      const [u1] = await s.aggregate({ userId: 'u1' }, []);
      expect(u1?.requests).toBe(records.filter((r) => r.timestamp >= day && r.userId === 'u1').length);
      // A range from before the cutoff reads its ragged hours from rollup_user_hour: gone from there too.
      const [since, until] = [start + 5 * HOUR_MS + 20 * 60_000, day + 3 * HOUR_MS + 10 * 60_000];
      const [ragged] = await s.aggregate({ userId: 'u1', since, until }, []);
      expect(ragged?.requests).toBe(records.filter((r) => r.timestamp >= day && r.timestamp < until && r.userId === 'u1').length);
      expect(await s.count({})).toBe(records.length - gone);
    });

    it('keeps each budget alert once per budget, limit, window and level, even when two connections raise it at once', async () => {
      const s = await f.open();
      const other = await f.again(s);
      const month = '2026-11-01T00:00:00.000Z';
      const alert = (level: BudgetAlertRow['level'], at: string, extra: Partial<BudgetAlertRow> = {}): BudgetAlertRow => ({
        level,
        message: `monthly usd budget of user alice ${level}`,
        budget: { scope: 'user', scopeId: 'alice', window: 'monthly', unit: 'usd' },
        used: level === 'warning' ? 8.25 : 9.6,
        limit: 10,
        percentUsed: level === 'warning' ? 82.5 : 96,
        threshold: level === 'warning' ? 0.8 : 0.95,
        windowStart: month,
        resetsAt: '2026-12-01T00:00:00.000Z',
        at,
        ...extra,
      });
      const warning = alert('warning', '2026-11-10T09:00:00.000Z');
      const critical = alert('critical', '2026-11-12T10:30:00.000Z');
      // Both processes cross warning, then critical; each keeps what it raised.
      await Promise.all([
        s.keepBudgetAlerts?.([warning, critical]),
        other.keepBudgetAlerts?.([{ ...warning, at: '2026-11-10T09:00:01.000Z', used: 8.3 }, critical]),
      ]);
      // Next month's warning, the per-user (*) budget's warning of another limit, and a provider's
      // subscription limit beside a provider budget of the same identity: three more alerts.
      const nextMonth = alert('warning', '2026-12-03T08:00:00.000Z', { windowStart: '2026-12-01T00:00:00.000Z' });
      const perUser = alert('warning', '2026-11-11T00:00:00.000Z', { limit: 20, used: 16.5, percentUsed: 82.5 });
      const provider = { scope: 'provider', scopeId: 'openai', window: 'monthly', unit: 'usd' as const };
      const limitAlert = alert('warning', '2026-11-13T00:00:00.000Z', { budget: { ...provider, limitType: 'monthly_limit' } });
      const budgetAlert = alert('warning', '2026-11-13T00:00:00.000Z', { budget: provider });
      await other.keepBudgetAlerts?.([nextMonth, perUser, limitAlert, budgetAlert, warning]);
      const kept = (await s.budgetAlerts?.()) ?? [];
      expect(kept.map((a) => `${a.at} ${a.level} ${a.budget.scopeId} ${a.budget.limitType ?? ''} ${a.limit}`)).toEqual([
        '2026-12-03T08:00:00.000Z warning alice  10',
        // Same time: the one kept last first.
        '2026-11-13T00:00:00.000Z warning openai  10',
        '2026-11-13T00:00:00.000Z warning openai monthly_limit 10',
        '2026-11-12T10:30:00.000Z critical alice  10',
        '2026-11-11T00:00:00.000Z warning alice  20',
        expect.stringMatching(/^2026-11-10T09:00:0[01]\.000Z warning alice {2}10$/),
      ]);
      // Given back as it was raised.
      expect(kept[3]).toEqual(critical);
      expect(kept[1]).toEqual(budgetAlert);
      // The range and the limit.
      const since = Date.parse('2026-11-11T00:00:00.000Z');
      const until = Date.parse('2026-11-13T00:00:00.000Z');
      expect((await s.budgetAlerts?.({ since, until }))?.map((a) => a.level)).toEqual(['critical', 'warning']);
      expect((await s.budgetAlerts?.({ limit: 2 }))?.map((a) => a.at)).toEqual(['2026-12-03T08:00:00.000Z', '2026-11-13T00:00:00.000Z']);
    });

    it('refuses a batch it cannot encode, naming the ledger, and writes none of it', async () => {
      const s = await f.open();
      // JSON.stringify throws on a bigint in the metadata.
      await expect(s.write([rec(), rec({ metadata: { n: 1n } })])).rejects.toThrow(/cannot write 2 records: .*BigInt/);
      expect(await s.records({})).toEqual([]);
    });
  },
  60_000,
);
