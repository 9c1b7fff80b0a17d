import type { BudgetScope, BudgetSpec } from './budgets/budget-spec.ts';
import type { BudgetState, Seeder } from './budgets/budget-state.ts';
import type { FleetRead } from './budgets/fleet-sync.ts';
import { DEFAULT_CYCLE, windowAt } from './budgets/limits.ts';
import type { BudgetTracker } from './budgets/tracker.ts';
import { BudgetTracker as Tracker } from './budgets/tracker.ts';
import { addTotals, emptyTotals, recordTotals } from './ledger/rollup.ts';
import type { AggregateRow, Dimension, LedgerFilter, LedgerStore } from './ledger/types.ts';
import { type BudgetStatus, statusOf } from './reports/budget-status.ts';
import { DAY_MS } from './time.ts';
import type { UsageRecord } from './usage.ts';

// Budgets seeded from the ledger: the one module that knows both. It sits above both sinks (beside
// compose.ts, which hands the seeder to the budget tracker as its port) so that neither budgets/
// nor ledger/ imports the other, and reports/ only reads a tracker's state (statusOf).
/** The record field each scope filters on. */
const FILTER: Partial<Record<BudgetScope, keyof LedgerFilter & Dimension>> = {
  provider: 'provider',
  user: 'userId',
  api_key: 'apiKeyId',
  agent: 'agent',
  model: 'model',
};

/** One read a budget's seeding makes: a filter, a grouping, and whether its rows are those of a team's keys (users outside the team only). */
interface SeedRead {
  filter: LedgerFilter;
  by: readonly Dimension[];
  teamUsers?: ReadonlySet<string>;
}

/** The reads that give a budget's usage in its window (a team counts each record once, whether its user, its key or both are members). */
function seedReads(state: BudgetState, members: BudgetSpec['members']): SeedRead[] {
  const base: LedgerFilter = { since: state.windowStart };
  const field = FILTER[state.id.scope];
  const reads: SeedRead[] = [];
  if (state.id.scope === 'global') reads.push({ filter: base, by: ['day'] });
  else if (state.id.scope === 'team') {
    const users = new Set(members?.userIds ?? []);
    for (const userId of users) reads.push({ filter: { ...base, userId }, by: ['day'] });
    for (const apiKeyId of members?.apiKeyIds ?? []) {
      // A member key's records by member users are already counted above.
      if (users.size === 0) reads.push({ filter: { ...base, apiKeyId }, by: ['day'] });
      else reads.push({ filter: { ...base, apiKeyId }, by: ['day', 'userId'], teamUsers: users });
    }
  } else if (field !== undefined) reads.push({ filter: { ...base, [field]: state.id.scopeId }, by: ['day'] });
  return reads;
}

/** Usage per day, in the budget's units, from each read's rows (and the records not in the ledger yet). */
function seedRows(state: BudgetState, reads: readonly SeedRead[], rowsOf: readonly AggregateRow[][]): [number, number][] {
  const usd = state.id.unit === 'usd';
  const out: [number, number][] = [];
  reads.forEach((read, i) => {
    for (const row of rowsOf[i] ?? []) {
      const u = usd ? Number(row.costPicoUsd) : row.totalTokens;
      if (u <= 0) continue;
      const user = row.key.userId;
      if (read.teamUsers !== undefined && user !== null && user !== undefined && read.teamUsers.has(user)) continue;
      out.push([Math.floor(Date.parse(`${row.key.day}T00:00:00Z`) / DAY_MS), u]);
    }
  });
  return out;
}

/**
 * Reads the ledger beside its writer: runs `read` with the records not yet written that were
 * recorded before the call (those recorded since count as they come), while no batch is written,
 * so that each record is counted once, from the ledger or from that list. LedgerWriter.readBeside.
 */
export type ReadBeside = <T>(read: (unwritten: readonly UsageRecord[]) => Promise<T>) => Promise<T>;

/**
 * Seeds budgets from the ledger: the window's usage of the budget's scope, per day, read from the
 * rollups. Asked to answer at once (a budget added, an enforcement check), a store that answers
 * synchronously (SQLite's `aggregateSync`) seeds before the budget is used. Inside `record()`
 * (`now` false), or from a store that cannot (PostgreSQL), it seeds asynchronously through
 * `readBeside`, when given: the budget counts its records from the start, and the ledger's part is
 * added when the read returns (nothing is read before this returns).
 */
export function ledgerSeeder(
  store: () => LedgerStore | undefined,
  unwritten: () => readonly UsageRecord[] = () => [],
  readBeside?: ReadBeside,
): Seeder {
  return (state: BudgetState, members: BudgetSpec['members'], now = true) => {
    const reads = seedReads(state, members);
    if (!now && readBeside !== undefined)
      return readBeside(async (queued) => seedRows(state, reads, await readAll(store(), reads, queued)));
    const s = store();
    if (s !== undefined && s.aggregateSync === undefined && readBeside !== undefined) {
      return readBeside(async (queued) => seedRows(state, reads, await readAll(s, reads, queued)));
    }
    // The records still on their way to the ledger first: waiting for them is how the writer
    // tells which ones the ledger holds (each is counted once, from one or the other).
    const queued = unwritten();
    if (s?.aggregateSync === undefined && queued.length === 0) return [];
    const rows = reads.map((r) =>
      (s?.aggregateSync === undefined ? [] : s.aggregateSync(r.filter, r.by)).concat(
        queued.length === 0 ? [] : aggregateRecords(queued, r.filter, r.by),
      ),
    );
    return seedRows(state, reads, rows);
  };
}

/**
 * Reads the window's spending of budgets from the shared ledger for BudgetTracker#sync, beside the
 * writer (`readBeside` fixes at its call which of this process's records count: those in the
 * ledger or in its queue then). A fixed budget makes its seeding reads; a per-value one (`*`) one
 * read grouped by its field for all its states. Rejects when the store cannot be opened or read
 * (a total of zero would wipe the budgets).
 */
export function ledgerSpend(store: () => LedgerStore, readBeside: ReadBeside): FleetRead {
  return (states) =>
    readBeside(async (queued) => {
      const s = store();
      const out = new Map<BudgetState, [number, number][]>();
      const perValue = new Map<BudgetSpec, BudgetState[]>();
      for (const state of states) {
        const field = FILTER[state.id.scope];
        if (state.spec.scopeId === '*' && field !== undefined) {
          const group = perValue.get(state.spec);
          if (group === undefined) perValue.set(state.spec, [state]);
          else group.push(state);
          continue;
        }
        const reads = seedReads(state, state.spec.members);
        out.set(state, seedRows(state, reads, await readAll(s, reads, queued)));
      }
      for (const group of perValue.values()) {
        const first = group[0] as BudgetState;
        const field = FILTER[first.id.scope] as keyof LedgerFilter & Dimension;
        const since = Math.min(...group.map((g) => g.windowStart));
        const by: Dimension[] = ['day', field];
        const rows = (await s.aggregate({ since }, by)).concat(aggregateRecords(queued, { since }, by));
        const byValue = new Map<string, AggregateRow[]>();
        for (const row of rows) {
          const v = row.key[field];
          if (typeof v !== 'string') continue;
          const list = byValue.get(v);
          if (list === undefined) byValue.set(v, [row]);
          else list.push(row);
        }
        // A state whose window began later than the group's (rare) is left for the next sync.
        for (const state of group) {
          if (state.windowStart === since)
            out.set(state, seedRows(state, [{ filter: { since }, by }], [byValue.get(state.id.scopeId) ?? []]));
        }
      }
      return out;
    });
}

/** Each read's rows: the store's (none when it cannot be opened), and those of the records not in it yet. */
async function readAll(s: LedgerStore | undefined, reads: readonly SeedRead[], queued: readonly UsageRecord[]): Promise<AggregateRow[][]> {
  return Promise.all(
    reads.map(async (r) => (s === undefined ? [] : await s.aggregate(r.filter, r.by)).concat(aggregateRecords(queued, r.filter, r.by))),
  );
}

const FILTER_FIELDS = ['provider', 'model', 'serviceType', 'operation', 'agent', 'userId', 'threadId', 'apiKeyId'] as const;

/** What a store's `aggregate` would answer over records held in memory (by day and by record fields). */
export function aggregateRecords(records: readonly UsageRecord[], f: LedgerFilter, by: readonly Dimension[]): AggregateRow[] {
  const out = new Map<string, AggregateRow>();
  for (const r of records) {
    if ((f.since !== undefined && r.timestamp < f.since) || (f.until !== undefined && r.timestamp >= f.until)) continue;
    if (FILTER_FIELDS.some((k) => f[k] !== undefined && r[k] !== f[k])) continue;
    if (f.runId !== undefined && r.metadata?.run_id !== f.runId) continue;
    if (f.withUser === true && (r.userId === null || r.userId === undefined)) continue;
    const key: AggregateRow['key'] = {};
    for (const d of by) {
      if (d === 'day') key.day = new Date(r.timestamp).toISOString().slice(0, 10);
      else if (d === 'hour') key.hour = new Date(r.timestamp).toISOString().slice(0, 13);
      else key[d] = r[d] ?? null;
    }
    const k = JSON.stringify(by.map((d) => key[d] ?? null));
    let row = out.get(k);
    if (row === undefined) {
      row = { key, ...emptyTotals() };
      out.set(k, row);
    }
    addTotals(row, recordTotals(r));
  }
  return [...out.values()];
}

/**
 * The status of budgets as the ledger alone tells it (the CLI, another process): a tracker seeded
 * from the ledger at `now`. A per-value budget (`*`) shows each value with usage in its window.
 */
export async function budgetStatusFromLedger(store: LedgerStore, specs: readonly BudgetSpec[], now = Date.now()): Promise<BudgetStatus[]> {
  const tracker: BudgetTracker = new Tracker(
    ledgerSeeder(
      () => store,
      () => [],
      (read) => read([]),
    ),
    () => now,
  );
  const states: BudgetState[] = [];
  for (const spec of specs) {
    if (spec.scopeId !== '*') {
      const state = tracker.add(spec);
      if (state !== undefined) states.push(state);
      continue;
    }
    const field = FILTER[spec.scope];
    if (field === undefined) continue;
    const start = spec.scope === 'run' ? 0 : windowAt(spec.cycle ?? DEFAULT_CYCLE, now).start;
    for (const row of await store.aggregate({ since: start }, [field])) {
      const id = row.key[field];
      if (id === null || id === undefined) continue;
      const state = tracker.add({ ...spec, scopeId: id });
      if (state !== undefined) states.push(state);
    }
  }
  await tracker.seeded();
  return states.map(statusOf);
}
