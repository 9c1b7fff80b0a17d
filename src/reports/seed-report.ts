import type { Totals } from '../ledger/types.ts';
import type { BudgetStatus } from './budget-status.ts';
import type { ProviderSummary, Report } from './reports.ts';

// The Graphiti monitor's report shapes (its API reference, `get_usage_report`), snake_case as its
// users' code reads them: `report.total_tokens`, `report.total_cost_usd`,
// `report.subscription_status.openai.percentage_used`. Built from tokenmeter's own reports.

/** One group's sums in a Graphiti-style report. */
export interface SeedTotals {
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
  /** Known cost; calls of unpriced models add nothing (see unpriced_requests). */
  cost_usd: number;
  unpriced_requests: number;
}

/** `getUsageReport(provider, days)`: one provider's usage, as the Graphiti monitor's `get_provider_summary` returned it. */
export interface ProviderUsageReport {
  provider: string;
  period_days: number;
  total_requests: number;
  total_input_tokens: number;
  total_output_tokens: number;
  total_tokens: number;
  total_cost_usd: number;
  by_service_type: Record<string, SeedTotals>;
  by_model: Record<string, SeedTotals>;
}

/** One provider's subscription limit in a Graphiti-style report. */
export interface SeedLimitStatus {
  limit_type: string;
  limit: number;
  used: number;
  remaining: number;
  percentage_used: number;
  level: BudgetStatus['level'];
  unit: 'usd' | 'tokens';
  /** When the window starts again; null for prepaid credits (a balance) and rolling windows. */
  resets_at: string | null;
}

/**
 * A provider's subscription status: the fields of its limit nearest exhaustion (so
 * `status.openai.percentage_used` reads as the seed's did), and every limit by type.
 */
export interface SeedProviderStatus extends SeedLimitStatus {
  limits: Record<string, SeedLimitStatus>;
}

/** `getUsageReport()` without a provider: every provider, as the Graphiti monitor's `get_comprehensive_report` returned it. */
export interface UsageReport {
  report_period: { start_date: string | null; end_date: string; days: number | null };
  summary: {
    total_requests: number;
    total_input_tokens: number;
    total_output_tokens: number;
    total_tokens: number;
    total_cost_usd: number;
  };
  by_provider: Record<string, ProviderUsageReport>;
  subscription_status: Record<string, SeedProviderStatus>;
}

function totalsOf(t: Totals): SeedTotals {
  return {
    requests: t.requests,
    errors: t.errors,
    input_tokens: t.inputTokens,
    output_tokens: t.outputTokens,
    total_tokens: t.totalTokens,
    cost_usd: t.costUsd,
    unpriced_requests: t.unpricedRequests,
  };
}

function mapValues(o: Record<string, Totals>): Record<string, SeedTotals> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, totalsOf(v)]));
}

/** One provider's summary in the seed's shape (`provider` given: zeros when it has no usage in the range). */
export function providerUsageReport(provider: string, days: number, summary: ProviderSummary | undefined): ProviderUsageReport {
  return {
    provider,
    period_days: days,
    total_requests: summary?.requests ?? 0,
    total_input_tokens: summary?.inputTokens ?? 0,
    total_output_tokens: summary?.outputTokens ?? 0,
    total_tokens: summary?.totalTokens ?? 0,
    total_cost_usd: summary?.costUsd ?? 0,
    by_service_type: mapValues(summary?.byServiceType ?? {}),
    by_model: mapValues(summary?.byModel ?? {}),
  };
}

function limitStatus(s: BudgetStatus): SeedLimitStatus {
  return {
    limit_type: s.limitType ?? `${s.window}_${s.unit}`,
    limit: s.limit,
    used: s.used,
    remaining: s.remaining,
    percentage_used: s.percentUsed,
    level: s.level,
    unit: s.unit,
    resets_at: s.resetsAt,
  };
}

/** The report over every provider in the seed's shape. */
export function usageReport(days: number, report: Report): UsageReport {
  const byProvider: Record<string, ProviderUsageReport> = {};
  for (const p of report.byProvider) byProvider[p.provider] = providerUsageReport(p.provider, days, p);
  const status: Record<string, SeedProviderStatus> = {};
  for (const s of report.subscriptionStatus) {
    const l = limitStatus(s);
    const current = status[s.scopeId];
    if (current === undefined) status[s.scopeId] = { ...l, limits: { [l.limit_type]: l } };
    else {
      current.limits[l.limit_type] = l;
      if (l.percentage_used > current.percentage_used) Object.assign(current, l);
    }
  }
  const t = report.totals;
  return {
    report_period: { start_date: report.period.since, end_date: report.period.until, days: report.period.days },
    summary: {
      total_requests: t.requests,
      total_input_tokens: t.inputTokens,
      total_output_tokens: t.outputTokens,
      total_tokens: t.totalTokens,
      total_cost_usd: t.costUsd,
    },
    by_provider: byProvider,
    subscription_status: status,
  };
}
