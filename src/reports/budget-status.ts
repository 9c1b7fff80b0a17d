import type { BudgetScope } from '../budgets/budget-spec.ts';
import type { BudgetState } from '../budgets/budget-state.ts';
import { levelOf } from '../budgets/limits.ts';

/** A budget's standing in its current window. */
export interface BudgetStatus {
  scope: BudgetScope;
  scopeId: string;
  window: string;
  unit: 'usd' | 'tokens';
  limitType: string | null;
  limit: number;
  used: number;
  /** Held by calls in flight (enforced budgets). */
  reserved: number;
  remaining: number;
  percentUsed: number;
  level: 'ok' | 'warning' | 'critical' | 'exceeded';
  warningThreshold: number;
  criticalThreshold: number;
  enforce: boolean;
  /**
   * Where the budget is defined: `config` (config.json: every process and `tokenmeter status`
   * see it) or `code` (set in the app's code: only that process's `status()` and `/v1/status` list it).
   */
  source: 'config' | 'code';
  windowStart: string;
  /** null for rolling windows and runs. */
  resetsAt: string | null;
}

export function statusOf(s: BudgetState): BudgetStatus {
  const toUnit = (v: number) => (s.id.unit === 'usd' ? v / 1e12 : v);
  const ratio = s.limitUnits === 0 ? (s.used > 0 ? 1 : 0) : s.used / s.limitUnits;
  return {
    scope: s.id.scope,
    scopeId: s.id.scopeId,
    window: s.id.window,
    unit: s.id.unit,
    limitType: s.id.limitType ?? null,
    limit: s.limitValue,
    used: s.usedValue,
    reserved: toUnit(s.reserved),
    remaining: Math.max(0, s.limitValue - s.usedValue),
    percentUsed: Math.round(ratio * 10_000) / 100,
    level: levelOf(ratio, s.thresholds),
    warningThreshold: s.thresholds.warning,
    criticalThreshold: s.thresholds.critical,
    enforce: s.spec.enforce === true,
    source: s.spec.source ?? 'code',
    windowStart: new Date(s.windowStart).toISOString(),
    resetsAt: s.resetsAt === null ? null : new Date(s.resetsAt).toISOString(),
  };
}

const SEVERITY = { exceeded: 3, critical: 2, warning: 1, ok: 0 } as const;

/** Most severe first, then most used: the order GET /v1/alerts and `tokenmeter alerts` list budgets in. */
export function bySeverity(a: Pick<BudgetStatus, 'level' | 'percentUsed'>, b: Pick<BudgetStatus, 'level' | 'percentUsed'>): number {
  return SEVERITY[b.level] - SEVERITY[a.level] || b.percentUsed - a.percentUsed;
}
