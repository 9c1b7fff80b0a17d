import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workload } from '../../test/helpers/workload.ts';
import { isValidationError } from '../errors.ts';
import { SqliteStore } from '../ledger/sqlite.ts';
import { DAY_MS, HOUR_MS } from '../time.ts';
import type { UsageRecord } from '../usage.ts';
import { daily, OVERVIEW_DIMENSIONS, overview } from './overview.ts';
import { records, summary } from './reports.ts';

// A real SQLite ledger: ten days of the bench's workload (one failed call in 50), plus a user
// whose few failures sit hours apart among many successful calls.
const now = Date.parse('2026-11-20T15:30:00Z');
const dir = mkdtempSync(join(tmpdir(), 'tm-reports-'));
let store: SqliteStore;
let all: UsageRecord[];

beforeAll(() => {
  store = new SqliteStore(join(dir, 'ledger.db'));
  const base = [...workload(20_000, now - 10 * DAY_MS, (10 * DAY_MS) / 20_000)];
  const sparse = [...workload(3_000, now - 6 * DAY_MS, (5 * DAY_MS) / 3_000)].map((r, i) => ({
    ...r,
    userId: 'sparse',
    error: i % 700 === 0,
    errorType: i % 700 === 0 ? 'timeout' : null,
    errorMessage: i % 700 === 0 ? 'timed out' : null,
  }));
  // Calls without a user (a batch job's): the users' rollups do not hold them.
  const anonymous = [...workload(2_000, now - 9 * DAY_MS, (9 * DAY_MS) / 2_000)].map((r) => ({ ...r, userId: null, threadId: null }));
  all = [...base, ...sparse, ...anonymous].sort((a, b) => a.timestamp - b.timestamp);
  for (let i = 0; i < all.length; i += 5_000) store.writeSync?.(all.slice(i, i + 5_000));
});
afterAll(() => {
  store.closeSync();
  rmSync(dir, { recursive: true, force: true });
});

describe('daily', () => {
  it('splits each day by a dimension: the days add up to the summary by day, the series to the summary by that dimension', async () => {
    for (const q of [
      { days: 7 },
      { days: 7, userId: 'user-3' },
      { since: now - 9.5 * DAY_MS, until: now - 2.25 * DAY_MS, agent: 'writer' },
    ]) {
      const d = await daily(store, { ...q, by: 'model' }, now);
      const byDay = await summary(store, { ...q, by: 'day' }, now);
      const byModel = await summary(store, { ...q, by: 'model' }, now);
      expect(d.series.map((s) => [s.key, s.total.costPicoUsd])).toEqual(byModel.rows.map((r) => [r.key, r.costPicoUsd]));
      expect(d.total).toEqual(byModel.total);
      // Every day of the range, those without usage too.
      const first = Math.floor((q.since ?? now - q.days * DAY_MS) / DAY_MS);
      const last = Math.floor(((q.until ?? now + 1) - 1) / DAY_MS);
      expect(d.days).toEqual(Array.from({ length: last - first + 1 }, (_, i) => new Date((first + i) * DAY_MS).toISOString().slice(0, 10)));
      for (const row of byDay.rows) {
        const i = d.days.indexOf(row.key as string);
        expect(d.series.reduce((n, s) => n + (s.requests[i] as number), 0)).toBe(row.requests);
        expect(d.series.reduce((n, s) => n + (s.costUsd[i] as number), 0)).toBeCloseTo(row.costUsd, 9);
      }
    }
  });

  it('refuses a time dimension as the split, naming it', async () => {
    const e = await daily(store, { by: 'day' }, now).catch((x: unknown) => x);
    expect(isValidationError(e) && e.field).toBe('by');
  });
});

describe('overview', () => {
  it('answers, from two reads, exactly what summary answers by each dimension and daily by the split', async () => {
    for (const q of [
      { days: 7 },
      { days: 30, userId: 'user-3', split: 'model' as const },
      { since: now - 8.7 * DAY_MS, until: now - 1.2 * DAY_MS, provider: 'openai', split: 'agent' as const },
    ]) {
      const o = await overview(store, q, now);
      for (const by of OVERVIEW_DIMENSIONS) expect(o.breakdowns[by], by).toEqual((await summary(store, { ...q, by }, now)).rows);
      expect(o.daily).toEqual(await daily(store, { ...q, by: q.split ?? 'provider' }, now));
      expect(o.total).toEqual((await summary(store, q, now)).total);
    }
  });
});

describe('records, errors only', () => {
  /** The failed calls of a filter, newest first, read the slow way. */
  const failed = (keep: (r: UsageRecord) => boolean, limit: number) =>
    all
      .filter((r) => r.error && keep(r))
      .reverse()
      .slice(0, limit)
      .map((r) => [r.timestamp, r.model, r.userId]);

  it('answers the newest failed calls of the range and filters, as many as asked', async () => {
    const cases: [Parameters<typeof records>[1], (r: UsageRecord) => boolean][] = [
      [{ days: 10, limit: 25 }, () => true],
      [{ days: 3, limit: 10, provider: 'anthropic' }, (r) => r.provider === 'anthropic' && r.timestamp >= now - 3 * DAY_MS],
      // Failures hours apart: found bucket by bucket (by day, as the user's rollup keeps them).
      [{ days: 10, limit: 4, userId: 'sparse' }, (r) => r.userId === 'sparse'],
      [{ days: 10, limit: 100, userId: 'sparse' }, (r) => r.userId === 'sparse'],
      [
        { since: now - 4.5 * DAY_MS, until: now - 1.1 * DAY_MS - 7 * HOUR_MS + 1234, limit: 30, agent: 'critic' },
        (r) => r.agent === 'critic' && r.timestamp >= now - 4.5 * DAY_MS && r.timestamp < now - 1.1 * DAY_MS - 7 * HOUR_MS + 1234,
      ],
    ];
    for (const [q, keep] of cases) {
      const got = await records(store, { ...q, errors: true }, now);
      expect(got.every((r) => r.error)).toBe(true);
      expect(got.map((r) => [r.timestamp, r.model, r.userId])).toEqual(failed(keep, q.limit ?? 100));
    }
  });

  it('answers nothing, at once, where the rollups count no failure', async () => {
    expect(await records(store, { days: 10, userId: 'user-7', model: 'gpt-4o-mini', errors: true }, now)).toEqual(
      failed((r) => r.userId === 'user-7' && r.model === 'gpt-4o-mini', 100),
    );
    expect(await records(store, { since: now - 20 * DAY_MS, until: now - 11 * DAY_MS, errors: true }, now)).toEqual([]);
  });
});
