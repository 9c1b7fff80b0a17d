import type { BillingCycle, LimitType, Thresholds } from './limits.ts';

/** Whose spending a budget caps. */
export const BUDGET_SCOPES = ['global', 'provider', 'user', 'api_key', 'team', 'agent', 'model', 'run'] as const;
export type BudgetScope = (typeof BUDGET_SCOPES)[number];

/** A budget as a user sets it. */
export interface BudgetSpec {
  scope: BudgetScope;
  /** The provider, user, key id, agent, model, team name or run id; `*` for one budget per distinct value (every user, even new ones). */
  scopeId?: string;
  /** A team's members: usage of any of these users or key ids counts. */
  members?: { userIds?: readonly string[]; apiKeyIds?: readonly string[] };
  /** The limit, in `unit`. */
  limit: number;
  /** @default 'usd' */
  unit?: 'usd' | 'tokens';
  /** When usage starts again from zero. @default monthly from the 1st (UTC); prepaid credits and runs never reset */
  cycle?: BillingCycle;
  /** Alert thresholds as fractions of the limit. @default 0.8 warning, 0.95 critical */
  thresholds?: Partial<Thresholds>;
  /** Throw BudgetExceededError from an instrumented call once the budget is spent. @default false */
  enforce?: boolean;
  /** With `enforce`, also block calls of models with no known price. @default false */
  blockUnpriced?: boolean;
  /** The subscription limit type this budget came from (provider limits). */
  limitType?: LimitType;
  /**
   * Where it is defined: `config` (config.json, which every process and the CLI read) or `code`
   * (this process only: `setLimit`, `setBudget`, the `budgets` option, sessions). Shown in status.
   * @default 'code'
   */
  source?: 'config' | 'code';
}

/** One crossing of a threshold. */
export interface Alert {
  level: 'warning' | 'critical' | 'exceeded';
  message: string;
  budget: BudgetIdentity;
  used: number;
  limit: number;
  percentUsed: number;
  /** The threshold crossed, as a fraction of the limit (1 for exceeded). */
  threshold: number;
  windowStart: string;
  /** null for rolling windows and runs. */
  resetsAt: string | null;
  at: string;
}

/** What names a budget in alerts, gauges and errors. */
export interface BudgetIdentity {
  scope: BudgetScope;
  scopeId: string;
  /** monthly, daily, rolling_<N>d or run. */
  window: string;
  unit: 'usd' | 'tokens';
  limitType?: LimitType;
}

/** Who a call or record is for. */
export interface Subject {
  provider: string;
  model: string;
  userId: string | null;
  apiKeyId: string | null;
  agent: string | null;
}

/** What a call about to be made is expected to cost, for enforcement. */
export interface CallEstimate extends Subject {
  runId: string | null;
  /** Estimated cost in picodollars; 0 for a free model, null when the model has no price. */
  costPico: number | null;
  tokens: number;
  /**
   * True when the call's model is not known before it runs (a tracked function given no model):
   * its cost cannot be told, so it is refused by a spent USD budget, as an unpriced model is with
   * `blockUnpriced`, and otherwise holds nothing.
   */
  modelUnknown?: boolean;
}

/** A record as the tracker reads it: a UsageRecord is one, so the hot path copies nothing. */
export interface Spend extends Subject {
  timestamp: number;
  /** Cost in picodollars, null when unpriced. */
  costPicoUsd: number | null;
  totalTokens: number | null;
}
