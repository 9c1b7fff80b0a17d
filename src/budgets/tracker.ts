import { DAY_MS } from '../time.ts';
import { Budget, MAX_QUIET_STATES, specKey } from './budget.ts';
import {
  type Alert,
  BUDGET_SCOPES,
  type BudgetScope,
  type BudgetSpec,
  type CallEstimate,
  type Spend,
  type Subject,
} from './budget-spec.ts';
import { addLateSeed, BudgetState, countNow, levelOfUnits, type Seeder } from './budget-state.ts';
import { catchUp, type FleetRead } from './fleet-sync.ts';
import { PendingSpend } from './pending-spend.ts';
import { fits, type LooksAt, type Route } from './route.ts';

// Scopes as small integers (their place in BUDGET_SCOPES), for the hot path's switch (local consts, not imports).
const GLOBAL = BUDGET_SCOPES.indexOf('global');
const PROVIDER = BUDGET_SCOPES.indexOf('provider');
const USER = BUDGET_SCOPES.indexOf('user');
const API_KEY = BUDGET_SCOPES.indexOf('api_key');
const TEAM = BUDGET_SCOPES.indexOf('team');
const AGENT = BUDGET_SCOPES.indexOf('agent');
const MODEL = BUDGET_SCOPES.indexOf('model');
const RUN = BUDGET_SCOPES.indexOf('run');

/** Routes kept (one per user seen lately) before they are all dropped and resolved again. */
const MAX_ROUTES = 10_000;

/** How long a per-value state must have been idle before it may be let go and read again from the ledger. */
export const IDLE_MS = 15 * 60_000;

/**
 * Running totals of every budget, in memory: `spend` adds a record (and returns the crossings),
 * `check` decides whether an enforced call may run and holds its estimate until `settle`. Totals
 * start from the ledger (`seed`) so that a restart does not forget the window's spending.
 */
export class BudgetTracker {
  readonly #budgets: Budget[] = [];
  /** Resolved states per user id (null: records without one); see Route. Emptied whenever budgets or states change. */
  readonly #routes = new Map<string | null, Route>();
  /** Which parts of a record some budget looks at (beside the user, the routes' key): a route checks only those. */
  #looksAt: LooksAt = { provider: false, model: false, apiKeyId: false, agent: false, runId: false };
  /** Records counted but not yet added to their states (see PendingSpend): every read of the states adds them first. */
  readonly #pending: PendingSpend;
  readonly #settleAll = (): void => this.#settle();
  readonly #seed: Seeder;
  /** Seedings from an asynchronous store still under way. */
  readonly #seeding = new Set<Promise<void>>();
  /** States whose asynchronous seed has not arrived: `sync` leaves them alone (it would count the ledger's part twice). */
  readonly #unseeded = new WeakSet<BudgetState>();
  readonly #clock: () => number;
  #enforced = 0;

  /** With the real clock, a record's own timestamp (taken when it was recorded) is the time: no clock read per record. */
  readonly #ownClock: boolean;
  /** True when `seed` reads a ledger that holds every record: a state let go is read back from it. */
  readonly #reseeds: boolean;

  /** Told of the alerts a seed that arrived later raised (records counted meanwhile crossed a threshold with it). */
  readonly #onAlerts: ((alerts: Alert[]) => void) | undefined;

  /**
   * `waits: false` adds every record to its states at once (records never wait, see PendingSpend):
   * slower, for a comparison.
   */
  constructor(
    seed: Seeder,
    clock?: () => number,
    options: { reseeds?: boolean; onAlerts?: (alerts: Alert[]) => void; waits?: boolean } = {},
  ) {
    this.#pending = new PendingSpend(options.waits ?? true);
    this.#seed = seed;
    this.#clock = clock ?? Date.now;
    this.#ownClock = clock !== undefined;
    this.#reseeds = options.reseeds ?? false;
    this.#onAlerts = options.onAlerts;
  }

  get size(): number {
    return this.#budgets.length;
  }

  /** Adds a budget (replacing one of the same scope, id, unit and window, or limit type); returns its state (undefined for `*`). */
  add(spec: BudgetSpec): BudgetState | undefined {
    this.#settle();
    const now = this.#clock();
    const b = new Budget(spec, now);
    const i = this.#budgets.findIndex((x) => specKey(x.spec) === specKey(spec));
    const old = i >= 0 ? this.#budgets[i]?.fixed : undefined;
    if (i >= 0) {
      if (this.#budgets[i]?.spec.enforce) this.#enforced--;
      this.#budgets.splice(i, 1, b);
    } else this.#budgets.push(b);
    if (spec.enforce) this.#enforced++;
    if (b.fixed !== undefined) {
      this.#seedState(b.fixed, spec, true);
      // A budget changed in its window (a new limit in config.json): the levels alerted before
      // stand, and one the change crosses is alerted at the next sync or record, not taken as said.
      if (old !== undefined && old.windowStart === b.fixed.windowStart) b.fixed.fired = Math.min(b.fixed.fired, old.fired);
    }
    this.#changed();
    return b.fixed;
  }

  /** Removes the budget `add(spec)` would replace; false when there is none. */
  removeLike(spec: BudgetSpec): boolean {
    this.#settle();
    const i = this.#budgets.findIndex((x) => specKey(x.spec) === specKey(spec));
    if (i < 0) return false;
    if (this.#budgets[i]?.spec.enforce) this.#enforced--;
    this.#budgets.splice(i, 1);
    this.#changed();
    return true;
  }

  remove(scope: BudgetScope, scopeId: string): boolean {
    this.#settle();
    const i = this.#budgets.findIndex((b) => b.spec.scope === scope && (b.spec.scopeId ?? '') === scopeId);
    if (i < 0) return false;
    if (this.#budgets[i]?.spec.enforce) this.#enforced--;
    this.#budgets.splice(i, 1);
    this.#changed();
    return true;
  }

  /** The budgets changed: every route is stale, and what a route checks is worked out again. */
  #changed(): void {
    this.#routes.clear();
    const kinds = new Set(this.#budgets.map((b) => b.kind));
    this.#looksAt = {
      provider: kinds.has(PROVIDER),
      model: kinds.has(MODEL),
      apiKeyId: kinds.has(API_KEY) || this.#budgets.some((b) => b.kind === TEAM && (b.keyIds?.size ?? 0) > 0),
      agent: kinds.has(AGENT),
      runId: kinds.has(RUN),
    };
  }

  /** The states a record of `s` counts against: its user's route when it still fits, else resolved again. */
  #route(s: Subject, runId: string | null): readonly BudgetState[] {
    const r = this.#routes.get(s.userId);
    if (r !== undefined && fits(r, s, runId, this.#looksAt)) return r.states;
    const states: BudgetState[] = [];
    for (const b of this.#budgets) {
      const state = this.#stateFor(b, s, runId, false);
      if (state !== undefined) states.push(state);
    }
    if (this.#routes.size >= MAX_ROUTES) this.#routes.clear();
    this.#routes.set(s.userId, {
      provider: s.provider,
      model: s.model,
      apiKeyId: s.apiKeyId,
      agent: s.agent,
      runId,
      states,
    });
    return states;
  }

  #seedState(state: BudgetState, spec: BudgetSpec, now: boolean): void {
    if (state.cycle === null) return;
    const seeded = this.#seed(state, spec.members, now);
    if (!(seeded instanceof Promise)) {
      for (const [day, units] of seeded) state.add(units, day * DAY_MS);
      state.fired = levelOfUnits(state, state.used);
      return;
    }
    // Read asynchronously (inside record(), or from PostgreSQL): the spending of before is added
    // when it arrives, while records from now on count as they come (the seeder tells the two
    // apart, see ledgerSeeder in src/budget-seeding.ts). Until then the state knows only those records (and holds).
    const windowStart = state.windowStart;
    this.#unseeded.add(state);
    const done = seeded.then(
      (rows) => {
        this.#unseeded.delete(state);
        // What waits was counted after the state was made: the ledger's rows are of before.
        this.#settle();
        // The window moved on while the ledger was read: what it said is of the old one.
        if (state.windowStart !== windowStart) return;
        const alerts = addLateSeed(state, rows, this.#clock);
        if (alerts.length > 0) this.#onAlerts?.(alerts);
      },
      () => {
        this.#unseeded.delete(state);
      },
    );
    this.#seeding.add(done);
    void done.finally(() => this.#seeding.delete(done));
  }

  /**
   * Brings every state up to the fleet's spending (see {@link catchUp}). Crossings this makes are
   * alerted (onAlerts). Off record()'s path: a timer calls it (src/budget-sync.ts).
   */
  async sync(read: FleetRead): Promise<void> {
    const states = this.states().filter((s) => s.cycle !== null && !this.#unseeded.has(s));
    if (states.length === 0) return;
    const alerts = await catchUp(states, read, this.#clock, this.#settleAll);
    if (alerts.length > 0) this.#onAlerts?.(alerts);
  }

  /** Every budget as it was added, for a caller that replaces some of them (config.json reloaded). */
  specs(): BudgetSpec[] {
    return this.#budgets.map((b) => b.spec);
  }

  /** Resolves once every asynchronous seeding started so far has been applied. */
  async seeded(): Promise<void> {
    while (this.#seeding.size > 0) await Promise.all([...this.#seeding]);
  }

  /** The state a record or call counts against, if any; `*` budgets get a state for a new value on first sight. */
  #stateFor(b: Budget, s: Subject, runId: string | null, now: boolean): BudgetState | undefined {
    let v: string | null;
    switch (b.kind) {
      case GLOBAL:
        return b.fixed;
      case TEAM:
        return (s.userId !== null && b.userIds?.has(s.userId)) || (s.apiKeyId !== null && b.keyIds?.has(s.apiKeyId)) ? b.fixed : undefined;
      case PROVIDER:
        v = s.provider;
        break;
      case USER:
        v = s.userId;
        break;
      case API_KEY:
        v = s.apiKeyId;
        break;
      case AGENT:
        v = s.agent;
        break;
      case MODEL:
        v = s.model;
        break;
      case RUN:
        v = runId;
        break;
      default:
        return undefined;
    }
    if (v === null) return undefined;
    if (b.fixed !== undefined) return v === b.value ? b.fixed : undefined;
    const perValue = b.perValue as Map<string, BudgetState>;
    return perValue.get(v) ?? this.#firstSight(b, perValue, v, now);
  }

  /**
   * A user (key, agent...) seen for the first time gets the `*` budget's limit at once, seeded
   * from the ledger: new users cannot slip past a per-user limit. `seedNow`: see {@link Seeder}.
   */
  #firstSight(b: Budget, perValue: Map<string, BudgetState>, v: string, seedNow: boolean): BudgetState {
    const now = this.#clock();
    if (perValue.size >= b.sweepAt) this.#sweep(b, perValue, now);
    const state = new BudgetState(b.spec, v, now);
    this.#seedState(state, b.spec, seedNow);
    perValue.set(v, state);
    return state;
  }

  /**
   * Lets go of quiet per-value states so that a `*` budget over many users (keys, agents...) keeps
   * memory, and its gauges, bounded. Quiet: nothing held, below the warning threshold (a firing
   * alert must not resolve for want of its gauge), and either nothing used in its current window or
   * idle for IDLE_MS with a ledger to read it back from when the value is seen again. When few are
   * quiet, the next look waits until the map has doubled, so a sweep costs O(1) a new value.
   */
  #sweep(b: Budget, perValue: Map<string, BudgetState>, now: number): void {
    // A state whose records wait would look unused.
    this.#settle();
    for (const [v, state] of perValue) {
      if (state.reserved !== 0) continue;
      state.roll(now);
      if (state.used >= state.warnAt) continue;
      if (state.used === 0 || (this.#reseeds && now - state.lastAt > IDLE_MS)) perValue.delete(v);
    }
    b.sweepAt = Math.max(MAX_QUIET_STATES, perValue.size * 2);
    // Routes may hold the states let go.
    this.#routes.clear();
  }

  /**
   * Counts one record; returns the alerts it raised (each level once per window). A record that
   * cannot raise one may wait to be added to its states with others of its subject (PendingSpend):
   * the states' numbers are current when read through the tracker (`states`, `check`, `sync`).
   */
  spend(s: Spend, runId: string | null): Alert[] | undefined {
    // Small, so that callers inline it: most records end here.
    return this.#pending.take(s, runId, this.#looksAt) ? undefined : this.#count(s, runId);
  }

  /** Counts a record that does not join its waiting subject: see spend. */
  #count(s: Spend, runId: string | null): Alert[] | undefined {
    const states = this.#route(s, runId);
    if (this.#pending.open(s, runId, states, this.#settleAll)) return undefined;
    this.#settle();
    return countNow(states, s, this.#clock, this.#ownClock);
  }

  /** Adds the records that wait to their states; an alert that makes (none should) goes to onAlerts. */
  #settle(): void {
    if (this.#pending.empty) return;
    const alerts = this.#pending.settle(this.#clock());
    if (alerts.length > 0) this.#onAlerts?.(alerts);
  }

  /** True when some budget enforces (so instrumented calls must be checked). */
  get enforcing(): boolean {
    return this.#enforced > 0;
  }

  /**
   * Decides whether a call may run: each enforced budget it counts against must have room for its
   * estimate beside what is used and held by calls in flight. On success the estimate is held
   * (returned, for `settle`); otherwise the first budget without room is returned.
   */
  check(call: CallEstimate): { held: [BudgetState, number][] } | { blocked: BudgetState } {
    this.#settle();
    const held: [BudgetState, number][] = [];
    const now = this.#clock();
    for (const b of this.#budgets) {
      if (!b.spec.enforce) continue;
      const state = this.#stateFor(b, call, call.runId, true);
      if (state === undefined) continue;
      state.roll(now);
      let units: number;
      if (state.id.unit === 'usd') {
        // A free model never spends money; an unpriced one only blocks when the user says so.
        if (call.costPico === 0) continue;
        if (call.costPico === null) {
          if (!b.spec.blockUnpriced && call.modelUnknown !== true) continue;
          if (state.used + state.reserved >= state.limitUnits) return this.#release(held, state);
          continue;
        }
        units = call.costPico;
      } else units = call.tokens;
      if (state.used + state.reserved + units > state.limitUnits || state.used >= state.limitUnits) return this.#release(held, state);
      state.reserved += units;
      state.lastAt = now;
      held.push([state, units]);
    }
    return { held };
  }

  #release(held: [BudgetState, number][], blocked: BudgetState): { blocked: BudgetState } {
    this.settle(held);
    return { blocked };
  }

  /** Gives back what a call held (its real usage arrives through `spend`). */
  settle(held: readonly (readonly [BudgetState, number])[]): void {
    for (const [state, units] of held) state.reserved = Math.max(0, state.reserved - units);
  }

  /** Every state, windows rolled to now. */
  states(): BudgetState[] {
    this.#settle();
    const now = this.#clock();
    const out: BudgetState[] = [];
    for (const b of this.#budgets) {
      if (b.fixed !== undefined) out.push(b.fixed);
      if (b.perValue !== undefined) out.push(...b.perValue.values());
    }
    for (const s of out) s.roll(now);
    return out;
  }
}
