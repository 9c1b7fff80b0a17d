import { DAY_MS } from '../time.ts';
import { type BillingCycle, DEFAULT_CYCLE, DEFAULT_THRESHOLDS, type LimitType, type Thresholds, windowAt } from './limits.ts';

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

const LEVELS = ['ok', 'warning', 'critical', 'exceeded'] as const;
// Scopes as small integers (their place in BUDGET_SCOPES), for the hot path's switch.
const GLOBAL = BUDGET_SCOPES.indexOf('global');
const PROVIDER = BUDGET_SCOPES.indexOf('provider');
const USER = BUDGET_SCOPES.indexOf('user');
const API_KEY = BUDGET_SCOPES.indexOf('api_key');
const TEAM = BUDGET_SCOPES.indexOf('team');
const AGENT = BUDGET_SCOPES.indexOf('agent');
const MODEL = BUDGET_SCOPES.indexOf('model');
const RUN = BUDGET_SCOPES.indexOf('run');
const PICO = 1e12;

function windowName(cycle: BillingCycle | null): string {
  if (cycle === null) return 'run';
  return cycle.kind === 'rolling' ? `rolling_${cycle.days}d` : cycle.kind;
}

/** The state of one budget for one scope value in its current window. */
export class BudgetState {
  readonly id: BudgetIdentity;
  readonly spec: BudgetSpec;
  /** Limit in the unit's integer form: picodollars or tokens. */
  readonly limitUnits: number;
  readonly warnAt: number;
  readonly critAt: number;
  readonly thresholds: Thresholds;
  readonly cycle: BillingCycle | null;
  /** True for a USD budget (counted in picodollars), false for tokens. */
  readonly usd: boolean;
  windowStart = 0;
  /** 0 until the first roll; Infinity for runs, which have no window end. */
  windowEnd = 0;
  /** Used in this window, in units (rolling windows: the sum of `days`). */
  used = 0;
  /** Held by calls in flight. */
  reserved = 0;
  /** The highest level alerted in this window (0 none). */
  fired = 0;
  /** Rolling windows: usage per UTC day number. */
  days: Map<number, number> | null = null;
  /** When a record last counted or a call last held against this state (ms; 0 never). */
  lastAt = 0;

  constructor(spec: BudgetSpec, scopeId: string, now: number) {
    this.spec = spec;
    this.cycle = spec.scope === 'run' ? null : (spec.cycle ?? DEFAULT_CYCLE);
    const unit = spec.unit ?? 'usd';
    this.usd = unit === 'usd';
    this.id = { scope: spec.scope, scopeId, window: windowName(this.cycle), unit };
    if (spec.limitType !== undefined) this.id.limitType = spec.limitType;
    this.thresholds = { ...DEFAULT_THRESHOLDS, ...spec.thresholds };
    this.limitUnits = unit === 'usd' ? Math.round(spec.limit * PICO) : spec.limit;
    this.warnAt = this.limitUnits * this.thresholds.warning;
    this.critAt = this.limitUnits * this.thresholds.critical;
    if (this.cycle?.kind === 'rolling') this.days = new Map();
    if (this.cycle === null) this.windowEnd = Number.POSITIVE_INFINITY;
    this.roll(now);
  }

  /** Moves to the window `now` is in; false when it already was. */
  roll(now: number): boolean {
    const c = this.cycle;
    if (c === null) return false;
    if (c.kind === 'rolling') {
      const w = windowAt(c, now);
      if (w.start <= this.windowStart && this.windowEnd !== 0) return false;
      this.windowStart = w.start;
      this.windowEnd = w.end;
      const first = w.start / DAY_MS;
      let dropped = false;
      for (const [d, v] of this.days as Map<number, number>) {
        if (d < first) {
          this.used -= v;
          this.days?.delete(d);
          dropped = true;
        }
      }
      if (dropped && this.used < this.warnAt) this.fired = 0;
      return dropped;
    }
    if (now < this.windowEnd && now >= this.windowStart) return false;
    // A balance has one window, from when it was set on.
    if (c.kind === 'balance' && this.windowEnd !== 0) return false;
    const w = windowAt(c, now);
    this.windowStart = w.start;
    this.windowEnd = w.end;
    this.used = 0;
    this.fired = 0;
    return true;
  }

  /** Adds `units` used at `timestamp` (rolling windows: to its day too); returns what is used now. */
  add(units: number, timestamp: number): number {
    const used = this.used + units;
    this.used = used;
    if (this.days !== null) this.#addDay(units, timestamp);
    return used;
  }

  /** Rolling windows: adds `units` to the day of `timestamp` (kept out of `add`, which the hot path inlines). */
  #addDay(units: number, timestamp: number): void {
    const days = this.days as Map<number, number>;
    const d = Math.floor(timestamp / DAY_MS);
    days.set(d, (days.get(d) ?? 0) + units);
  }

  /** used and limit in the budget's unit (USD or tokens). */
  get usedValue(): number {
    return this.id.unit === 'usd' ? this.used / PICO : this.used;
  }
  get limitValue(): number {
    return this.spec.limit;
  }
  get resetsAt(): number | null {
    return this.cycle === null || this.cycle.kind === 'rolling' || this.cycle.kind === 'balance' ? null : this.windowEnd;
  }
}

export function alertOf(b: BudgetState, level: number, now: number): Alert {
  const name = LEVELS[level] as Alert['level'];
  const percent = b.limitUnits === 0 ? 100 : Math.round((b.used / b.limitUnits) * 10_000) / 100;
  const fmt = (v: number) => (b.id.unit === 'usd' ? `$${v.toFixed(4)}` : `${Math.round(v).toLocaleString('en-US')} tokens`);
  const threshold = level === 3 ? 1 : level === 2 ? b.thresholds.critical : b.thresholds.warning;
  const resets = b.resetsAt;
  const what = name === 'exceeded' ? 'exceeded' : `past its ${name} threshold (${Math.round(threshold * 100)}%)`;
  return {
    level: name,
    message: `${b.id.window} ${b.id.unit} budget of ${b.id.scope} ${b.id.scopeId} ${what}: ${fmt(b.usedValue)} of ${fmt(b.limitValue)} used (${percent}%)`,
    budget: { ...b.id },
    used: b.usedValue,
    limit: b.limitValue,
    percentUsed: percent,
    threshold,
    windowStart: new Date(b.windowStart).toISOString(),
    resetsAt: resets === null ? null : new Date(resets).toISOString(),
    at: new Date(now).toISOString(),
  };
}

/** One budget definition and its states (one, or one per scope value for `*`). */
class Budget {
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
 * The states the records of one user count against, as last resolved, and the rest of the subject
 * they were resolved for: a user's next record with the same key, provider, model, agent and run
 * (those some budget looks at) counts against the same states without resolving them again.
 */
interface Route {
  provider: string;
  model: string;
  apiKeyId: string | null;
  agent: string | null;
  runId: string | null;
  states: BudgetState[];
}

/** What makes two budgets the same one: a budget added with the key of another replaces it. */
/**
 * What a budget is, for replacing it: its scope, id, unit and window (a daily and a monthly budget
 * of one user are two budgets); a provider's subscription limit is one per limit type, whatever its
 * cycle (setting it again with another cycle replaces it).
 */
function specKey(s: BudgetSpec): string {
  const window = s.limitType !== undefined ? '' : windowName(s.scope === 'run' ? null : (s.cycle ?? DEFAULT_CYCLE));
  return `${s.scope}\u0000${s.scopeId ?? ''}\u0000${s.unit ?? 'usd'}\u0000${s.limitType ?? ''}\u0000${window}`;
}

/** Routes kept (one per user seen lately) before they are all dropped and resolved again. */
const MAX_ROUTES = 10_000;

/** Per-value states (`*` budgets) kept before quiet ones are let go. */
export const MAX_QUIET_STATES = 10_000;
/** How long a per-value state must have been idle before it may be let go and read again from the ledger. */
export const IDLE_MS = 15 * 60_000;

/**
 * Ledger usage of a budget's scope in its window so far, per UTC day number, in the budget's
 * units, for seeding a state after a restart (read from rollups, not rows). `now` is false when
 * the state is made while a record is being counted (`spend`, inside `record()`): the seeder must
 * then answer with a Promise and read nothing before it returns; otherwise (a budget added, an
 * enforcement check) it may answer at once when its store can.
 */
export type Seeder = (
  state: BudgetState,
  members: BudgetSpec['members'],
  now: boolean,
) => Iterable<[day: number, units: number]> | Promise<Iterable<[day: number, units: number]>>;

/**
 * The window's spending of each state as the shared ledger holds it (every process's records),
 * per UTC day number, in the state's units (see BudgetTracker#sync). It must fix what it reads
 * when it is called, synchronously (LedgerWriter.readBeside does): this process's records
 * counted before the call are in it, those counted after are not; it rejects when the ledger
 * cannot be read (a state it leaves out is not changed).
 */
export type FleetRead = (states: readonly BudgetState[]) => Promise<Map<BudgetState, Iterable<[day: number, units: number]>>>;

/** The alert level (0 none, 1 warning, 2 critical, 3 exceeded) of `used` units of a state. */
function levelOfUnits(state: BudgetState, used: number): number {
  return used >= state.limitUnits ? 3 : used >= state.critAt ? 2 : used >= state.warnAt ? 1 : 0;
}

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
  #looksAt = { provider: false, model: false, apiKeyId: false, agent: false, runId: false };
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

  constructor(seed: Seeder, clock?: () => number, options: { reseeds?: boolean; onAlerts?: (alerts: Alert[]) => void } = {}) {
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
    const i = this.#budgets.findIndex((x) => specKey(x.spec) === specKey(spec));
    if (i < 0) return false;
    if (this.#budgets[i]?.spec.enforce) this.#enforced--;
    this.#budgets.splice(i, 1);
    this.#changed();
    return true;
  }

  remove(scope: BudgetScope, scopeId: string): boolean {
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
  #route(s: Subject, runId: string | null): BudgetState[] {
    const r = this.#routes.get(s.userId);
    const l = this.#looksAt;
    if (
      r !== undefined &&
      (!l.provider || r.provider === s.provider) &&
      (!l.apiKeyId || r.apiKeyId === s.apiKeyId) &&
      (!l.runId || r.runId === runId) &&
      (!l.model || r.model === s.model) &&
      (!l.agent || r.agent === s.agent)
    ) {
      return r.states;
    }
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
        // The window moved on while the ledger was read: what it said is of the old one.
        if (state.windowStart !== windowStart) return;
        let before = 0;
        for (const [day, units] of rows) {
          state.add(units, day * DAY_MS);
          before += units;
        }
        // What the ledger alone reached was alerted when it was recorded (maybe by another
        // process); a crossing that the records counted meanwhile make with it is alerted now.
        const from = Math.max(state.fired, levelOfUnits(state, before));
        const level = levelOfUnits(state, state.used);
        state.fired = Math.max(from, level);
        if (level > from && this.#onAlerts !== undefined) {
          const at = this.#clock();
          const alerts: Alert[] = [];
          for (let l = from + 1; l <= level; l++) alerts.push(alertOf(state, l, at));
          this.#onAlerts(alerts);
        }
      },
      () => {
        this.#unseeded.delete(state);
      },
    );
    this.#seeding.add(done);
    void done.finally(() => this.#seeding.delete(done));
  }

  /**
   * Brings every state up to the fleet's spending: `read` gives each window's total in the shared
   * ledger as of the call (this process's records counted so far included); the difference from
   * what the state had counted by then (the other processes' spending since the last sync) is
   * added, so records counted while the ledger was read stay counted, once. Crossings this makes
   * are alerted (onAlerts). Off record()'s path: a timer calls it (src/budget-sync.ts).
   */
  async sync(read: FleetRead): Promise<void> {
    const states = this.states().filter((s) => s.cycle !== null && !this.#unseeded.has(s));
    if (states.length === 0) return;
    const before = states.map((s) => ({ used: s.used, windowStart: s.windowStart, days: s.days === null ? null : new Map(s.days) }));
    const rows = await read(states);
    const alerts: Alert[] = [];
    const at = this.#clock();
    states.forEach((state, i) => {
      const then = before[i] as (typeof before)[number];
      const got = rows.get(state);
      // Not read, or the window moved on meanwhile (what the ledger said is of the old one).
      if (got === undefined || state.windowStart !== then.windowStart) return;
      let total = 0;
      const ledgerDays = new Map<number, number>();
      for (const [day, units] of got) {
        total += units;
        ledgerDays.set(day, (ledgerDays.get(day) ?? 0) + units);
      }
      if (state.days !== null && then.days !== null) {
        for (const day of new Set([...ledgerDays.keys(), ...then.days.keys()])) {
          const delta = (ledgerDays.get(day) ?? 0) - (then.days.get(day) ?? 0);
          if (delta === 0) continue;
          const v = (state.days.get(day) ?? 0) + delta;
          if (v > 0) state.days.set(day, v);
          else state.days.delete(day);
        }
      }
      state.used = Math.max(0, state.used + total - then.used);
      const level = levelOfUnits(state, state.used);
      if (level <= state.fired) return;
      for (let l = state.fired + 1; l <= level; l++) alerts.push(alertOf(state, l, at));
      state.fired = level;
    });
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

  /** Counts one record; returns the alerts it raised (each level once per window). */
  spend(s: Spend, runId: string | null): Alert[] | undefined {
    let alerts: Alert[] | undefined;
    const states = this.#route(s, runId);
    const ts = s.timestamp;
    for (let i = 0; i < states.length; i++) {
      const state = states[i] as BudgetState;
      // A record past the window's end (runs have none): the clock says whether the window really
      // moved on (a record dated in the future must not reset this month's spending). Old records
      // never take a window back; they count only if they fall inside it.
      if (ts >= state.windowEnd) {
        state.roll(this.#clock());
        if (ts >= state.windowEnd) continue;
      }
      if (ts < state.windowStart) continue;
      const units = state.usd ? s.costPicoUsd : s.totalTokens;
      if (units === null || units === 0) continue;
      const used = state.add(units, ts);
      state.lastAt = ts;
      if (used < state.warnAt) continue;
      const level = state.used >= state.limitUnits ? 3 : state.used >= state.critAt ? 2 : 1;
      if (level > state.fired) {
        // A record that jumps past several thresholds raises each of them, lowest first: a
        // listener waiting for the warning (or routing on level) must not miss it.
        const at = this.#ownClock ? this.#clock() : ts;
        alerts ??= [];
        for (let l = state.fired + 1; l <= level; l++) alerts.push(alertOf(state, l, at));
        state.fired = level;
      }
    }
    return alerts;
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
