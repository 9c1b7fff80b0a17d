import { BUDGET_SCOPES, type BudgetSpec } from './budget-spec.ts';
import { BudgetState, windowName } from './budget-state.ts';
import { DEFAULT_CYCLE } from './limits.ts';

/** Per-value states (`*` budgets) kept before quiet ones are let go. */
export const MAX_QUIET_STATES = 10_000;

/** One budget definition and its states (one, or one per scope value for `*`). */
export class Budget {
  readonly spec: BudgetSpec;
  readonly fixed: BudgetState | undefined;
  readonly perValue: Map<string, BudgetState> | undefined;
  readonly userIds: ReadonlySet<string> | undefined;
  readonly keyIds: ReadonlySet<string> | undefined;
  /** The scope as a number, so the hot path switches on a small integer. */
  readonly kind: number;
  /** A fixed budget's scope value (its scopeId). */
  readonly value: string | undefined;
  /** The number of per-value states at which quiet ones are looked for and let go (see BudgetTracker#sweep). */
  sweepAt = MAX_QUIET_STATES;

  constructor(spec: BudgetSpec, now: number) {
    this.kind = BUDGET_SCOPES.indexOf(spec.scope);
    this.spec = spec;
    if (spec.scopeId === '*') this.perValue = new Map();
    else {
      this.fixed = new BudgetState(spec, spec.scopeId ?? (spec.scope === 'global' ? 'all' : ''), now);
      this.value = this.fixed.id.scopeId;
    }
    if (spec.scope === 'team') {
      this.userIds = new Set(spec.members?.userIds ?? []);
      this.keyIds = new Set(spec.members?.apiKeyIds ?? []);
    }
  }
}

/**
 * What a budget is, for replacing it: its scope, id, unit and window (a daily and a monthly budget
 * of one user are two budgets); a provider's subscription limit is one per limit type, whatever its
 * cycle (setting it again with another cycle replaces it).
 */
export function specKey(s: BudgetSpec): string {
  const window = s.limitType !== undefined ? '' : windowName(s.scope === 'run' ? null : (s.cycle ?? DEFAULT_CYCLE));
  return `${s.scope}\u0000${s.scopeId ?? ''}\u0000${s.unit ?? 'usd'}\u0000${s.limitType ?? ''}\u0000${window}`;
}
