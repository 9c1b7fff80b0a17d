import { addTotals, emptyTotals } from '../ledger/rollup.ts';
import type { AggregateRow, Dimension, LedgerFilter, LedgerStore, Totals, UnknownCounts } from '../ledger/types.ts';
import { DAY_MS, HOUR_MS } from '../time.ts';
import type { UsageRecord } from '../usage.ts';
import type { BudgetStatus } from './budget-status.ts';
import { jsonSafe } from './json-safe.ts';
import { dimensionOf, type ReportQuery, resolveQuery } from './query.ts';

/** One group of a breakdown, with its share of the whole (by cost, or by tokens when nothing is priced). */
export interface BreakdownRow extends Totals {
  /** The group's value: a provider, model, user, day (YYYY-MM-DD)... null for records without one. */
  key: string | null;
  share: number;
}

/** The range a report covers, as ISO 8601 times; `since` null means "from the first record". */
export interface Period {
  since: string | null;
  until: string;
}

export interface Summary {
  period: Period;
  by: Dimension;
  total: Totals;
  rows: BreakdownRow[];
}

/** One provider's totals, split by service type and by model (the seed's usage summary). */
export interface ProviderSummary extends Totals {
  provider: string;
  byServiceType: Record<string, Totals>;
  byModel: Record<string, Totals>;
}

export interface Report {
  period: Period & { days: number | null };
  totals: Totals;
  byProvider: ProviderSummary[];
  /** Each provider's subscription limits in their current windows. */
  subscriptionStatus: BudgetStatus[];
}

/** One user's or thread's usage. */
export interface SubjectUsage {
  period: Period;
  totals: Totals;
  byModel: BreakdownRow[];
  byAgent: BreakdownRow[];
  daily: { day: string; requests: number; totalTokens: number; costUsd: number }[];
}

export interface SessionStats {
  calls: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  costUsd: number;
  avgTokensPerCall: number;
  avgCostPerCall: number;
  byAgent: BreakdownRow[];
  byModel: BreakdownRow[];
  /** Per count, the calls that did not report it (the sums above are of the others). */
  unknownCounts: UnknownCounts;
  budget: { limitUsd: number; usedUsd: number; utilization: number; remainingUsd: number } | null;
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number;
}

/** The range a report covers, as ISO times (since null for a range with no start). */
export function periodOf(f: LedgerFilter & { until: number }): Period {
  return { since: f.since === undefined ? null : new Date(f.since).toISOString(), until: new Date(f.until).toISOString() };
}

/** Rows with their shares, largest cost first (then tokens, then key). */
export function breakdown(rows: AggregateRow[], dim: Dimension): { total: Totals; rows: BreakdownRow[] } {
  const total = emptyTotals();
  for (const r of rows) addTotals(total, r);
  const byCost = total.costPicoUsd > 0n;
  const out = rows.map((r) => {
    const { key, ...t } = r;
    const share = byCost
      ? Number((t.costPicoUsd * 1_000_000n) / total.costPicoUsd) / 1e6
      : total.totalTokens > 0
        ? t.totalTokens / total.totalTokens
        : 0;
    return { key: key[dim] ?? null, ...t, share };
  });
  out.sort((a, b) =>
    dim === 'day' || dim === 'hour'
      ? String(a.key).localeCompare(String(b.key))
      : b.costPicoUsd > a.costPicoUsd
        ? 1
        : b.costPicoUsd < a.costPicoUsd
          ? -1
          : b.totalTokens - a.totalTokens || String(a.key).localeCompare(String(b.key)),
  );
  return { total, rows: out };
}

/** Totals grouped by one dimension (default: provider). */
export async function summary(store: LedgerStore, q: ReportQuery & { by?: Dimension } = {}, now = Date.now()): Promise<Summary> {
  const filter = resolveQuery(q, now);
  const by = dimensionOf(q.by ?? 'provider');
  const b = breakdown(await store.aggregate(filter, [by]), by);
  return jsonSafe({ period: periodOf(filter), by, total: b.total, rows: b.rows });
}

/** Per provider: totals, by service type and by model. */
export async function providerSummaries(store: LedgerStore, q: ReportQuery = {}, now = Date.now()): Promise<ProviderSummary[]> {
  const filter = resolveQuery(q, now);
  const rows = await store.aggregate(filter, ['provider', 'serviceType', 'model']);
  const out = new Map<string, ProviderSummary>();
  for (const r of rows) {
    const provider = r.key.provider ?? '';
    let p = out.get(provider);
    if (p === undefined) {
      p = { provider, ...emptyTotals(), byServiceType: {}, byModel: {} };
      out.set(provider, p);
    }
    const { key, ...t } = r;
    addTotals(p, t as Totals);
    const st = key.serviceType ?? '';
    const model = key.model ?? '';
    p.byServiceType[st] = addTotals(p.byServiceType[st] ?? emptyTotals(), t as Totals);
    p.byModel[model] = addTotals(p.byModel[model] ?? emptyTotals(), t as Totals);
  }
  return jsonSafe(
    [...out.values()].sort((a, b) =>
      b.costPicoUsd > a.costPicoUsd ? 1 : b.costPicoUsd < a.costPicoUsd ? -1 : a.provider.localeCompare(b.provider),
    ),
  );
}

/** Across providers: the period, totals, per provider, and each limit's status. */
export async function report(store: LedgerStore, q: ReportQuery, statuses: readonly BudgetStatus[], now = Date.now()): Promise<Report> {
  const filter = resolveQuery(q, now);
  const byProvider = await providerSummaries(store, q, now);
  const totals = emptyTotals();
  for (const p of byProvider) addTotals(totals, p);
  const shown = statuses.filter((b) => b.scope === 'provider' && (q.provider === undefined || b.scopeId === q.provider));
  return jsonSafe({
    period: { ...periodOf(filter), days: q.days ?? (filter.since === undefined ? null : (filter.until - filter.since) / DAY_MS) },
    totals,
    byProvider,
    subscriptionStatus: shown,
  });
}

/** One user's (or thread's) usage: totals, by model, requests by agent, and the daily trend. */
export async function subjectUsage(store: LedgerStore, q: ReportQuery, now = Date.now()): Promise<SubjectUsage> {
  const filter = resolveQuery(q, now);
  const [models, agents, days] = await Promise.all([
    store.aggregate(filter, ['model']),
    store.aggregate(filter, ['agent']),
    store.aggregate(filter, ['day']),
  ]);
  const m = breakdown(models, 'model');
  return jsonSafe({
    period: periodOf(filter),
    totals: m.total,
    byModel: m.rows,
    byAgent: breakdown(agents, 'agent').rows,
    daily: breakdown(days, 'day').rows.map((r) => ({
      day: r.key ?? '',
      requests: r.requests,
      totalTokens: r.totalTokens,
      costUsd: r.costUsd,
    })),
  });
}

/** Statistics of one run of a workflow (the research-workflow seed): calls, tokens, cost, averages, shares, budget use. */
export async function sessionStats(store: LedgerStore, q: ReportQuery & { budgetUsd?: number }, now = Date.now()): Promise<SessionStats> {
  const filter = resolveQuery(q, now);
  const [agents, models, span] = await Promise.all([
    store.aggregate(filter, ['agent']),
    store.aggregate(filter, ['model']),
    store.span(filter),
  ]);
  const a = breakdown(agents, 'agent');
  const t = a.total;
  const budget =
    q.budgetUsd === undefined
      ? null
      : {
          limitUsd: q.budgetUsd,
          usedUsd: t.costUsd,
          utilization: q.budgetUsd > 0 ? t.costUsd / q.budgetUsd : t.costUsd > 0 ? Number.POSITIVE_INFINITY : 0,
          remainingUsd: Math.max(0, q.budgetUsd - t.costUsd),
        };
  return jsonSafe({
    calls: t.requests,
    errors: t.errors,
    inputTokens: t.inputTokens,
    outputTokens: t.outputTokens,
    totalTokens: t.totalTokens,
    costUsd: t.costUsd,
    avgTokensPerCall: t.requests === 0 ? 0 : t.totalTokens / t.requests,
    avgCostPerCall: t.requests === 0 ? 0 : t.costUsd / t.requests,
    byAgent: a.rows,
    byModel: breakdown(models, 'model').rows,
    unknownCounts: t.unknownCounts,
    budget,
    startedAt: span === null ? null : new Date(span.first).toISOString(),
    endedAt: span === null ? null : new Date(span.last).toISOString(),
    durationMs: span === null ? 0 : span.last - span.first,
  });
}

/**
 * Raw records, newest first. `errors`: only failed calls, found through the rollups' error counts
 * (by hour, or by day for a user) so that only the stretches holding errors are read from the
 * rows: without an index on errors, a range with few of them would otherwise be read whole.
 */
export async function records(
  store: LedgerStore,
  q: ReportQuery & { limit?: number; errors?: boolean },
  now = Date.now(),
): Promise<UsageRecord[]> {
  const filter = resolveQuery(q, now);
  const limit = q.limit ?? 100;
  if (q.errors !== true) return store.records({ ...filter, limit });
  // The run filter reads the rows anyway: no rollup to narrow it with.
  if (filter.runId !== undefined) return store.records({ ...filter, limit, errors: true });
  const unit = filter.userId === undefined ? 'hour' : 'day';
  const size = unit === 'hour' ? HOUR_MS : DAY_MS;
  const start = (r: AggregateRow) => Date.parse(unit === 'hour' ? `${r.key.hour}:00:00Z` : `${r.key.day}T00:00:00Z`);
  const out: UsageRecord[] = [];
  // The newest are wanted: the last day first, then the week before it, then the rest of the range.
  let hi = filter.until;
  for (const back of [DAY_MS, 8 * DAY_MS, Number.POSITIVE_INFINITY]) {
    const lo = back === Number.POSITIVE_INFINITY ? filter.since : Math.max(filter.since ?? Number.NEGATIVE_INFINITY, filter.until - back);
    if (lo !== undefined && lo >= hi) continue;
    const window = { ...filter, since: lo, until: hi };
    const buckets = (await store.aggregate(window, [unit]))
      .filter((r) => r.errors > 0)
      .map(start)
      .sort((a, b) => b - a);
    // Runs of adjacent buckets with errors, newest first, each read as one range until `limit` are found.
    for (let i = 0; i < buckets.length && out.length < limit; ) {
      const end = (buckets[i] as number) + size;
      let first = buckets[i] as number;
      while (i + 1 < buckets.length && buckets[i + 1] === first - size) first = buckets[++i] as number;
      i++;
      const since = Math.max(first, lo ?? first);
      const until = Math.min(end, hi);
      out.push(...(await store.records({ ...filter, since, until, limit: limit - out.length, errors: true })));
    }
    if (out.length >= limit || lo === undefined || lo === filter.since) break;
    hi = lo;
  }
  return out;
}
