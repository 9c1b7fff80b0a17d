import { ValidationError } from '../errors.ts';
import type { LedgerStore } from '../ledger/types.ts';
import { picoToUsd } from '../pricing/money.ts';
import { resolveQuery } from '../reports/query.ts';
import { DAY_MS, HOUR_MS } from '../time.ts';
import type { UsageRecord } from '../usage.ts';
import { type Ctx, type Group, type Prices, round } from './rule-context.ts';
import { rules } from './rules.ts';
import { ADVICE_DEFAULTS, type Advice, type AdviceItem, type AdviceQuery } from './types.ts';

const RECENT_DAYS = 7;
const MONTH_DAYS = 30;
const SLICES = 50;

const key = (provider: string, model: string, operation: string) => `${provider}\u0000${model}\u0000${operation}`;

function checkNumber(field: string, v: unknown, min: number, max = Number.POSITIVE_INFINITY): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max)
    throw new ValidationError(
      field,
      v,
      max === Number.POSITIVE_INFINITY ? `must be a number of at least ${min}` : `must be from ${min} to ${max}`,
    );
  return v;
}

/** The records to read one by one: all of them when they fit, else contiguous runs from equal slices of the range. */
async function scan(
  store: LedgerStore,
  filter: ReturnType<typeof resolveQuery>,
  total: number,
  limit: number,
  from: number,
  to: number,
): Promise<UsageRecord[]> {
  if (total <= limit) return store.records({ ...filter, order: 'asc', limit });
  const width = (to - from) / SLICES;
  const per = Math.floor(limit / SLICES);
  const out: UsageRecord[] = [];
  for (let i = 0; i < SLICES; i++) {
    const since = Math.floor(from + i * width);
    const until = i === SLICES - 1 ? to : Math.floor(from + (i + 1) * width);
    if (until <= since) continue;
    for (const r of await store.records({ ...filter, since, until, order: 'asc', limit: per })) out.push(r);
  }
  return out;
}

/**
 * What the ledger says a team could save, in dollars: per model and operation, from the rollups
 * (totals, the last week's rate, the hours calls came in) and a bounded scan of the records
 * (prompt sizes, failures, per-call reasoning). `prices` is the price book the ledger was priced
 * with, for the rates of what-ifs.
 */
export async function advise(store: LedgerStore, prices: Prices, q: AdviceQuery = {}, now = Date.now()): Promise<Advice> {
  const minUsd = checkNumber('minUsd', q.minUsd ?? ADVICE_DEFAULTS.minUsd, 0);
  const minCalls = checkNumber('minCalls', q.minCalls ?? ADVICE_DEFAULTS.minCalls, 1);
  const minGroupCalls = checkNumber('minGroupCalls', q.minGroupCalls ?? ADVICE_DEFAULTS.minGroupCalls, 1);
  const scanLimit = checkNumber('scanLimit', q.scanLimit ?? ADVICE_DEFAULTS.scanLimit, 1, 10_000_000);
  const cacheableShare = checkNumber('cacheableShare', q.cacheableShare ?? ADVICE_DEFAULTS.cacheableShare, 0, 1);
  const { minUsd: _m, minCalls: _c, minGroupCalls: _g, scanLimit: _s, cacheableShare: _a, ...rq } = q;
  const filter = resolveQuery(rq.since === undefined && rq.days === undefined ? { ...rq, days: ADVICE_DEFAULTS.days } : rq, now);
  const since = filter.since ?? 0;
  const end = Math.min(filter.until, now + 1);

  // The hours calls came in: for bulk work, and where the range's calls start (the store's span() reads rows).
  const [rows, hourly] = await Promise.all([
    store.aggregate(filter, ['provider', 'model', 'operation', 'agent']),
    store.aggregate(filter, ['hour', 'provider', 'model', 'operation']),
  ]);
  const groups = new Map<string, Group>();
  let calls = 0;
  let costPico = 0n;
  for (const r of rows) {
    const provider = r.key.provider ?? '';
    const model = r.key.model ?? '';
    const operation = r.key.operation ?? '';
    const k = key(provider, model, operation);
    let g = groups.get(k);
    if (g === undefined) {
      g = {
        provider,
        model,
        operation,
        agents: new Map(),
        requests: 0,
        errors: 0,
        input: 0,
        output: 0,
        cached: 0,
        written: 0,
        reasoning: 0,
        costPico: 0n,
        unpriced: 0,
        recentPico: 0n,
        recentRequests: 0,
        hours: new Map(),
        sample: [],
      };
      groups.set(k, g);
    }
    const agent = r.key.agent ?? null;
    g.agents.set(agent, (g.agents.get(agent) ?? 0n) + r.costPicoUsd);
    g.requests += r.requests;
    g.errors += r.errors;
    g.input += r.inputTokens;
    g.output += r.outputTokens;
    g.cached += r.cachedInputTokens;
    g.written += r.cacheWriteTokens;
    g.reasoning += r.reasoningTokens;
    g.costPico += r.costPicoUsd;
    g.unpriced += r.unpricedRequests;
    calls += r.requests;
    costPico += r.costPicoUsd;
  }
  let firstHour = Number.POSITIVE_INFINITY;
  let lastHour = Number.NEGATIVE_INFINITY;
  for (const r of hourly) {
    const h = Date.parse(`${r.key.hour}:00:00Z`);
    if (!Number.isFinite(h)) continue;
    firstHour = Math.min(firstHour, h);
    lastHour = Math.max(lastHour, h);
  }
  const first = Number.isFinite(firstHour) ? Math.max(since, firstHour) : end;
  const coveredDays = (end - first) / DAY_MS;
  const advice: Advice = {
    period: {
      since: new Date(since).toISOString(),
      until: new Date(filter.until).toISOString(),
      days: round((filter.until - since) / DAY_MS, 3),
    },
    calls,
    costUsd: picoToUsd(Number(costPico)),
    scanned: { calls: 0, complete: calls === 0 },
    thin: null,
    minUsd,
    items: [],
    omitted: { items: 0, usd: 0 },
    notJudged: { groups: 0, calls: 0 },
  };
  if (calls < minCalls) {
    advice.thin = `${calls} calls in the range: too few to advise on (at least ${minCalls} needed); no advice rather than a guess.`;
    return advice;
  }
  if (coveredDays < 1) {
    advice.thin = `the calls cover ${round(coveredDays * 24, 1)} hours: less than a day is too short to advise on or project per month.`;
    return advice;
  }

  // The last week's rate (or the whole range when it is shorter), for the per-month figures.
  const recentDays = Math.min(RECENT_DAYS, coveredDays);
  const recent = await store.aggregate({ ...filter, since: Math.max(first, end - recentDays * DAY_MS) }, [
    'provider',
    'model',
    'operation',
  ]);
  for (const r of recent) {
    const g = groups.get(key(r.key.provider ?? '', r.key.model ?? '', r.key.operation ?? ''));
    if (g === undefined) continue;
    g.recentPico += r.costPicoUsd;
    g.recentRequests += r.requests;
  }
  for (const r of hourly) {
    const g = groups.get(key(r.key.provider ?? '', r.key.model ?? '', r.key.operation ?? ''));
    if (g !== undefined) g.hours.set(r.key.hour ?? '', (g.hours.get(r.key.hour ?? '') ?? 0) + r.requests);
  }

  const sample = await scan(store, filter, calls, scanLimit, first, Math.min(end, lastHour + HOUR_MS));
  advice.scanned = { calls: sample.length, complete: sample.length >= calls };
  for (const r of sample) groups.get(key(r.provider, r.model, r.operation))?.sample.push(r);

  const all: AdviceItem[] = [];
  const rs = rules(prices);
  for (const g of groups.values()) {
    if (g.requests < minGroupCalls) {
      advice.notJudged.groups++;
      advice.notJudged.calls += g.requests;
      continue;
    }
    const price = prices(g.provider, g.model);
    const ctx: Ctx = { g, price, cacheableShare, minGroupCalls, monthly: monthlyFactor(g, recentDays) };
    for (const rule of rs) for (const item of rule(ctx)) all.push(item);
  }
  all.sort((a, b) => b.usd - a.usd || a.kind.localeCompare(b.kind));
  for (const item of all) {
    if (item.usd >= minUsd && item.usd > 0) advice.items.push(item);
    else if (item.usd > 0) {
      advice.omitted.items++;
      advice.omitted.usd = round(advice.omitted.usd + item.usd, 6);
    }
  }
  return advice;
}

/** USD over the range → USD per 30 days at the rate of the recent window: by cost, or by calls when unpriced. */
function monthlyFactor(g: Group, recentDays: number): number {
  const share = g.costPico > 0n ? Number(g.recentPico) / Number(g.costPico) : g.requests > 0 ? g.recentRequests / g.requests : 0;
  return (share * MONTH_DAYS) / recentDays;
}
