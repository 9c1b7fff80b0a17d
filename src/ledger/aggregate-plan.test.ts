import { describe, expect, it } from 'vitest';
import { type AggregateRead, planAggregate } from './aggregate-plan.ts';
import { HOUR_MS } from './rollup.ts';

const DAY = 86_400_000;
const start = Date.UTC(2026, 9, 1);
const span = (r: AggregateRead) => [r.filter.since, r.filter.until];

describe('planAggregate', () => {
  it("reads a user's range as whole days, the ends' whole hours, and no more than half an hour of rows at each end", () => {
    const since = start + 5 * HOUR_MS + 40 * 60_000;
    const until = start + 3 * DAY + 10 * 60_000;
    const reads = planAggregate({ userId: 'u1', since, until }, ['model']);
    expect(reads.map((r) => (r.from === 'records' ? `records ${r.sign}` : `${r.rollup.table} ${r.sign}`))).toEqual([
      'rollup_user_day 1',
      'rollup_user_hour 1',
      'records 1',
      'records 1',
    ]);
    expect(reads.map(span)).toEqual([
      [start + DAY, start + 3 * DAY],
      [start + 6 * HOUR_MS, start + DAY],
      [since, start + 6 * HOUR_MS],
      // The last day's first hour is not whole: no hour of rollup_user_hour, ten minutes of rows.
      [start + 3 * DAY, until],
    ]);
  });

  it('reads the users of a range without a user from all records less those with one, unless only those with one are asked', () => {
    const f = { since: start, until: start + 2 * DAY };
    const tables = (reads: ReturnType<typeof planAggregate>) =>
      reads.map((r) => (r.from === 'records' ? 'records' : `${r.rollup.table}${r.noUser ? ' as no user' : ''} ${r.sign}`));
    expect(tables(planAggregate(f, ['userId']))).toEqual([
      'rollup_user_day 1',
      'rollup_hour as no user 1',
      'rollup_user_day as no user -1',
    ]);
    expect(tables(planAggregate({ ...f, withUser: true }, ['userId']))).toEqual(['rollup_user_day 1']);
    // A run, or a ledger the rollups cannot answer, from the rows.
    expect(tables(planAggregate({ ...f, runId: 'r1' }, ['userId']))).toEqual(['records']);
    expect(tables(planAggregate(f, ['model'], true))).toEqual(['records']);
  });
});
