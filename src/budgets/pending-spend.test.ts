import { describe, expect, it } from 'vitest';
import type { Alert, BudgetSpec, Spend } from './budget-spec.ts';
import type { BudgetState } from './budget-state.ts';
import { BudgetTracker } from './tracker.ts';

// Records that cannot raise an alert wait to be added to their states (PendingSpend): these check
// that what the tracker says, and when, is what it said when every record was added at once.

const USD = 1e12;
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 10, 12);

function record(over: Partial<Spend> = {}): Spend {
  return {
    timestamp: T0,
    provider: 'openai',
    model: 'gpt-4o',
    userId: 'u1',
    apiKeyId: 'k1',
    agent: 'a',
    costPicoUsd: USD,
    totalTokens: 100,
    ...over,
  };
}

const used = (t: BudgetTracker) => Object.fromEntries(t.states().map((s) => [`${s.id.scope}:${s.id.scopeId}:${s.id.unit}`, s.used]));
const levels = (alerts: readonly Alert[] | undefined) => (alerts ?? []).map((a) => `${a.budget.scope}:${a.budget.scopeId}:${a.level}`);

/** A tracker with no ledger behind it, at T0. */
const tracker = () =>
  new BudgetTracker(
    () => [],
    () => T0,
  );

/** What a fleet read says each state's window holds: `usd` in all, today. */
const ledgerHolds = (states: readonly BudgetState[], usd: number) =>
  new Map(states.map((s) => [s, [[Math.floor(T0 / DAY), usd * USD]] as [number, number][]]));

/** A global $100 budget with five $1 records waiting, synced with a read during which `meanwhile` runs and that says the ledger holds `usd`. */
async function syncedAfterFive(meanwhile: (t: BudgetTracker) => void, usd: number): Promise<BudgetTracker> {
  const t = tracker();
  t.add({ scope: 'global', limit: 100 });
  for (let i = 0; i < 5; i++) t.spend(record(), null);
  await t.sync(async (states) => {
    meanwhile(t);
    return ledgerHolds(states, usd);
  });
  return t;
}

/** A small linear congruential generator: the same "random" records on every run. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
    return x / 2_147_483_648;
  };
}

describe('records waiting to be added to their budgets', () => {
  it('raise each alert on the record that reaches the threshold, with records of other subjects waiting on the same budget', () => {
    const t = tracker();
    t.add({ scope: 'provider', scopeId: 'openai', limit: 10 });
    t.add({ scope: 'user', scopeId: '*', limit: 100 });
    const got: string[][] = [];
    // Three users take turns, $1 a call: the provider's warning ($8) falls on the eighth call, its
    // critical ($9.50) on the tenth, exceeded on the tenth too ($10).
    for (let i = 0; i < 12; i++) got.push(levels(t.spend(record({ userId: `u${i % 3}` }), null)));
    expect(got.map((g, i) => (g.length === 0 ? '' : `${i + 1}:${g.join(',')}`)).filter((g) => g !== '')).toEqual([
      '8:provider:openai:warning',
      '10:provider:openai:critical,provider:openai:exceeded',
    ]);
    expect(used(t)).toEqual({ 'provider:openai:usd': 12 * USD, 'user:u0:usd': 4 * USD, 'user:u1:usd': 4 * USD, 'user:u2:usd': 4 * USD });
  });

  it('count in the window they were made in when the next record opens a new month', () => {
    let now = Date.UTC(2026, 0, 31, 23, 0);
    const t = new BudgetTracker(
      () => [],
      () => now,
    );
    t.add({ scope: 'global', limit: 100 });
    t.add({ scope: 'global', limit: 1_000_000, unit: 'tokens' });
    for (let i = 0; i < 5; i++) t.spend(record({ timestamp: now + i }), null);
    now = Date.UTC(2026, 1, 1, 0, 5);
    t.spend(record({ timestamp: now, costPicoUsd: 2 * USD, totalTokens: 7 }), null);
    // January's five records stayed in January: February holds only its own.
    expect(used(t)).toEqual({ 'global:all:usd': 2 * USD, 'global:all:tokens': 7 });
  });

  it('are seen by an enforcement check', () => {
    const t = tracker();
    t.add({ scope: 'user', scopeId: 'u1', limit: 10, enforce: true });
    for (let i = 0; i < 7; i++) t.spend(record(), null);
    const estimate = { provider: 'openai', model: 'gpt-4o', userId: 'u1', apiKeyId: 'k1', agent: 'a', runId: null, tokens: 10 };
    expect('held' in t.check({ ...estimate, costPico: 3 * USD })).toBe(true);
    expect('blocked' in t.check({ ...estimate, costPico: USD / 2 })).toBe(true);
  });

  it('are counted once by a fleet sync, those made while the ledger is read included', async () => {
    // Made while the ledger is read, so not in what it says: this process's $5 and another's $10.
    const t = await syncedAfterFive((t) => t.spend(record({ costPicoUsd: 2 * USD }), null), 15);
    expect(used(t)).toEqual({ 'global:all:usd': 17 * USD });
  });

  it("leave room for the fleet's spending: after a sync, the record that reaches a threshold raises it", async () => {
    // Another process spent $70: $76 of $100 in all, $4 below the warning.
    const t = await syncedAfterFive((t) => t.spend(record(), null), 75);
    expect(levels(t.spend(record({ costPicoUsd: 3 * USD }), null))).toEqual([]);
    expect(levels(t.spend(record({ costPicoUsd: 2 * USD }), null))).toEqual(['global:all:warning']);
  });

  it("are added before a user's usage read late from the ledger, and a threshold the two reach together is alerted", async () => {
    let arrive: (rows: [number, number][]) => void = () => {};
    const raised: string[] = [];
    const t = new BudgetTracker(
      (_s, _m, now) => (now ? [] : new Promise((resolve) => (arrive = resolve))),
      () => T0,
      {
        onAlerts: (a) => raised.push(...levels(a)),
      },
    );
    t.add({ scope: 'user', scopeId: '*', limit: 10 });
    for (let i = 0; i < 4; i++) expect(t.spend(record(), null)).toBeUndefined();
    arrive([[Math.floor(T0 / DAY), 5 * USD]]);
    await t.seeded();
    expect(raised).toEqual(['user:u1:warning']);
    expect(used(t)).toEqual({ 'user:u1:usd': 9 * USD });
  });

  it('let go of no per-user state that only waiting records have used', () => {
    const t = tracker();
    t.add({ scope: 'user', scopeId: '*', limit: 1_000, enforce: true });
    // 9,999 users seen by enforcement checks (a state each, nothing used)...
    const estimate = { provider: 'openai', model: 'gpt-4o', apiKeyId: 'k1', agent: 'a', runId: null, costPico: 1, tokens: 1 };
    for (let i = 0; i < 9_999; i++) {
      const r = t.check({ ...estimate, userId: `seen-${i}` });
      if ('held' in r) t.settle(r.held);
    }
    // ...then one whose record waits, and one more user: the tracker looks for quiet states to let go.
    t.spend(record({ userId: 'kept' }), null);
    t.spend(record({ userId: 'new', costPicoUsd: 0, totalTokens: 0 }), null);
    expect(used(t)['user:kept:usd']).toBe(USD);
  });

  it('alert, on the next record, a level that a new limit put the usage past', () => {
    const ledger = 50 * USD;
    const t = new BudgetTracker(
      () => [[Math.floor(T0 / DAY), ledger]],
      () => T0,
    );
    t.add({ scope: 'global', limit: 100 });
    for (let i = 0; i < 5; i++) expect(t.spend(record(), null)).toBeUndefined();
    // The limit lowered in the window: the ledger's $50 of $60 is past the warning, which the next record raises.
    t.add({ scope: 'global', limit: 60 });
    expect(levels(t.spend(record(), null))).toEqual(['global:all:warning']);
  });

  it('leave every alert and every total as counting each record at once does, over many random records', () => {
    const specs: BudgetSpec[] = [
      { scope: 'provider', scopeId: 'openai', limit: 40 },
      { scope: 'user', scopeId: '*', limit: 9, thresholds: { warning: 0.5, critical: 0.7 } },
      { scope: 'api_key', scopeId: '*', limit: 25 },
      { scope: 'team', scopeId: 'red', members: { userIds: ['u1', 'u2'] }, limit: 15 },
      { scope: 'agent', scopeId: 'planner', limit: 400_000, unit: 'tokens' },
      { scope: 'global', limit: 1_000_000, unit: 'tokens', cycle: { kind: 'daily' } },
      { scope: 'run', scopeId: 'r1', limit: 12 },
      // A rolling window counts by day: its records never wait.
      { scope: 'agent', scopeId: 'writer', limit: 20, cycle: { kind: 'rolling', days: 1 } },
    ];
    let now = T0;
    const waiting = new BudgetTracker(
      () => [],
      () => now,
    );
    const atOnce = new BudgetTracker(
      () => [],
      () => now,
      { waits: false },
    );
    for (const s of specs) {
      waiting.add(s);
      atOnce.add(s);
    }
    const next = random(7);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)] as T;
    // Most records come from three subjects (so that theirs wait long), the rest from every mix.
    const hot = [
      { provider: 'openai', userId: 'u1', apiKeyId: 'k1', agent: 'planner', run: 'r1' },
      { provider: 'openai', userId: 'u2', apiKeyId: 'k1', agent: 'planner', run: 'r1' },
      { provider: 'anthropic', userId: 'u3', apiKeyId: 'k2', agent: null, run: null },
    ];
    for (let i = 0; i < 4_000; i++) {
      now += Math.floor(next() * 90_000);
      const { run, ...subject } =
        next() < 0.8
          ? pick(hot)
          : {
              provider: pick(['openai', 'openai', 'anthropic']),
              userId: pick(['u1', 'u2', 'u3', 'u4', null]),
              apiKeyId: pick(['k1', 'k2', null]),
              agent: pick(['planner', 'writer', null]),
              run: pick(['r1', null]),
            };
      const r = record({
        timestamp: now,
        ...subject,
        costPicoUsd: pick([null, 0, Math.floor(next() * 0.2 * USD)]),
        totalTokens: pick([null, Math.floor(next() * 900)]),
      });
      const a = waiting.spend(r, run);
      const b = atOnce.spend(r, run);
      expect(levels(a), `record ${i}`).toEqual(levels(b));
      // Now and then a read of the one that waits, as a scrape or a check would.
      if (i % 250 === 0) expect(used(waiting)).toEqual(used(atOnce));
    }
    expect(used(waiting)).toEqual(used(atOnce));
    const lastAt = (t: BudgetTracker) => t.states().map((s: BudgetState) => s.lastAt);
    expect(lastAt(waiting)).toEqual(lastAt(atOnce));
  });
});
