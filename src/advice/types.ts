import type { ReportQuery } from '../reports/query.ts';

/** What the advice covers and how much it says. */
export interface AdviceQuery extends ReportQuery {
  /** Items worth less than this over the range, in USD, are left out. @default 1 */
  minUsd?: number;
  /** Fewer calls than this in the range is too thin to advise on. @default 100 */
  minCalls?: number;
  /** A model and operation with fewer calls than this is not judged. @default 50 */
  minGroupCalls?: number;
  /** The most records read one by one (the rest comes from the rollups). @default 20000 */
  scanLimit?: number;
  /** The share of the uncached input of a caching-capable operation assumed cacheable in the caching what-if. @default 0.5 */
  cacheableShare?: number;
}

/** The defaults of {@link AdviceQuery}. */
export const ADVICE_DEFAULTS = { days: 30, minUsd: 1, minCalls: 100, minGroupCalls: 50, scanLimit: 20_000, cacheableShare: 0.5 } as const;

/** The kinds of advice, one per way the ledger shows money could be saved. */
export type AdviceKind =
  | 'prompt-caching'
  | 'cache-writes-unread'
  | 'cheaper-model'
  | 'prompt-size-outliers'
  | 'failures'
  | 'reasoning-ceiling'
  | 'output-ceiling'
  | 'batch';

/** A call shown as an example: its ledger record id and what made it one. */
export interface AdviceExample {
  id: number | null;
  timestamp: string;
  inputTokens: number | null;
  costUsd: number | null;
}

/** One thing a team could do, with the money at stake. */
export interface AdviceItem {
  kind: AdviceKind;
  /** What, in a few words. */
  title: string;
  /** Where: the provider, model and operation, and the agents whose calls they are (largest cost first). */
  where: { provider: string; model: string; operation: string; agents: (string | null)[] };
  /** The figures the advice stands on (counts, shares, token sizes, rates, the what-if totals). */
  evidence: Record<string, number | string | boolean | null | { model: string; usd: number }[]>;
  /** What it would have saved over the range, in USD. */
  usd: number;
  /** The same at the rate of the last seven days (or the range, when shorter), per 30 days. */
  usdPerMonth: number;
  /** True for a what-if resting on an assumption (a share cached, another model): an estimate, not a measurement. */
  estimate: boolean;
  /** The sentence saying what the ledger shows. */
  summary: string;
  /** What to do. */
  action: string;
  /** Calls to look at, by ledger record id. */
  examples?: AdviceExample[];
  /** The provider's page behind the figure (caching minimum, batch discount). */
  source?: string;
}

/** The advice over a range. */
export interface Advice {
  period: { since: string; until: string; days: number };
  calls: number;
  costUsd: number;
  /** Records read one by one; when not `complete`, per-call figures are from these, scaled to each group's calls. */
  scanned: { calls: number; complete: boolean };
  /** Why there is no advice when the ledger is too thin to support any; null otherwise. */
  thin: string | null;
  minUsd: number;
  /** Largest first. Items overlap (a cheaper model would also cut what caching saves): they do not add up. */
  items: AdviceItem[];
  /** Items under `minUsd`, left out. */
  omitted: { items: number; usd: number };
  /** Model and operation groups with too few calls to judge. */
  notJudged: { groups: number; calls: number };
}
