import type { Alert } from './budget-spec.ts';
import { type BudgetState, levelOfUnits, raiseTo } from './budget-state.ts';

/**
 * The window's spending of each state as the shared ledger holds it (every process's records),
 * per UTC day number, in the state's units (see BudgetTracker#sync). It must fix what it reads
 * when it is called, synchronously (LedgerWriter.readBeside does): this process's records
 * counted before the call are in it, those counted after are not; it rejects when the ledger
 * cannot be read (a state it leaves out is not changed).
 */
export type FleetRead = (states: readonly BudgetState[]) => Promise<Map<BudgetState, Iterable<[day: number, units: number]>>>;

/**
 * Brings `states` up to the fleet's spending: `read` gives each window's total in the shared
 * ledger as of the call (this process's records counted so far included); the difference from
 * what the state had counted by then (the other processes' spending since the last sync) is
 * added, so records counted while the ledger was read stay counted, once. Returns the crossings
 * this makes, each level once per window. `settle` adds what this process counted meanwhile but
 * has not yet added to the states (it must be, before they change).
 */
export async function catchUp(states: readonly BudgetState[], read: FleetRead, clock: () => number, settle?: () => void): Promise<Alert[]> {
  const before = states.map((s) => ({ used: s.used, windowStart: s.windowStart, days: s.days === null ? null : new Map(s.days) }));
  const rows = await read(states);
  // Records counted while the ledger was read, waiting to be added (see PendingSpend), are added
  // first: the difference below then leaves them counted once.
  settle?.();
  const alerts: Alert[] = [];
  const at = clock();
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
    raiseTo(state, level, at, alerts);
  });
  return alerts;
}
