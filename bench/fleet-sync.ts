/**
 * Fleet-wide budgets (src/budget-sync.ts): what one sync costs the process that runs it, every
 * `ledger.syncIntervalMs`. A SQLite ledger of 200,000 records over the last 30 days (200 users);
 * three rolling 30-day budgets (global, provider, and per user `*` with a state for each of the 200
 * users); one sync reads their window spending beside the writer. Its wall time (median and mean
 * over rounds) and main-thread CPU, the same without the per-user budget (`-fixed-only`), beside a 30-day summary by provider of the same ledger in the
 * same run (what one report costs), and the share of one thread it takes at the default interval.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ledgerSeeder, ledgerSpend } from '../src/budget-seeding.ts';
import { DEFAULT_SYNC_INTERVAL_MS } from '../src/budget-sync.ts';
import { BudgetTracker } from '../src/budgets/tracker.ts';
import { TokenMonitor } from '../src/index.ts';
import { LedgerWriter } from '../src/ledger/writer.ts';
import type { Result } from './harness.ts';

const DAY = 86_400_000;
const RECORDS = 200_000;
const USERS = 200;
const ROUNDS = 40;

const cpu = () => {
  const c = process.threadCpuUsage?.() ?? process.cpuUsage();
  return (c.user + c.system) / 1000;
};

function stats(xs: number[]): { median: number; mean: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[s.length >> 1] as number, mean: xs.reduce((a, b) => a + b, 0) / xs.length };
}

const r2 = (v: number) => Math.round(v * 100) / 100;

export async function benchFleetSync(): Promise<Result[]> {
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-fleet-'));
  const file = join(dir, 'ledger.db');
  try {
    const now = Date.now();
    const filler = new TokenMonitor({ dir, loadConfig: false, metrics: false, logLevel: 'error', ledger: { file, syncIntervalMs: 0 } });
    for (let i = 0; i < RECORDS; i++) {
      filler.record({
        provider: i % 5 === 0 ? 'anthropic' : 'openai',
        model: i % 5 === 0 ? 'claude-sonnet-4-5' : 'gpt-4o',
        inputTokens: 800 + (i % 400),
        outputTokens: 200,
        userId: `u${i % USERS}`,
        timestamp: now - ((i * 7919) % (29 * DAY)),
      });
    }
    await filler.close();

    const writer = new LedgerWriter({ file }, { onError: () => {}, onRecovered: () => {} });
    const store = () => writer.store();
    const tracker = new BudgetTracker(
      ledgerSeeder(
        store,
        () => writer.unwrittenSync(),
        (read) => writer.readBeside(read),
      ),
    );
    const cycle = { kind: 'rolling', days: 30 } as const;
    tracker.add({ scope: 'global', limit: 1e9, cycle });
    tracker.add({ scope: 'provider', scopeId: 'openai', limit: 1e9, cycle });
    tracker.add({ scope: 'user', scopeId: '*', limit: 1e9, cycle });
    for (let u = 0; u < USERS; u++)
      tracker.spend(
        {
          provider: 'openai',
          model: 'gpt-4o',
          userId: `u${u}`,
          apiKeyId: null,
          agent: null,
          timestamp: now,
          costPicoUsd: 0,
          totalTokens: 0,
        },
        null,
      );
    await tracker.seeded();
    const read = ledgerSpend(store, (r) => writer.readBeside(r));
    const before = tracker.states().reduce((n, s) => n + s.used, 0);
    // The same without the per-user budget: what fixed budgets alone cost.
    const fixed = new BudgetTracker(
      ledgerSeeder(
        store,
        () => writer.unwrittenSync(),
        (r) => writer.readBeside(r),
      ),
    );
    fixed.add({ scope: 'global', limit: 1e9, cycle });
    fixed.add({ scope: 'provider', scopeId: 'openai', limit: 1e9, cycle });
    const fixedWall: number[] = [];

    const syncWall: number[] = [];
    const syncCpu: number[] = [];
    const summaryWall: number[] = [];
    for (let r = -3; r < ROUNDS; r++) {
      let t = performance.now();
      const c = cpu();
      await tracker.sync(read);
      if (r >= 0) {
        syncWall.push(performance.now() - t);
        syncCpu.push(cpu() - c);
      }
      t = performance.now();
      await fixed.sync(read);
      if (r >= 0) fixedWall.push(performance.now() - t);
      t = performance.now();
      await store().aggregate({ since: now - 30 * DAY }, ['provider']);
      if (r >= 0) summaryWall.push(performance.now() - t);
    }
    // Nothing new in the ledger: a sync must leave the totals as the seeding made them.
    const after = tracker.states().reduce((n, s) => n + s.used, 0);
    if (after !== before || before === 0) throw new Error(`bench: the sync changed the totals (${before} -> ${after})`);
    await writer.close();

    const sync = stats(syncWall);
    const summary = stats(summaryWall);
    const cpuMs = stats(syncCpu);
    const fixedOnly = stats(fixedWall);
    const vs = (name: string, value: number, baseline: string, baselineValue: number): Result => ({
      name,
      value: r2(value),
      unit: 'ms',
      baseline,
      baselineValue: r2(baselineValue),
      ratio: Math.round((value / baselineValue) * 1000) / 1000,
    });
    return [
      vs('budget-sync-200k', sync.median, 'budget-sync-summary-30d-200k', summary.median),
      vs('budget-sync-200k-mean', sync.mean, 'budget-sync-summary-30d-200k-mean', summary.mean),
      vs('budget-sync-200k-fixed-only', fixedOnly.median, 'budget-sync-summary-30d-200k', summary.median),
      { name: 'budget-sync-summary-30d-200k', value: r2(summary.median), unit: 'ms' },
      { name: 'budget-sync-summary-30d-200k-mean', value: r2(summary.mean), unit: 'ms' },
      { name: 'budget-sync-200k-main-cpu', value: r2(cpuMs.median), unit: 'ms' },
      // The share of one thread the sync takes at the default interval: its mean wall time over the interval.
      {
        name: 'budget-sync-200k-share-at-default-interval',
        value: Math.round((sync.mean / DEFAULT_SYNC_INTERVAL_MS) * 10_000) / 10_000,
        unit: 'ratio',
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
