import { CostSum } from '../pricing/money.ts';
import type { UsageRecord } from '../usage.ts';

/** The counts a running summary sums. */
export type SummedCount = 'inputTokens' | 'outputTokens' | 'cachedInputTokens' | 'totalTokens';

/**
 * Running totals of one provider since the monitor started. A count is the sum over the records
 * that reported it, null when records were recorded and none did (an unknown count is never shown
 * as 0); `unreported` says how many records left each out (the sum is then a lower bound).
 */
export interface UsageSummary {
  provider: string;
  requests: number;
  errors: number;
  inputTokens: number | null;
  outputTokens: number | null;
  cachedInputTokens: number | null;
  totalTokens: number | null;
  /**
   * Per summed count, how many records did not report it: what the ledger's totals call
   * `unknownCounts` (ledger/types.ts), under the name usageSummary was published with. Internal
   * code says "unknown counts".
   */
  unreported: Readonly<Record<SummedCount, number>>;
  /** Known cost in USD; calls of unpriced models add nothing (see unpricedRequests). */
  costUsd: number;
  unpricedRequests: number;
}

const NO_UNKNOWN_COUNTS: Readonly<Record<SummedCount, number>> = Object.freeze({
  inputTokens: 0,
  outputTokens: 0,
  cachedInputTokens: 0,
  totalTokens: 0,
});

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
    unreported: NO_UNKNOWN_COUNTS,
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
  /** Records that did not report each count. */
  inputUnknown = 0;
  outputUnknown = 0;
  cachedUnknown = 0;
  totalUnknown = 0;
  unpriced = 0;
  readonly cost = new CostSum();
  readonly provider: string;
  constructor(provider: string) {
    this.provider = provider;
  }
  snapshot(): UsageSummary {
    const n = this.requests;
    return {
      provider: this.provider,
      requests: n,
      errors: this.errors,
      inputTokens: this.inputUnknown === n && n > 0 ? null : this.inputTokens,
      outputTokens: this.outputUnknown === n && n > 0 ? null : this.outputTokens,
      cachedInputTokens: this.cachedUnknown === n && n > 0 ? null : this.cachedInputTokens,
      totalTokens: this.totalUnknown === n && n > 0 ? null : this.totalTokens,
      unreported: this.#unknownCountsNow(),
      costUsd: this.cost.usd,
      unpricedRequests: this.unpriced,
    };
  }

  /** `unreported`: frozen and shared until a count goes unknown again (record() returns it with every call). */
  #unknownCounts: Readonly<Record<SummedCount, number>> | undefined = NO_UNKNOWN_COUNTS;

  /** A record left a count unknown: the next snapshot builds a new `unreported`. */
  unknownCountsChanged(): void {
    this.#unknownCounts = undefined;
  }

  #unknownCountsNow(): Readonly<Record<SummedCount, number>> {
    this.#unknownCounts ??= Object.freeze({
      inputTokens: this.inputUnknown,
      outputTokens: this.outputUnknown,
      cachedInputTokens: this.cachedUnknown,
      totalTokens: this.totalUnknown,
    });
    return this.#unknownCounts;
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
    if (u.inputTokens === null || u.outputTokens === null || u.cachedInputTokens === null || u.totalTokens === null) {
      if (u.inputTokens === null) t.inputUnknown++;
      if (u.outputTokens === null) t.outputUnknown++;
      if (u.cachedInputTokens === null) t.cachedUnknown++;
      if (u.totalTokens === null) t.totalUnknown++;
      t.unknownCountsChanged();
    }
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
