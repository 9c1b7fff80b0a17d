import { type Alert, BUDGET_SCOPES, type BudgetSpec, type CallEstimate } from './budgets/budget-spec.ts';
import type { BudgetState, Seeder } from './budgets/budget-state.ts';
import { type BillingCycle, DEFAULT_THRESHOLDS, LIMIT_TYPES, type LimitType, type Thresholds, unitOf } from './budgets/limits.ts';
import { BudgetTracker } from './budgets/tracker.ts';
import type { CallContext } from './context.ts';
import { BudgetExceededError, ValidationError } from './errors.ts';
import { preloadHoldTokenizer } from './instrument/exact-counts.ts';
import { bodyOf, estimateInputTokens } from './instrument/hold-estimate.ts';
import type { Logger } from './logger.ts';
import { costPico, type PriceBook } from './pricing/price-book.ts';
import type { PricedRecord, RecordSink, SinkAnswer } from './record-sink.ts';
import type { UsageRecord } from './usage.ts';

/**
 * One budget's gauge row (tokenmeter_budget_*), read by metrics at collection time: declared here,
 * where it is made; metrics declares the same shape as what it reads, and only the monitor joins them.
 */
export interface BudgetGaugeRow {
  /** scope, scope_id, window, unit, budget. */
  attributes: Record<string, string>;
  limit: number;
  used: number;
  warning: number;
  critical: number;
  /** Unix seconds; null for rolling windows and runs. */
  windowEnd: number | null;
}

/** How a subscription limit set in code behaves (see `setLimit`). */
export interface LimitOptions {
  /** When usage starts again from zero (not for prepaid_credits, a balance). @default monthly from the 1st (UTC) */
  cycle?: BillingCycle;
  /** @default config.json's alerts, else 0.8 */
  warningThreshold?: number;
  /** @default config.json's alerts, else 0.95 */
  criticalThreshold?: number;
  /** Refuse calls once it is spent. @default false */
  enforce?: boolean;
  /** prepaid_credits: when the balance was what `value` says (Date, epoch ms or ISO 8601). @default all the ledger holds counts */
  since?: Date | number | string;
}

/** A time given as a Date, epoch ms or ISO 8601 text, as epoch ms; a ValidationError naming `since` otherwise. */
function checkSince(v: Date | number | string): number {
  const t = v instanceof Date ? v.getTime() : typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(t)) throw new ValidationError('since', v, 'must be a Date, epoch milliseconds or an ISO 8601 date');
  return t;
}

/** What an enforced call holds until it settles. */
export type Held = readonly (readonly [BudgetState, number])[];

/** Output tokens reserved for a call that sets no max_tokens (a typical answer's length, not a bound). */
export const DEFAULT_OUTPUT_ESTIMATE = 1024;

const MAX_TOKENS_KEYS = [
  'max_tokens',
  'max_completion_tokens',
  'max_output_tokens',
  'maxTokens',
  'maxOutputTokens',
  'num_predict',
  'max_gen_len',
  'maxTokenCount',
] as const;

/** The output tokens a request allows: its max_tokens (by any of the providers' names), else the default. */
function maxTokensOf(body: Record<string, unknown>): number {
  for (const k of MAX_TOKENS_KEYS) {
    const v = body[k];
    if (typeof v === 'number' && v > 0) return v;
  }
  const nested = (body.config ?? body.generationConfig ?? body.options ?? body.inferenceConfig ?? body.textGenerationConfig) as
    | Record<string, unknown>
    | undefined;
  if (nested !== undefined && typeof nested === 'object') {
    for (const k of MAX_TOKENS_KEYS) {
      const v = nested[k];
      if (typeof v === 'number' && v > 0) return v;
    }
  }
  return DEFAULT_OUTPUT_ESTIMATE;
}

/** The run a record was made in (its metadata's run_id), null outside one. */
function runOf(u: Readonly<UsageRecord>): string | null {
  const run = u.metadata === null ? undefined : u.metadata.run_id;
  return typeof run === 'string' ? run : null;
}

/**
 * Budgets as the monitor runs them: the tracker, alert listeners and history, enforcement before
 * instrumented calls, and the gauges the metrics export.
 */
export class Budgets {
  readonly tracker: BudgetTracker;
  readonly #listeners = new Set<(alert: Alert) => void>();
  readonly #history: Alert[] = [];
  readonly #prices: PriceBook;
  readonly #log: Logger;

  /**
   * Keeps alerts as they are raised (the monitor hands them to the ledger's writer, which writes
   * them off the caller's path); undefined without a ledger, when `alerts()` is the history.
   */
  keep: ((alerts: readonly Alert[]) => void) | undefined;

  /** The thresholds of a budget that sets none of its own: config.json's `alerts`, else 0.8 and 0.95. */
  thresholds: Thresholds = DEFAULT_THRESHOLDS;

  constructor(seed: Seeder, prices: PriceBook, log: Logger, clock?: () => number, reseeds = false) {
    // Alerts a seed read later raises (with records counted meanwhile) are announced as spend's are.
    this.tracker = new BudgetTracker(seed, clock, { reseeds, onAlerts: (alerts) => this.announce(alerts) });
    this.#prices = prices;
    this.#log = log;
  }

  /**
   * Sets a provider's subscription limit (see `TokenMonitor.setLimit`); a value of 0 removes it.
   * `prepaid_credits` is a balance: what is spent from `options.since` on uses it up, and it never resets.
   */
  setLimit(provider: string, limitType: LimitType, value: number, options: LimitOptions): void {
    const l = checkLimit(provider, limitType, value);
    if (l.value === 0) {
      this.tracker.removeLike({ scope: 'provider', scopeId: l.provider, limit: 0, unit: unitOf(l.type), limitType: l.type });
      return;
    }
    const thresholds: { warning?: number; critical?: number } = {};
    if (options.warningThreshold !== undefined) thresholds.warning = options.warningThreshold;
    if (options.criticalThreshold !== undefined) thresholds.critical = options.criticalThreshold;
    const spec: BudgetSpec = {
      scope: 'provider',
      scopeId: l.provider,
      limit: l.value,
      unit: unitOf(l.type),
      limitType: l.type,
      thresholds,
    };
    if (l.type === 'prepaid_credits') spec.cycle = { kind: 'balance', since: options.since === undefined ? 0 : checkSince(options.since) };
    else if (options.cycle !== undefined) spec.cycle = options.cycle;
    if (options.enforce !== undefined) spec.enforce = options.enforce;
    this.add(spec);
  }

  add(spec: BudgetSpec): void {
    checkSpec(spec);
    this.tracker.add({ ...spec, thresholds: { ...this.thresholds, ...spec.thresholds }, source: spec.source ?? 'code' });
    // Holds count texts seen before exactly once js-tiktoken is loaded: load it now, off the calls' path.
    if (spec.enforce) void preloadHoldTokenizer();
  }

  on(listener: (alert: Alert) => void): void {
    this.#listeners.add(listener);
  }

  off(listener: (alert: Alert) => void): void {
    this.#listeners.delete(listener);
  }

  /** Keeps alerts in the history, logs them and tells the listeners (BudgetSink's, and those a late seed or a sync raises). */
  announce(alerts: readonly Alert[]): void {
    this.keep?.(alerts);
    for (const a of alerts) {
      this.#history.push(a);
      if (this.#history.length > 1000) this.#history.shift();
      this.#log.warn(`tokenmeter alert: ${a.message}`);
      for (const l of this.#listeners) {
        try {
          l(a);
        } catch (error) {
          this.#log.error(`an alert listener threw: ${(error as Error)?.message ?? String(error)}`);
        }
      }
    }
  }

  /** The last 1,000 alerts this process raised, newest first, raised in [since, until) (ms) and at most `limit`. */
  raised(since: number | undefined, until: number | undefined, limit: number): Alert[] {
    const out: Alert[] = [];
    for (let i = this.#history.length - 1; i >= 0 && out.length < limit; i--) {
      const a = this.#history[i] as Alert;
      const at = Date.parse(a.at);
      if ((since === undefined || at >= since) && (until === undefined || at < until)) out.push(a);
    }
    return out;
  }

  /** Alerts raised in the budgets' current windows, oldest first. */
  alerts(): Alert[] {
    const current = new Map(
      this.tracker.states().map((s) => [`${s.id.scope}\u0000${s.id.scopeId}\u0000${s.id.window}\u0000${s.id.unit}`, s]),
    );
    return this.#history.filter((a) => {
      const s = current.get(`${a.budget.scope}\u0000${a.budget.scopeId}\u0000${a.budget.window}\u0000${a.budget.unit}`);
      return s !== undefined && new Date(s.windowStart).toISOString() === a.windowStart;
    });
  }

  /**
   * Before an instrumented call: holds its estimated cost against every enforced budget it counts
   * against, or throws a BudgetExceededError when one has no room. Undefined when nothing is enforced.
   */
  admit(
    provider: string,
    body: unknown,
    context: CallContext | undefined,
    apiKeyId: string | null,
    runId: string | null,
    /** The model when the request names none (`track()`'s `model` option). */
    modelHint?: string,
  ): Held | undefined {
    if (!this.tracker.enforcing) return undefined;
    const req = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const named = typeof req.model === 'string' ? req.model : typeof req.modelId === 'string' ? req.modelId : modelHint;
    const model = named ?? 'unknown';
    // Bedrock InvokeModel's own JSON body carries the prompt and max tokens.
    const b = (bodyOf(provider, req) ?? req) as Record<string, unknown>;
    // An estimate meant to be rarely below the provider's count; the real count settles the hold.
    const input = estimateInputTokens(provider, model, b);
    const output = maxTokensOf(b);
    const price = this.#prices.resolve(provider, model);
    const call: CallEstimate = {
      provider,
      model,
      userId: context?.userId ?? null,
      apiKeyId,
      agent: context?.agent ?? null,
      runId,
      costPico:
        price === null
          ? null
          : costPico(
              price,
              {
                inputTokens: input,
                outputTokens: output,
                cachedInputTokens: null,
                cacheWriteTokens: null,
                totalTokens: null,
                searchUnits: null,
                error: false,
              },
              typeof b.service_tier === 'string' ? b.service_tier : undefined,
            ),
      tokens: input + output,
    };
    if (named === undefined) call.modelUnknown = true;
    const r = this.tracker.check(call);
    if ('blocked' in r) {
      const s = r.blocked;
      const toUnit = (v: number) => (s.id.unit === 'usd' ? v / 1e12 : v);
      throw new BudgetExceededError({
        budget: { scope: s.id.scope, scopeId: s.id.scopeId, window: s.id.window, unit: s.id.unit },
        used: s.usedValue,
        reserved: toUnit(s.reserved),
        limit: s.limitValue,
        estimate: s.id.unit === 'usd' ? (call.costPico === null ? null : toUnit(call.costPico)) : call.tokens,
        provider,
        model,
      });
    }
    return r.held.length === 0 ? undefined : r.held;
  }

  settle(held: Held | undefined): void {
    if (held !== undefined) this.tracker.settle(held);
  }

  /** One gauge point per budget state, for tokenmeter_budget_*. */
  gauges(): BudgetGaugeRow[] {
    return this.tracker.states().map((s) => ({
      attributes: { scope: s.id.scope, scope_id: s.id.scopeId, window: s.id.window, unit: s.id.unit, budget: budgetLabel(s.spec) },
      limit: s.limitValue,
      used: s.usedValue,
      warning: s.thresholds.warning,
      critical: s.thresholds.critical,
      windowEnd: s.resetsAt === null ? null : s.resetsAt / 1000,
    }));
  }
}

/**
 * Budgets as a sink of the recording pipeline: each record counted against the budgets it falls
 * under; the thresholds it crosses are its answer (record()'s alerts).
 */
export class BudgetSink implements RecordSink {
  readonly name = 'budgets';
  readonly #budgets: Budgets;

  readonly #tracker: BudgetTracker;

  constructor(budgets: Budgets) {
    this.#budgets = budgets;
    this.#tracker = budgets.tracker;
  }

  accept(r: PricedRecord, answer: SinkAnswer): void {
    // The tracker itself, not Budgets.spend: one call less on every record's path.
    const tracker = this.#tracker;
    if (tracker.size === 0) return;
    const alerts = tracker.spend(r, runOf(r));
    if (alerts === undefined) return;
    this.#budgets.announce(alerts);
    answer.alerts = alerts;
  }
}

/**
 * The budget as configured, for the gauges' `budget` label: `user:*` (each user's state of a
 * per-user budget), `user:alice`, `provider:openai:monthly_limit`, `global`. Two budgets that share
 * scope, scope_id, window and unit (a provider budget and that provider's monthly_limit; a user's
 * own budget and the per-user one) are two series, not one Prometheus would keep of two.
 */
export function budgetLabel(spec: BudgetSpec): string {
  let label: string = spec.scope;
  if (spec.scopeId !== undefined && spec.scope !== 'global') label += `:${spec.scopeId}`;
  if (spec.limitType !== undefined) label += `:${spec.limitType}`;
  return label;
}

/** Checks a budget a caller sets, naming the field that is wrong. */
export function checkSpec(spec: BudgetSpec): BudgetSpec {
  if (typeof spec !== 'object' || spec === null) throw new ValidationError('budget', spec, 'must be an object');
  if (!(BUDGET_SCOPES as readonly string[]).includes(spec.scope))
    throw new ValidationError('budget.scope', spec.scope, `must be one of ${BUDGET_SCOPES.join(', ')}`);
  if (typeof spec.limit !== 'number' || !Number.isFinite(spec.limit) || spec.limit < 0) {
    throw new ValidationError('budget.limit', spec.limit, 'must be a number, 0 or more');
  }
  if (spec.unit !== undefined && spec.unit !== 'usd' && spec.unit !== 'tokens')
    throw new ValidationError('budget.unit', spec.unit, 'must be usd or tokens');
  if (spec.scope !== 'global' && spec.scope !== 'team' && (typeof spec.scopeId !== 'string' || spec.scopeId === '')) {
    throw new ValidationError('budget.scopeId', spec.scopeId, `names the ${spec.scope} (or * for each one)`);
  }
  checkCycle(spec.cycle);
  const t = spec.thresholds;
  if (t !== undefined) {
    for (const k of ['warning', 'critical'] as const) {
      const v = t[k];
      if (v !== undefined && (typeof v !== 'number' || !(v > 0 && v <= 1)))
        throw new ValidationError(`budget.thresholds.${k}`, v, 'must be a fraction above 0 and at most 1');
    }
  }
  return spec;
}

/**
 * Checks a budget's cycle as config.json's schema does: a window computed from a missing reset day
 * or day count is an invalid date, which failed every record of the budget's scope inside
 * tokenmeter and exported NaN as its window end.
 */
function checkCycle(cycle: BudgetSpec['cycle']): void {
  if (cycle === undefined) return;
  // Read loosely: this is what a caller passed, whatever its type said.
  const c = (typeof cycle === 'object' && cycle !== null ? cycle : {}) as Record<string, unknown>;
  const whole = (v: unknown, min: number, max: number) => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
  if (c.kind !== 'monthly' && c.kind !== 'daily' && c.kind !== 'rolling' && c.kind !== 'balance')
    throw new ValidationError('budget.cycle.kind', c.kind, 'must be monthly, daily or rolling');
  if (c.kind === 'monthly' && !whole(c.resetDay, 1, 28))
    throw new ValidationError('budget.cycle.resetDay', c.resetDay, 'must be a day of the month, 1 to 28');
  if (c.kind === 'rolling' && !whole(c.days, 1, 366))
    throw new ValidationError('budget.cycle.days', c.days, 'must be a whole number of days, 1 to 366');
  if (c.kind === 'balance' && !(typeof c.since === 'number' && Number.isFinite(c.since)))
    throw new ValidationError('budget.cycle.since', c.since, 'must be a time in epoch milliseconds');
}

/** Checks a subscription limit as `setLimit` takes it. */
export function checkLimit(provider: unknown, limitType: unknown, value: unknown): { provider: string; type: LimitType; value: number } {
  if (typeof provider !== 'string' || provider === '') throw new ValidationError('provider', provider, 'must be a provider id');
  if (!(LIMIT_TYPES as readonly unknown[]).includes(limitType))
    throw new ValidationError('limit_type', limitType, `must be one of ${LIMIT_TYPES.join(', ')}`);
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw new ValidationError(
      'value',
      value,
      `must be a number of ${unitOf(limitType as LimitType) === 'usd' ? 'USD' : 'tokens'}, 0 or more`,
    );
  return { provider, type: limitType as LimitType, value };
}
