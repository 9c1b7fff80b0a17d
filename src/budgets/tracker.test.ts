import { describe, expect, it } from 'vitest';
import { MAX_QUIET_STATES } from './budget.ts';
import type { CallEstimate, Spend } from './budget-spec.ts';
import type { BudgetState } from './budget-state.ts';
import { BudgetTracker, IDLE_MS } from './tracker.ts';

const USD = 1e12;
const T0 = Date.UTC(2026, 10, 10, 12);

function clock(start = T0) {
  let now = start;
  return { now: () => now, set: (t: number) => (now = t), advance: (ms: number) => (now += ms) };
}

/** A record of `costPico` picodollars and `tokens` tokens (its run, if any, is passed to spend() apart). */
function spend(
  over: Partial<Omit<Spend, 'costPicoUsd' | 'totalTokens'> & { costPico: number | null; tokens: number }> = {},
  c = clock(),
): Spend {
  const { costPico = USD, tokens = 100, ...rest } = over;
  return {
    timestamp: c.now(),
    provider: 'openai',
    model: 'gpt-4o',
    userId: 'u1',
    apiKeyId: 'k1',
    agent: 'a',
    ...rest,
    costPicoUsd: costPico,
    totalTokens: tokens,
  };
}

function call(over: Partial<CallEstimate> = {}): CallEstimate {
  return {
    provider: 'openai',
    model: 'gpt-4o',
    userId: 'u1',
    apiKeyId: 'k1',
    agent: 'a',
    runId: null,
    costPico: USD / 100,
    tokens: 10,
    ...over,
  };
}

describe('BudgetTracker', () => {
  it('raises warning, critical and exceeded once each per window, at the configured thresholds', () => {
    const c = clock();
    const t = new BudgetTracker(() => [], c.now);
    t.add({ scope: 'provider', scopeId: 'openai', limit: 10, thresholds: { warning: 0.9 } });
    const levels: string[][] = [];
    for (let i = 0; i < 12; i++)
      levels.push((t.spend(spend({ timestamp: c.now() }, c), null) ?? []).map((a) => `${a.level}@${a.percentUsed}`));
    // $1 a call against $10: 90% warns (not 80%); $10 passes 95% and 100% at once, and raises both.
    expect(levels.flat()).toEqual(['warning@90', 'critical@100', 'exceeded@100']);
    // Other providers' spending does not count.
    expect(t.spend(spend({ provider: 'anthropic' }, c), null)).toBeUndefined();
  });

  it('raises every threshold a record jumps past, lowest first, each once per window', () => {
    const c = clock();
    const t = new BudgetTracker(() => [], c.now);
    t.add({ scope: 'global', limit: 100 });
    // The demo's budget: 69%, then one call takes it to 102%.
    expect(t.spend(spend({ costPico: 69 * USD }, c), null)).toBeUndefined();
    const jump = t.spend(spend({ costPico: 33 * USD }, c), null) ?? [];
    expect(jump.map((a) => [a.level, a.threshold, a.percentUsed])).toEqual([
      ['warning', 0.8, 102],
      ['critical', 0.95, 102],
      ['exceeded', 1, 102],
    ]);
    expect(jump[0]?.message).toMatch(/past its warning threshold \(80%\): \$102\.0000 of \$100\.0000 used \(102%\)/);
    // Once per window: more spending raises nothing again.
    expect(t.spend(spend({ costPico: USD }, c), null)).toBeUndefined();
    // From warning straight past exceeded: critical and exceeded, not the warning again.
    t.add({ scope: 'provider', scopeId: 'openai', limit: 10 });
    expect(t.spend(spend({ costPico: 8.5 * USD }, c), null)?.map((a) => `${a.budget.scope}:${a.level}`)).toEqual(['provider:warning']);
    expect(t.spend(spend({ costPico: 2 * USD }, c), null)?.map((a) => `${a.budget.scope}:${a.level}`)).toEqual([
      'provider:critical',
      'provider:exceeded',
    ]);
  });

  it('starts again from zero when a monthly window resets, and alerts again', () => {
    const c = clock(Date.UTC(2026, 10, 30, 23));
    const t = new BudgetTracker(() => [], c.now);
    t.add({ scope: 'global', limit: 1, enforce: true, cycle: { kind: 'monthly', resetDay: 1 } });
    expect(t.spend(spend({ timestamp: c.now(), costPico: 2 * USD }, c), null)?.map((a) => a.level)).toEqual([
      'warning',
      'critical',
      'exceeded',
    ]);
    expect('blocked' in t.check(call())).toBe(true);
    c.set(Date.UTC(2026, 11, 1, 0, 0, 1));
    // No false block after the reset: the new window is empty.
    const r = t.check(call());
    expect('held' in r).toBe(true);
    if ('held' in r) t.settle(r.held);
    const [state] = t.states();
    expect(state?.usedValue).toBe(0);
    expect(state?.windowStart).toBe(Date.UTC(2026, 11, 1));
    expect(t.spend(spend({ timestamp: c.now(), costPico: 2 * USD }, c), null)?.map((a) => a.level)).toEqual([
      'warning',
      'critical',
      'exceeded',
    ]);
  });

  it('lets neither a record dated in the future nor a backfilled one move the window', () => {
    const t = new BudgetTracker(() => []);
    t.add({ scope: 'global', limit: 10 });
    const now = Date.now();
    t.spend(spend({ timestamp: now, costPico: 3 * USD }), null);
    // Next month's date (a wrong clock upstream) is not this window's, and does not reset it.
    t.spend(spend({ timestamp: now + 40 * 86_400_000, costPico: 5 * USD }), null);
    // Last year's (a backfill) is not this window's either.
    t.spend(spend({ timestamp: now - 400 * 86_400_000, costPico: 5 * USD }), null);
    t.spend(spend({ timestamp: now, costPico: 1 * USD }), null);
    expect(t.states()[0]?.usedValue).toBe(4);
  });

  it('gives each user of a per-user budget, new ones included, a budget of their own', () => {
    const c = clock();
    const t = new BudgetTracker(() => [], c.now);
    t.add({ scope: 'user', scopeId: '*', limit: 2, enforce: true });
    t.spend(spend({ userId: 'old', costPico: 2 * USD }, c), null);
    expect('blocked' in t.check(call({ userId: 'old' }))).toBe(true);
    // A user never seen before is not a way around the budget.
    t.spend(spend({ userId: 'brand-new', costPico: 2 * USD }, c), null);
    expect('blocked' in t.check(call({ userId: 'brand-new' }))).toBe(true);
    expect('held' in t.check(call({ userId: 'third' }))).toBe(true);
    // A call with no user is not a per-user call.
    expect(t.check(call({ userId: null }))).toEqual({ held: [] });
  });

  it('keeps a daily and a monthly budget of one scope apart, and replaces a budget set again for the same window', () => {
    const c = clock();
    const t = new BudgetTracker(() => [], c.now);
    t.add({ scope: 'global', limit: 5, cycle: { kind: 'daily' } });
    t.add({ scope: 'global', limit: 100 });
    t.spend(spend({ costPico: 4 * USD }, c), null);
    const byWindow = () => new Map(t.states().map((s) => [s.id.window, [s.usedValue, s.limitValue]]));
    expect(byWindow()).toEqual(
      new Map([
        ['daily', [4, 5]],
        ['monthly', [4, 100]],
      ]),
    );
    // Set again: replaced (its use read again from the ledger, which this tracker has none of).
    t.add({ scope: 'global', limit: 50 });
    expect(t.size).toBe(2);
    expect(byWindow().get('monthly')?.[1]).toBe(50);
    // A provider's subscription limit is one per limit type, whatever its cycle.
    t.add({ scope: 'provider', scopeId: 'openai', limit: 10, limitType: 'monthly_limit' });
    t.add({ scope: 'provider', scopeId: 'openai', limit: 20, limitType: 'monthly_limit', cycle: { kind: 'daily' } });
    expect(t.size).toBe(3);
  });

  it('bounds overspend under concurrency: calls in flight hold their estimate', () => {
    const c = clock();
    const t = new BudgetTracker(() => [], c.now);
    t.add({ scope: 'api_key', scopeId: 'k1', limit: 1, enforce: true });
    t.spend(spend({ costPico: 0.97 * USD }, c), null);
    // $0.03 left; eight callers each estimated at $0.01: three get through, five are stopped.
    const results = Array.from({ length: 8 }, () => t.check(call({ costPico: 0.01 * USD })));
    expect(results.filter((r) => 'held' in r)).toHaveLength(3);
    // Settling gives the hold back; the real usage arrives through spend.
    for (const r of results) if ('held' in r) t.settle(r.held);
    expect(t.states()[0]?.reserved).toBe(0);
  });

  it('never blocks a free model on a USD budget, nor an unpriced one unless told to', () => {
    const c = clock();
    const t = new BudgetTracker(() => [], c.now);
    t.add({ scope: 'global', limit: 1, enforce: true });
    t.spend(spend({ costPico: 5 * USD }, c), null);
    expect(t.check(call({ provider: 'ollama', model: 'llama3.2', costPico: 0 }))).toEqual({ held: [] });
    expect(t.check(call({ model: 'house-model', costPico: null }))).toEqual({ held: [] });
    t.add({ scope: 'global', limit: 1, enforce: true, blockUnpriced: true });
    t.spend(spend({ costPico: 5 * USD }, c), null);
    expect('blocked' in t.check(call({ model: 'house-model', costPico: null }))).toBe(true);
  });

  it('counts a team as its members, and a token budget in tokens', () => {
    const c = clock();
    const t = new BudgetTracker(() => [], c.now);
    t.add({ scope: 'team', scopeId: 'search', members: { userIds: ['ann', 'bob'] }, limit: 1000, unit: 'tokens' });
    t.spend(spend({ userId: 'ann', tokens: 400 }, c), null);
    t.spend(spend({ userId: 'bob', tokens: 500 }, c), null);
    t.spend(spend({ userId: 'eve', tokens: 5000 }, c), null);
    expect(t.states()[0]?.usedValue).toBe(900);
    expect(t.spend(spend({ userId: 'bob', tokens: 100 }, c), null)?.map((a) => a.level)).toEqual(['critical', 'exceeded']);
  });

  it('seeds a budget from the ledger so a restart remembers the window, and forgets the days a rolling window leaves', () => {
    const c = clock();
    const day = Math.floor(T0 / 86_400_000);
    const t = new BudgetTracker(
      (state) =>
        [
          [day - 10, 3 * USD],
          [day - 2, 4 * USD],
        ].filter(([d]) => (d as number) * 86_400_000 >= state.windowStart) as [number, number][],
      c.now,
    );
    t.add({ scope: 'provider', scopeId: 'openai', limit: 10, cycle: { kind: 'rolling', days: 7 } });
    expect(t.states()[0]?.usedValue).toBe(4);
    c.advance(6 * 86_400_000);
    expect(t.states()[0]?.usedValue).toBe(0);
  });

  it('lets go of quiet per-user states past the cap, keeping those near their limit, in flight, or without a ledger behind them', () => {
    const c = clock();
    // A ledger that remembers what was spent: a state let go reads its total back.
    const ledger = new Map<string, number>();
    const day = Math.floor(T0 / 86_400_000);
    const seed = (state: { id: { scopeId: string } }) => [[day, ledger.get(state.id.scopeId) ?? 0] as [number, number]];
    const withLedger = new BudgetTracker(seed, c.now, { reseeds: true });
    const without = new BudgetTracker(() => [], c.now);
    for (const t of [withLedger, without]) t.add({ scope: 'user', scopeId: '*', limit: 10, enforce: true });
    // As the monitor does: the budgets count a record, then the ledger keeps it.
    const count = (t: BudgetTracker, userId: string, usd: number) => {
      t.spend(spend({ userId, costPico: usd * USD, timestamp: c.now() }, c), null);
      if (t === withLedger) ledger.set(userId, (ledger.get(userId) ?? 0) + usd * USD);
    };
    for (const t of [withLedger, without]) {
      count(t, 'near', 9); // past the warning: kept
      count(t, 'spent', 1); // spent a little: kept without a ledger
      expect('held' in t.check(call({ userId: 'flying' }))).toBe(true); // in flight: kept
    }
    c.advance(IDLE_MS + 1);
    // Users seen once, nothing used: at the cap, they are let go.
    for (const t of [withLedger, without]) for (let i = 0; i < MAX_QUIET_STATES; i++) t.check(call({ userId: `idle${i}`, costPico: 0 }));
    const users = (t: BudgetTracker) => new Set(t.states().map((s) => s.id.scopeId));
    for (const t of [withLedger, without]) {
      expect(users(t).size).toBeLessThan(MAX_QUIET_STATES);
      expect(users(t)).toContain('near');
      expect(users(t)).toContain('flying');
    }
    expect(users(withLedger)).not.toContain('spent');
    expect(users(without)).toContain('spent');
    // A user let go and seen again starts from what the ledger says, not from zero.
    count(withLedger, 'spent', 1);
    expect(withLedger.states().find((s) => s.id.scopeId === 'spent')?.usedValue).toBe(2);
  });

  it('counts each record against the budgets of its whole subject, as budgets come and go and a user changes key, agent or run', () => {
    const c = clock();
    const t = new BudgetTracker(() => [], c.now);
    const used = () => Object.fromEntries(t.states().map((st) => [`${st.id.scope}:${st.id.scopeId}`, st.used / USD]));
    t.add({ scope: 'user', scopeId: '*', limit: 100 });
    t.add({ scope: 'api_key', scopeId: '*', limit: 100 });
    t.spend(spend({ userId: 'ann', apiKeyId: 'k1' }, c), null);
    t.spend(spend({ userId: 'ann', apiKeyId: 'k2' }, c), null);
    expect(used()).toEqual({ 'user:ann': 2, 'api_key:k1': 1, 'api_key:k2': 1 });
    // A budget added later counts the next records; one removed no longer does.
    t.add({ scope: 'agent', scopeId: 'planner', limit: 100 });
    t.add({ scope: 'run', scopeId: 'r1', limit: 100 });
    t.add({ scope: 'team', scopeId: 'ops', members: { apiKeyIds: ['k2'] }, limit: 100 });
    t.spend(spend({ userId: 'ann', apiKeyId: 'k2', agent: 'planner' }, c), 'r1');
    t.spend(spend({ userId: 'ann', apiKeyId: 'k2', agent: 'writer' }, c), null);
    t.remove('api_key', '*');
    t.spend(spend({ userId: 'ann', apiKeyId: 'k1', agent: 'planner' }, c), 'r1');
    expect(used()).toEqual({ 'user:ann': 5, 'agent:planner': 2, 'run:r1': 2, 'team:ops': 2 });
  });
});

describe('BudgetTracker.sync (fleet-wide budgets)', () => {
  const DAY = 86_400_000;
  const today = Math.floor(T0 / DAY);

  it("adds the other processes' spending, and counts this process's records once, those counted while the ledger is read included", async () => {
    const c = clock();
    const t = new BudgetTracker(() => [], c.now);
    const state = t.add({ scope: 'global', limit: 10, enforce: true });
    // This process spends $2 (in the ledger, or queued for it, when the read begins).
    t.spend(spend({ costPico: 2 * USD }, c), null);
    await t.sync(async (states) => {
      // While the ledger is read, this process counts $1 more: the read does not see it.
      t.spend(spend({ costPico: USD }, c), null);
      // The ledger: this process's $2 and another's $5.
      return new Map(states.map((s) => [s, [[today, 7 * USD]] as [number, number][]]));
    });
    expect(state?.usedValue).toBe(8);
    // Read again with nothing new: nothing moves (the $1 is in the ledger now).
    await t.sync(async (states) => new Map(states.map((s) => [s, [[today, 8 * USD]] as [number, number][]])));
    expect(state?.usedValue).toBe(8);
    // Enforcement sees the fleet: a $3 call no longer fits.
    expect('blocked' in t.check(call({ costPico: 3 * USD }))).toBe(true);
  });

  it('alerts the thresholds the fleet crossed, once', async () => {
    const c = clock();
    const alerts: string[] = [];
    const t = new BudgetTracker(() => [], c.now, { onAlerts: (a) => alerts.push(...a.map((x) => x.level)) });
    t.add({ scope: 'global', limit: 10 });
    const read = async (states: readonly BudgetState[]) => new Map(states.map((s) => [s, [[today, 9.6 * USD]] as [number, number][]]));
    await t.sync(read);
    await t.sync(read);
    expect(alerts).toEqual(['warning', 'critical']);
  });

  it('leaves alone a state whose asynchronous seed has not arrived (the ledger would count twice) and one the read left out', async () => {
    const c = clock();
    let arrive: (rows: [number, number][]) => void = () => {};
    const t = new BudgetTracker((_s, _m, now) => (now ? [] : new Promise((resolve) => (arrive = resolve))), c.now);
    t.add({ scope: 'user', scopeId: '*', limit: 10 });
    t.add({ scope: 'global', limit: 10 });
    // u1's state is made inside spend(): seeded asynchronously.
    t.spend(spend({ costPico: USD }, c), null);
    const seen: string[] = [];
    await t.sync(async (states) => {
      seen.push(...states.map((s) => s.id.scopeId));
      return new Map();
    });
    expect(seen).toEqual(['all']);
    arrive([[today, 4 * USD]]);
    await t.seeded();
    const u1 = t.states().find((s) => s.id.scopeId === 'u1');
    expect(u1?.usedValue).toBe(5);
    expect(t.states().find((s) => s.id.scopeId === 'all')?.usedValue).toBe(1);
  });

  it('keeps a rolling window per day, so that days falling out of it drop what the fleet spent on them', async () => {
    const c = clock();
    const t = new BudgetTracker(() => [], c.now);
    const state = t.add({ scope: 'global', limit: 100, cycle: { kind: 'rolling', days: 2 } });
    t.spend(spend({ costPico: USD }, c), null);
    await t.sync(
      async (states) =>
        new Map(
          states.map((s) => [
            s,
            [
              [today - 1, 10 * USD],
              [today, 3 * USD],
            ] as [number, number][],
          ]),
        ),
    );
    expect(state?.usedValue).toBe(13);
    // A day on, yesterday's $10 has left the window, today's $3 (this process's $1 in it) has not.
    c.advance(DAY);
    expect(t.states()[0]?.usedValue).toBe(3);
  });
});
