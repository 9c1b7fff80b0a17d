import { ValidationError } from '../errors.ts';
import { addTotals, bigPicoToUsd, emptyTotals, UNKNOWN_KEYS } from '../ledger/rollup.ts';
import type { AggregateRow, Dimension, LedgerFilter, LedgerStore, Totals } from '../ledger/types.ts';
import { DAY_MS } from '../time.ts';
import { jsonSafe } from './json-safe.ts';
import { dimensionOf, type ReportQuery, resolveQuery } from './query.ts';
import { type BreakdownRow, breakdown, type Period, periodOf } from './reports.ts';

/** One value's line of a {@link DailyBreakdown}: its totals over the range, and its cost, tokens and calls on each day. */
export interface DailySeries {
  key: string | null;
  total: Totals;
  costUsd: number[];
  totalTokens: number[];
  requests: number[];
}

/** Usage by day, split by one dimension (cost by day stacked by provider or model). */
export interface DailyBreakdown {
  period: Period;
  by: Dimension;
  /** Every UTC day of the range, oldest first (YYYY-MM-DD); from the first record's day when the range has no start. */
  days: string[];
  /** One per value of `by`, largest cost first (the order of `summary`'s rows), each with a point for every day. */
  series: DailySeries[];
  total: Totals;
}

const dayOf = (ms: number) => new Date(Math.floor(ms / DAY_MS) * DAY_MS).toISOString().slice(0, 10);

/**
 * Usage by day and one dimension (default: provider), from the same aggregate as `summary`: the
 * series of a day add up to `summary({ by: 'day' })`'s row of that day, and each series' total
 * to `summary({ by })`'s row of its value.
 */
export async function daily(store: LedgerStore, q: ReportQuery & { by?: Dimension } = {}, now = Date.now()): Promise<DailyBreakdown> {
  const filter = resolveQuery(q, now);
  const by = splitOf(q.by ?? 'provider');
  return jsonSafe(dailyOf(await store.aggregate(filter, ['day', by]), by, filter));
}

function splitOf(by: unknown): Dimension {
  const d = dimensionOf(by);
  if (d === 'day' || d === 'hour') throw new ValidationError('by', d, 'must be a record field: the days are the other axis');
  return d;
}

/** Rows holding `day` and `by` (and maybe more dimensions, added up here) as a daily breakdown of the filter's range. */
function dailyOf(rows: readonly AggregateRow[], by: Dimension, filter: LedgerFilter & { until: number }): DailyBreakdown {
  const first = filter.since ?? rows.reduce((min, r) => Math.min(min, Date.parse(`${r.key.day}T00:00:00Z`)), filter.until);
  const days: string[] = [];
  for (let d = Math.floor(first / DAY_MS); d * DAY_MS < filter.until && rows.length > 0; d++) days.push(dayOf(d * DAY_MS));
  const index = new Map(days.map((d, i) => [d, i]));
  const perKey = new Map<string | null, { total: Totals; days: Totals[] }>();
  for (const r of rows) {
    const k = r.key[by] ?? null;
    let e = perKey.get(k);
    if (e === undefined) {
      e = { total: emptyTotals(), days: days.map(emptyTotals) };
      perKey.set(k, e);
    }
    addTotals(e.total, r);
    addTotals(e.days[index.get(r.key.day ?? '') as number] as Totals, r);
  }
  const b = breakdown(
    [...perKey].map(([k, e]) => ({ key: { [by]: k }, ...e.total })),
    by,
  );
  const series = b.rows.map(({ key, share: _, ...total }) => {
    const perDay = perKey.get(key)?.days ?? [];
    return {
      key,
      total,
      costUsd: perDay.map((t) => t.costUsd),
      totalTokens: perDay.map((t) => t.totalTokens),
      requests: perDay.map((t) => t.requests),
    };
  });
  return { period: periodOf(filter), by, days, series, total: b.total };
}

/** Takes `b` away from `a`. */
function subtractTotals(a: Totals, b: Totals): void {
  a.requests -= b.requests;
  a.errors -= b.errors;
  a.inputTokens -= b.inputTokens;
  a.outputTokens -= b.outputTokens;
  a.cachedInputTokens -= b.cachedInputTokens;
  a.cacheWriteTokens -= b.cacheWriteTokens;
  a.reasoningTokens -= b.reasoningTokens;
  a.totalTokens -= b.totalTokens;
  a.costPicoUsd -= b.costPicoUsd;
  a.costUsd = bigPicoToUsd(a.costPicoUsd);
  a.unpricedRequests -= b.unpricedRequests;
  a.inputCostPicoUsd -= b.inputCostPicoUsd;
  a.inputCostUsd = bigPicoToUsd(a.inputCostPicoUsd);
  a.outputCostPicoUsd -= b.outputCostPicoUsd;
  a.outputCostUsd = bigPicoToUsd(a.outputCostPicoUsd);
  for (const k of UNKNOWN_KEYS) a.unknownCounts[k] -= b.unknownCounts[k];
}

/** The dimensions an {@link Overview} breaks its range down by. */
export const OVERVIEW_DIMENSIONS = ['provider', 'model', 'agent', 'operation', 'userId'] as const;

/** A range at a glance (what the built-in page shows): totals, the top of each dimension, and usage by day. */
export interface Overview {
  period: Period;
  total: Totals;
  /** Each dimension's rows, as `summary({ by })` answers them. */
  breakdowns: Record<(typeof OVERVIEW_DIMENSIONS)[number], BreakdownRow[]>;
  /** Usage by day split by `split`, as `daily({ by: split })` answers it. */
  daily: DailyBreakdown;
}

/**
 * `summary` by provider, model, agent, operation and user and `daily` by `split` (default
 * provider), from two reads instead of six: one of the hourly rollup grouped by day and all of
 * its dimensions, added up here (exactly: picodollar sums) into each breakdown and the days, and
 * one of the users' rollups alone (the records without a user are the total less the users').
 * Each part equals the report it stands for.
 */
export async function overview(store: LedgerStore, q: ReportQuery & { split?: Dimension } = {}, now = Date.now()): Promise<Overview> {
  const filter = resolveQuery(q, now);
  const split = splitOf(q.split ?? 'provider');
  // The users' rollups keep no operation: filtered by user, operations are read on their own.
  const dims: Dimension[] = filter.userId === undefined ? ['provider', 'model', 'agent', 'operation'] : ['provider', 'model', 'agent'];
  if (!dims.includes(split)) dims.push(split);
  // The users from their rollups alone; the records without a user are what the users leave of the total.
  const [rows, users, operations] = await Promise.all([
    store.aggregate(filter, ['day', ...dims]),
    store.aggregate(filter.userId === undefined ? { ...filter, withUser: true } : filter, ['userId']),
    dims.includes('operation') ? undefined : store.aggregate(filter, ['operation']),
  ]);
  const by = (dim: Dimension): BreakdownRow[] => {
    const groups = new Map<string | null, AggregateRow>();
    for (const r of rows) {
      const k = r.key[dim] ?? null;
      let g = groups.get(k);
      if (g === undefined) {
        g = { key: { [dim]: k }, ...emptyTotals() };
        groups.set(k, g);
      }
      addTotals(g, r);
    }
    return breakdown([...groups.values()], dim).rows;
  };
  const d = dailyOf(rows, split, filter);
  const none: AggregateRow = { key: { userId: null }, ...addTotals(emptyTotals(), d.total) };
  for (const u of users) subtractTotals(none, u);
  if (none.requests > 0) users.push(none);
  return jsonSafe({
    period: d.period,
    total: d.total,
    breakdowns: {
      provider: by('provider'),
      model: by('model'),
      agent: by('agent'),
      operation: operations === undefined ? by('operation') : breakdown(operations, 'operation').rows,
      userId: breakdown(users, 'userId').rows,
    },
    daily: d,
  });
}
