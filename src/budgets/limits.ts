import { DAY_MS } from '../time.ts';

/**
 * The seed's subscription limit types: three in tokens, two in USD. `max_plan_tokens` is a plan's
 * cap, `free_tier_tokens` and `paid_tier_tokens` a provider's tiers, `prepaid_credits` money paid
 * up front (a balance that is used up: it never resets, see `balanceSince`), `monthly_limit` a
 * spending cap per billing cycle.
 */
export const LIMIT_TYPES = ['max_plan_tokens', 'free_tier_tokens', 'paid_tier_tokens', 'prepaid_credits', 'monthly_limit'] as const;
export type LimitType = (typeof LIMIT_TYPES)[number];

export function unitOf(type: LimitType): 'tokens' | 'usd' {
  return type === 'prepaid_credits' || type === 'monthly_limit' ? 'usd' : 'tokens';
}

/**
 * When a limit's usage starts again from zero. A `balance` never does: it counts everything spent
 * since `since` (epoch ms; 0 for all the ledger holds), as prepaid credits are used up.
 */
export type BillingCycle =
  | { kind: 'monthly'; resetDay: number }
  | { kind: 'daily' }
  | { kind: 'rolling'; days: number }
  | { kind: 'balance'; since: number };

export const DEFAULT_CYCLE: BillingCycle = { kind: 'monthly', resetDay: 1 };

/** Alert thresholds, as fractions of a limit. The seeds' defaults: 80% warning, 95% critical. */
export interface Thresholds {
  warning: number;
  critical: number;
}
export const DEFAULT_THRESHOLDS: Thresholds = { warning: 0.8, critical: 0.95 };

/**
 * The window a cycle is in at `now` (UTC): [start, end). A rolling window is the last `days` whole
 * days, today included, and moves on at midnight.
 */
export function windowAt(cycle: BillingCycle, now: number): { start: number; end: number } {
  if (cycle.kind === 'balance') return { start: cycle.since, end: Number.POSITIVE_INFINITY };
  const today = Math.floor(now / DAY_MS);
  if (cycle.kind === 'daily') return { start: today * DAY_MS, end: (today + 1) * DAY_MS };
  if (cycle.kind === 'rolling') return { start: (today - cycle.days + 1) * DAY_MS, end: (today + 1) * DAY_MS };
  const d = new Date(now);
  let y = d.getUTCFullYear();
  let m = d.getUTCMonth();
  if (d.getUTCDate() < cycle.resetDay) m -= 1;
  if (m < 0) {
    m = 11;
    y -= 1;
  }
  return { start: Date.UTC(y, m, cycle.resetDay), end: Date.UTC(y, m + 1, cycle.resetDay) };
}

/** The level a usage ratio has reached. */
export function levelOf(ratio: number, t: Thresholds): 'ok' | 'warning' | 'critical' | 'exceeded' {
  if (ratio >= 1) return 'exceeded';
  if (ratio >= t.critical) return 'critical';
  if (ratio >= t.warning) return 'warning';
  return 'ok';
}
