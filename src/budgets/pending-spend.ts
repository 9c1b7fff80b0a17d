import type { Alert, Spend } from './budget-spec.ts';
import { type BudgetState, levelOfUnits, raiseTo } from './budget-state.ts';
import { fits, type LooksAt, type Route } from './route.ts';

/**
 * Records of one subject (a user, and the route the budgets resolved for it) counted but not yet
 * added to the states they count against: their sums, added at once.
 */
interface Waiting extends Route {
  userId: string | null;
  pico: number;
  tokens: number;
  /** The timestamp of the last record here (each state's lastAt once added). */
  lastAt: number;
  records: number;
}

/** Subjects that wait at most, before all are added. */
const MAX_WAITING = 8;
/** Fewer records than this a subject, when what waits is added, and waiting was not worth it... */
const MIN_RECORDS = 4;
/** ...and records are counted at once for this many records. */
const PAUSE = 4096;

/**
 * What keeps budget counting off most records' path: a record whose subject is waiting, that falls
 * inside the windows and cannot raise an alert, is only added to its subject's sums; the states get
 * the sums when anything reads them (`settle`). "Cannot raise an alert" is kept as a room in each
 * unit: a lower bound of how far every state a waiting record counts against is from its next
 * threshold. Each record takes its units from the room, so however the waiting records are shared
 * among the states, none reaches a threshold while they wait; a record that would is counted at
 * once, with every waiting one before it, and raises its alerts as it always did.
 */
export class PendingSpend {
  readonly #waiting: Waiting[] = [];
  /**
   * The same subjects by a cheap hash of their user id (slotOf), so that a record is compared with
   * its own user's few: comparing two user ids that differ compares their characters, one by one.
   */
  readonly #slots: Waiting[][] = [[], [], [], [], [], [], [], []];
  #roomPico = Number.POSITIVE_INFINITY;
  #roomTokens = Number.POSITIVE_INFINITY;
  /** Every waiting state's window holds [from, to): a record outside it is counted at once. */
  #from = Number.NEGATIVE_INFINITY;
  #to = Number.POSITIVE_INFINITY;
  /** Records left to count at once before subjects may wait again (see PAUSE). */
  #paused = 0;
  readonly #enabled: boolean;

  /** `enabled` false: no record ever waits. */
  constructor(enabled = true) {
    this.#enabled = enabled;
  }

  /** True when nothing waits. */
  get empty(): boolean {
    return this.#waiting.length === 0;
  }

  /** Adds `s` to its subject's sums when it waits and `s` may; false when `s` must be counted otherwise. */
  take(s: Spend, runId: string | null, l: LooksAt): boolean {
    const waiting = this.#waiting;
    if (waiting.length === 0) return false;
    // Units are never negative (records are validated): taking them only shrinks the room.
    const pico = s.costPicoUsd ?? 0;
    const tokens = s.totalTokens ?? 0;
    const ts = s.timestamp;
    if (!(pico < this.#roomPico && tokens < this.#roomTokens && ts >= this.#from && ts < this.#to)) return false;
    const chain = this.#slots[slotOf(s.userId)] as Waiting[];
    for (let i = 0; i < chain.length; i++) {
      const w = chain[i] as Waiting;
      if (w.userId === s.userId && fits(w, s, runId, l)) {
        this.#roomPico -= pico;
        this.#roomTokens -= tokens;
        w.pico += pico;
        w.tokens += tokens;
        w.lastAt = ts;
        w.records++;
        return true;
      }
    }
    return false;
  }

  /**
   * Lets `s`'s subject wait, `s` first, when `s` may (see the class): `states` are those it counts
   * against (a subject with a rolling window never waits). False when `s` must be counted at once,
   * after what waits. May have the tracker add every waiting subject first (`settle`), to make room.
   */
  open(s: Spend, runId: string | null, states: readonly BudgetState[], settle: () => void): boolean {
    // Small, so that the tracker inlines it: while waiting is paused, records pass here.
    if (this.#paused > 0) {
      this.#paused--;
      return false;
    }
    return this.#enabled && this.#open(s, runId, states, settle);
  }

  #open(s: Spend, runId: string | null, states: readonly BudgetState[], settle: () => void): boolean {
    const pico = s.costPicoUsd ?? 0;
    const tokens = s.totalTokens ?? 0;
    const ts = s.timestamp;
    // Inside the windows of what waits already, so that their common window keeps holding every waiting record.
    if (ts < this.#from || ts >= this.#to) return false;
    let from = this.#from;
    let to = this.#to;
    let roomPico = this.#roomPico - pico;
    let roomTokens = this.#roomTokens - tokens;
    for (const state of states) {
      // A rolling window counts by day; a level reached but not yet alerted is alerted by the next record.
      if (state.days !== null || ts < state.windowStart || ts >= state.windowEnd) return false;
      if (levelOfUnits(state, state.used) > state.fired) return false;
      from = Math.max(from, state.windowStart);
      to = Math.min(to, state.windowEnd);
      const left = toNextThreshold(state) - (state.usd ? pico : tokens);
      if (state.usd) roomPico = Math.min(roomPico, left);
      else roomTokens = Math.min(roomTokens, left);
    }
    if (!(roomPico > 0 && roomTokens > 0)) return false;
    if (this.#waiting.length >= MAX_WAITING) {
      settle();
      return this.#paused === 0 && this.#open(s, runId, states, settle);
    }
    this.#roomPico = roomPico;
    this.#roomTokens = roomTokens;
    this.#from = from;
    this.#to = to;
    const w: Waiting = {
      userId: s.userId,
      provider: s.provider,
      model: s.model,
      apiKeyId: s.apiKeyId,
      agent: s.agent,
      runId,
      states,
      pico,
      tokens,
      lastAt: ts,
      records: 1,
    };
    this.#waiting.push(w);
    (this.#slots[slotOf(s.userId)] as Waiting[]).push(w);
    return true;
  }

  /**
   * Adds what waits to the states and empties the list. The room kept every threshold out of
   * reach, so this raises no alert; were one reached all the same, it is returned (dated `now`)
   * rather than lost.
   */
  settle(now: number): Alert[] {
    const waiting = this.#waiting;
    let alerts: Alert[] | undefined;
    let records = 0;
    for (const w of waiting) {
      records += w.records;
      for (const state of w.states) {
        const units = state.usd ? w.pico : w.tokens;
        if (units === 0) continue;
        state.add(units, w.lastAt);
        if (w.lastAt > state.lastAt) state.lastAt = w.lastAt;
        const level = levelOfUnits(state, state.used);
        if (level <= state.fired) continue;
        alerts ??= [];
        raiseTo(state, level, now, alerts);
      }
    }
    // Subjects that come and go faster than they repeat, or reads as frequent as records (an
    // enforcement check before each call): waiting costs more than it saves, for a while.
    if (records < MIN_RECORDS * waiting.length) this.#paused = PAUSE;
    waiting.length = 0;
    for (const chain of this.#slots) chain.length = 0;
    this.#roomPico = Number.POSITIVE_INFINITY;
    this.#roomTokens = Number.POSITIVE_INFINITY;
    this.#from = Number.NEGATIVE_INFINITY;
    this.#to = Number.POSITIVE_INFINITY;
    return alerts ?? [];
  }
}

/** How many units `state` can still count before it reaches a threshold (any of the three) above what it has used. */
function toNextThreshold(state: BudgetState): number {
  const used = state.used;
  let next = Number.POSITIVE_INFINITY;
  if (state.warnAt > used) next = state.warnAt;
  if (state.critAt > used && state.critAt < next) next = state.critAt;
  if (state.limitUnits > used && state.limitUnits < next) next = state.limitUnits;
  return next - used;
}

/** A slot for a user id from its length and last character: no hashing of the whole string. */
function slotOf(userId: string | null): number {
  return userId === null || userId.length === 0 ? 0 : (userId.length * 31 + userId.charCodeAt(userId.length - 1)) & 7;
}
