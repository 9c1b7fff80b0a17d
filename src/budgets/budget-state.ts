import { DAY_MS } from '../time.ts';
import type { Alert, BudgetIdentity, BudgetSpec, Spend } from './budget-spec.ts';
import { type BillingCycle, DEFAULT_CYCLE, DEFAULT_THRESHOLDS, type Thresholds, windowAt } from './limits.ts';

const LEVELS = ['ok', 'warning', 'critical', 'exceeded'] as const;
const PICO = 1e12;

/** A window's name in a budget's identity: monthly, daily, rolling_<N>d or run. */
export function windowName(cycle: BillingCycle | null): string {
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

/** The alert of `level` (1 warning, 2 critical, 3 exceeded) for a state as it stands at `now`. */
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

/**
 * Adds to `out` the alert of each level above the highest `state` has alerted, up to `level`
 * (1 warning, 2 critical, 3 exceeded), lowest first and dated `at`, and makes `level` the highest.
 */
export function raiseTo(state: BudgetState, level: number, at: number, out: Alert[]): void {
  for (let l = state.fired + 1; l <= level; l++) out.push(alertOf(state, l, at));
  if (level > state.fired) state.fired = level;
}

/** The alert level (0 none, 1 warning, 2 critical, 3 exceeded) of `used` units of a state. */
export function levelOfUnits(state: BudgetState, used: number): number {
  return used >= state.limitUnits ? 3 : used >= state.critAt ? 2 : used >= state.warnAt ? 1 : 0;
}

/**
 * Counts a record against `states` at once; returns the alerts it raised (each level once per
 * window, lowest first). `clock` decides whether a window really moved on; alerts are dated by it
 * when `ownClock` (a clock of the caller's), else by the record's timestamp.
 */
export function countNow(states: readonly BudgetState[], s: Spend, clock: () => number, ownClock: boolean): Alert[] | undefined {
  let alerts: Alert[] | undefined;
  const ts = s.timestamp;
  for (let i = 0; i < states.length; i++) {
    const state = states[i] as BudgetState;
    // A record past the window's end (runs have none): the clock says whether the window really
    // moved on (a record dated in the future must not reset this month's spending). Old records
    // never take a window back; they count only if they fall inside it.
    if (ts >= state.windowEnd) {
      state.roll(clock());
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
      alerts ??= [];
      raiseTo(state, level, ownClock ? clock() : ts, alerts);
    }
  }
  return alerts;
}

/**
 * Adds what the ledger held before `state` was made (`rows`, per UTC day number), read after
 * records counted meanwhile. What the ledger alone reached was alerted when it was recorded (maybe
 * by another process); a crossing that those records make with it is returned, dated `clock()`.
 */
export function addLateSeed(state: BudgetState, rows: Iterable<[day: number, units: number]>, clock: () => number): Alert[] {
  let before = 0;
  for (const [day, units] of rows) {
    state.add(units, day * DAY_MS);
    before += units;
  }
  state.fired = Math.max(state.fired, levelOfUnits(state, before));
  const level = levelOfUnits(state, state.used);
  const alerts: Alert[] = [];
  if (level > state.fired) raiseTo(state, level, clock(), alerts);
  return alerts;
}

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
