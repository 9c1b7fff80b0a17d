import { CostSum } from '../pricing/money.ts';
import type { UsageRecord } from '../usage.ts';

/** Running totals of one provider since the monitor started. */
export interface UsageSummary {
  provider: string;
  requests: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  totalTokens: number;
  /** Known cost in USD; calls of unpriced models add nothing (see unpricedRequests). */
  costUsd: number;
  unpricedRequests: number;
}

/** A summary of nothing, for `provider` (a record that was not recorded). */
export function emptySummary(provider: unknown): UsageSummary {
  return {
    provider: typeof provider === 'string' ? provider : '',
    requests: 0,
    errors: 0,
    inputTokens: 0,
    outputTokens: 0,
    cachedInputTokens: 0,
    totalTokens: 0,
    costUsd: 0,
    unpricedRequests: 0,
  };
}

/** One provider's running totals (what `record()` returns as usageSummary). */
class ProviderTotals {
  requests = 0;
  errors = 0;
  inputTokens = 0;
  outputTokens = 0;
  cachedInputTokens = 0;
  totalTokens = 0;
  unpriced = 0;
  readonly cost = new CostSum();
  readonly provider: string;
  constructor(provider: string) {
    this.provider = provider;
  }
  snapshot(): UsageSummary {
    return {
      provider: this.provider,
      requests: this.requests,
      errors: this.errors,
      inputTokens: this.inputTokens,
      outputTokens: this.outputTokens,
      cachedInputTokens: this.cachedInputTokens,
      totalTokens: this.totalTokens,
      costUsd: this.cost.usd,
      unpricedRequests: this.unpriced,
    };
  }
}

/** Running totals per provider since the monitor started, in memory. */
export class UsageTotals {
  readonly #byProvider = new Map<string, ProviderTotals>();

  /** Adds a priced record; returns its provider's totals now. */
  add(u: Readonly<UsageRecord>): UsageSummary {
    return this.count(u).snapshot();
  }

  /** Adds a priced record (no snapshot: see RecordPipeline.meter). */
  count(u: Readonly<UsageRecord>): ProviderTotals {
    let t = this.#byProvider.get(u.provider);
    if (t === undefined) {
      t = new ProviderTotals(u.provider);
      this.#byProvider.set(u.provider, t);
    }
    t.requests++;
    if (u.error) t.errors++;
    t.inputTokens += u.inputTokens ?? 0;
    t.outputTokens += u.outputTokens ?? 0;
    t.cachedInputTokens += u.cachedInputTokens ?? 0;
    t.totalTokens += u.totalTokens ?? 0;
    if (u.costPicoUsd === null) t.unpriced++;
    else t.cost.add(u.costPicoUsd);
    return t;
  }

  get(provider: string): UsageSummary {
    return this.#byProvider.get(provider)?.snapshot() ?? emptySummary(provider);
  }

  all(): UsageSummary[] {
    return [...this.#byProvider.values()].map((t) => t.snapshot());
  }
}
