import type { BudgetSpec } from './budgets/budget-spec.ts';
import { type BillingCycle, DEFAULT_THRESHOLDS, LIMIT_TYPES, type LimitType, type Thresholds, unitOf } from './budgets/limits.ts';
import type { ConfigFile } from './config-schema.ts';
import { ValidationError } from './errors.ts';

/** One subscription limit from the config file (a limit of 0 is not set, and not listed). */
export interface ConfiguredLimit {
  provider: string;
  type: LimitType;
  value: number;
  cycle: BillingCycle;
  thresholds?: Partial<Thresholds>;
  enforce?: boolean;
}

function cycleOf(l: {
  billing_cycle?: string | undefined;
  reset_day?: number | undefined;
  rolling_days?: number | undefined;
}): BillingCycle {
  return l.billing_cycle === 'daily'
    ? { kind: 'daily' }
    : l.billing_cycle === 'rolling'
      ? { kind: 'rolling', days: l.rolling_days ?? 30 }
      : { kind: 'monthly', resetDay: l.reset_day ?? 1 };
}

function thresholdsOf(l: {
  warning_threshold?: number | undefined;
  critical_threshold?: number | undefined;
}): Partial<Thresholds> | undefined {
  if (l.warning_threshold === undefined && l.critical_threshold === undefined) return undefined;
  const t: Partial<Thresholds> = {};
  if (l.warning_threshold !== undefined) t.warning = l.warning_threshold;
  if (l.critical_threshold !== undefined) t.critical = l.critical_threshold;
  return t;
}

/**
 * Every budget the config file sets: each provider's subscription limits (tokens or USD per
 * cycle) and the `budgets` list. The file's `alerts` thresholds apply where a budget sets none.
 */
export function configBudgets(config: ConfigFile): BudgetSpec[] {
  const global = configThresholds(config);
  const out: BudgetSpec[] = [];
  for (const l of configLimits(config)) {
    out.push({
      scope: 'provider',
      scopeId: l.provider,
      limit: l.value,
      unit: unitOf(l.type),
      cycle: l.cycle,
      limitType: l.type,
      thresholds: { ...global, ...l.thresholds },
      enforce: l.enforce ?? false,
      source: 'config',
    });
  }
  for (const b of config.budgets ?? []) {
    const spec: BudgetSpec = {
      scope: b.scope,
      scopeId: b.id ?? (b.scope === 'global' ? 'all' : '*'),
      limit: (b.limit_usd ?? b.limit_tokens) as number,
      unit: b.limit_usd !== undefined ? 'usd' : 'tokens',
      cycle: cycleOf(b),
      thresholds: { ...global, ...thresholdsOf(b) },
      enforce: b.enforce ?? false,
      blockUnpriced: b.block_unpriced ?? false,
      source: 'config',
    };
    if (b.scope === 'team') spec.members = { userIds: b.user_ids ?? [], apiKeyIds: b.api_key_ids ?? [] };
    out.push(spec);
  }
  return out;
}

/** The config file's subscription limits, one entry per provider and limit type. */
export function configLimits(config: ConfigFile): ConfiguredLimit[] {
  const out: ConfiguredLimit[] = [];
  for (const [provider, l] of Object.entries(config.subscription_limits ?? {})) {
    const cycle = cycleOf(l);
    const thresholds = thresholdsOf(l);
    for (const type of LIMIT_TYPES) {
      const value = l[type];
      // The seed's configs write 0 for a limit that is not set.
      if (value === undefined || value === 0) continue;
      const limit: ConfiguredLimit = {
        provider,
        type,
        value,
        // Prepaid credits are a balance, used up from when it was set; they do not reset with the cycle.
        cycle: type === 'prepaid_credits' ? balanceSince(l.prepaid_credits_since) : cycle,
      };
      if (thresholds !== undefined) limit.thresholds = thresholds;
      if (l.enforce !== undefined) limit.enforce = l.enforce;
      out.push(limit);
    }
  }
  return out;
}

/** A prepaid balance's window: from `since` (ISO 8601), else from the start of the ledger. */
export function balanceSince(since: string | undefined): BillingCycle {
  return { kind: 'balance', since: since === undefined ? 0 : Date.parse(since) };
}

/**
 * One threshold from `alerts`: the fraction (`warning_threshold`), or the Graphiti monitor's
 * percentage (`warn_at_percentage`); both may be given only when they agree.
 */
function threshold(alerts: NonNullable<ConfigFile['alerts']>, fraction: 'warning_threshold' | 'critical_threshold'): number | undefined {
  const percentKey = fraction === 'warning_threshold' ? 'warn_at_percentage' : 'critical_at_percentage';
  const f = alerts[fraction];
  const p = alerts[percentKey];
  if (f !== undefined && p !== undefined && Math.abs(f * 100 - p) > 1e-9) {
    throw new ValidationError(`config.json alerts.${percentKey}`, p, `disagrees with alerts.${fraction} (${f}); set one of them`);
  }
  return f ?? (p === undefined ? undefined : p / 100);
}

/** The config file's alert thresholds, defaults filled in; warning must stay below critical. */
export function configThresholds(config: ConfigFile): Thresholds {
  const a = config.alerts ?? {};
  const t = {
    warning: threshold(a, 'warning_threshold') ?? DEFAULT_THRESHOLDS.warning,
    critical: threshold(a, 'critical_threshold') ?? DEFAULT_THRESHOLDS.critical,
  };
  if (t.warning >= t.critical) {
    const key = a.warning_threshold === undefined && a.warn_at_percentage !== undefined ? 'warn_at_percentage' : 'warning_threshold';
    const value = key === 'warn_at_percentage' ? a.warn_at_percentage : t.warning;
    throw new ValidationError(`config.json alerts.${key}`, value, `must be below the critical threshold (${t.critical * 100}%)`);
  }
  return t;
}
