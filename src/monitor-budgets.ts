import type { Held, LimitOptions } from './budgeting.ts';
import type { Alert, BudgetSpec } from './budgets/budget-spec.ts';
import type { LimitType } from './budgets/limits.ts';
import type { MonitorParts } from './compose.ts';
import type { CallContext, ContextStore } from './context.ts';
import { isBudgetExceededError, LedgerError, ValidationError } from './errors.ts';
import type { TrackOptions } from './instrument/track.ts';
import { LedgerQueries, type ReportSources } from './monitor-queries.ts';
import { checkBudgetKeys, checkMethodOptions, SET_LIMIT_OPTION_KEYS } from './option-keys.ts';
import type { BudgetStatus } from './reports/budget-status.ts';
import { resolveQuery } from './reports/query.ts';
import { type RunSession, type SessionOptions, startSession } from './session.ts';

/** Which budget alerts `alerts()` reads, newest first. */
export interface AlertQuery {
  /** The last N days (N may be fractional); ignored when `since` is given. */
  days?: number;
  /** Raised at or after: a Date, epoch ms, or an ISO 8601 date or time. */
  since?: Date | number | string;
  /** Raised before. @default now */
  until?: Date | number | string;
  /** @default 100 */
  limit?: number;
}

const ALERT_QUERY_KEYS: ReadonlySet<string> = new Set(['days', 'since', 'until', 'limit']);

/**
 * The budget methods of `TokenMonitor` (which extends this): limits and budgets, their status and
 * alerts, runs, and enforcement before calls. Over the ledger queries it extends in turn.
 */
export class BudgetControls extends LedgerQueries {
  readonly #p: MonitorParts;
  readonly #ctx: ContextStore;
  readonly #sources: ReportSources;

  constructor(parts: MonitorParts, context: ContextStore, sources: ReportSources) {
    super(sources);
    this.#p = parts;
    this.#ctx = context;
    this.#sources = sources;
  }

  /**
   * The history of budget alerts, newest first: from the ledger, where every process sharing it
   * keeps each alert once (so a restart forgets none), or, with `ledger: false`, those this process
   * raised. `days` back from now, or `since`/`until`; at most `limit` (default 100).
   */
  async alerts(q: AlertQuery = {}): Promise<Alert[]> {
    checkMethodOptions(q, ALERT_QUERY_KEYS, 'an alerts query');
    const { since, until } = resolveQuery({
      ...(q.since === undefined ? {} : { since: q.since }),
      ...(q.until === undefined ? {} : { until: q.until }),
      ...(q.days === undefined ? {} : { days: q.days }),
    });
    const limit = q.limit ?? 100;
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1)
      throw new ValidationError('limit', limit, 'must be a whole number, 1 or more');
    const ledger = this.#p.ledger;
    this.#p.later.drain();
    if (ledger === undefined) return this.#p.budgets.raised(since, until, limit);
    // Those raised so far are written first (with what waits), then read back with every other process's.
    await ledger.flush().catch(() => {});
    const store = ledger.store();
    if (store.budgetAlerts === undefined) throw new LedgerError(store.location, `this ledger (${store.kind}) keeps no budget alerts`);
    return (await store.budgetAlerts({ since, until, limit })) as Alert[];
  }

  /** Calls `listener` with each alert as a budget crosses a threshold (once per level and window). */
  on(event: 'alert', listener: (alert: Alert) => void): this {
    if (event !== 'alert') throw new ValidationError('event', event, "must be 'alert'");
    this.#p.budgets.on(listener);
    return this;
  }

  /** Stops calling `listener` (see `on`). */
  off(event: 'alert', listener: (alert: Alert) => void): this {
    if (event === 'alert') this.#p.budgets.off(listener);
    return this;
  }

  /**
   * Sets a provider's subscription limit (the seed's limit types: max_plan_tokens,
   * free_tier_tokens, paid_tier_tokens in tokens; prepaid_credits, monthly_limit in USD) for this
   * process; `tokenmeter set-limit` or config.json keep it for every process. A value of 0 removes
   * the limit (0 is "not set", as in the seed's configs). `prepaid_credits` is a balance: what is
   * spent from `options.since` on (default: all the ledger holds) uses it up, and it never resets.
   */
  setLimit(provider: string, limitType: LimitType, value: number, options: LimitOptions = {}): void {
    checkMethodOptions(options, SET_LIMIT_OPTION_KEYS, 'setLimit options');
    this.#p.budgets.setLimit(provider, limitType, value, options);
  }

  /** Sets several of a provider's limits at once, in the config file's layout (`{ monthly_limit: 50, max_plan_tokens: 1e6 }`). */
  setProviderLimit(provider: string, limits: Partial<Record<LimitType, number>>, options?: LimitOptions): void {
    for (const [type, value] of Object.entries(limits)) this.setLimit(provider, type as LimitType, value as number, options);
  }

  /** Adds (or replaces) a budget: per provider, user, API key id, team, agent, model, or everything; USD or tokens. */
  setBudget(spec: BudgetSpec): void {
    checkBudgetKeys(spec);
    this.#p.budgets.add(spec);
  }

  /** Removes a budget; false when there was none. */
  removeBudget(scope: BudgetSpec['scope'], scopeId: string): boolean {
    return this.#p.budgets.tracker.remove(scope, scopeId);
  }

  /** Every budget's standing in its current window, with calls in flight held. */
  budgetStatus(): BudgetStatus[] {
    return this.#sources.budgetStatus();
  }

  /** Every budget and subscription limit: used, held by calls in flight, remaining, percentage, level and reset time. */
  status(): BudgetStatus[] {
    return this.budgetStatus();
  }

  /**
   * One run of a workflow with a budget of its own: calls made inside `run(fn)` count against it
   * (and are tagged `run_id` in metadata), `stats()` reports the run, `end()` drops its budget.
   */
  session(options: SessionOptions = {}): RunSession {
    const stats = (q: Parameters<LedgerQueries['sessionStats']>[0]) => this.sessionStats(q);
    return startSession(options, { budgets: this.#p.budgets, context: this.#ctx, status: () => this.budgetStatus(), stats });
  }

  /**
   * Before an instrumented call: holds its estimated cost against enforced budgets, or throws a
   * BudgetExceededError (the request is not sent). Undefined when no budget enforces.
   */
  admit(
    provider: string,
    body: unknown,
    context: CallContext | undefined,
    apiKey: string | undefined,
    apiKeyId?: string,
  ): Held | undefined {
    if (!this.#p.budgets.tracker.enforcing) return undefined;
    // The calls that ended count before this one is let through.
    this.#p.later.drain();
    const ctx = context ?? this.#ctx.current();
    const keyId = apiKey === undefined ? (apiKeyId ?? null) : this.#p.keyIdOf(apiKey);
    return this.#p.budgets.admit(provider, body, ctx, keyId, ctx?.runId ?? null);
  }

  /**
   * Before a `track()`ed or decorated function runs (the CallSink side of `track`): holds its
   * estimated cost against enforced budgets, as `admit` does for instrumented clients, or throws a
   * BudgetExceededError. The request is the first argument when it is an object (its `model`
   * winning over `options.model`), else the arguments' texts.
   */
  admitCall(options: TrackOptions, args: readonly unknown[]): Held | undefined {
    if (this.#p.disabled || !this.#p.budgets.tracker.enforcing) return undefined;
    try {
      this.#p.later.drain();
      const first = args[0];
      const request = typeof first === 'object' && first !== null && !Array.isArray(first) ? first : args;
      const ctx = this.#ctx.current();
      return this.#p.budgets.admit(options.provider, request, ctx, null, ctx?.runId ?? null, options.model);
    } catch (error) {
      if (isBudgetExceededError(error)) throw error;
      this.#p.internalError('budgets', error);
      return undefined;
    }
  }

  /** Gives back what `admit` held when a call ends without usage being recorded (the usage path settles on its own). */
  settle(held: Held | undefined): void {
    this.#p.budgets.settle(held);
  }
}
