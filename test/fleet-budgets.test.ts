// Fleet-wide budgets: several app processes (test/helpers/fleet-budget-child.ts) share one ledger
// (SQLite file, or PostgreSQL) and spend against one enforced budget set in their shared
// config.json, through the official OpenAI client against a replay server. Each reads the fleet's
// spending every syncIntervalMs, so the budget holds fleet-wide: what is spent past the limit is
// at most what the fleet spends in the lag (README, "Fleet-wide budgets"):
//   overspend <= R x (syncIntervalMs + flushIntervalMs + longest call + ledger I/O)
// with R the fleet's spending rate, measured in the run. Without the sync (syncIntervalMs 0) each
// process spends the whole limit on its own, far past that bound.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenMonitor } from '../src/index.ts';
import { chatCompletion } from './helpers/chat-completion.ts';
import type { Args, Outcome } from './helpers/fleet-budget-child.ts';
import { type PostgresServer, startPostgres } from './helpers/postgres.ts';
import { parseExposition, sample, waitFor } from './helpers/prometheus.ts';
import { type ReplayServer, replayServer } from './helpers/replay-server.ts';
import { startServe } from './helpers/serve.ts';

const CHILD = join(import.meta.dirname, 'helpers', 'fleet-budget-child.ts');
const LIMIT_USD = 1.5;
const PROCESSES = 4;
const SYNC_MS = 500;
const FLUSH_MS = 200;
/** What one write of a batch and one read of the window's spending may take here, beside the intervals. */
const IO_MS = 100;
const REPLY_DELAY_MS = 30;

let replay: ReplayServer;
const dirs: string[] = [];

beforeAll(async () => {
  replay = await replayServer(() => ({
    delayMs: REPLY_DELAY_MS,
    json: chatCompletion('chatcmpl-fleet'),
  }));
});

afterAll(async () => {
  await replay?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function storageDir(limitUsd: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'tm-fleet-budget-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ budgets: [{ scope: 'global', limit_usd: limitUsd, enforce: true }] }));
  return dir;
}

/** One child: resolves with its `ready` line, then `go()` starts it and resolves with its outcome. */
function startChild(args: Args): Promise<{ go: () => Promise<Outcome>; proc: ChildProcess }> {
  const proc = spawn(process.execPath, [CHILD, JSON.stringify(args)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d) => {
    stderr += d;
  });
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const w = waiting.shift();
    if (w) w(line);
    else lines.push(line);
  });
  const next = (ms: number) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fleet child said nothing in ${ms} ms; stderr: ${stderr}`)), ms);
      proc.once('exit', (code) => {
        if (code !== 0) reject(new Error(`fleet child exited with ${code}: ${stderr}`));
      });
      const take = (line: string) => {
        clearTimeout(timer);
        resolve(line);
      };
      const l = lines.shift();
      if (l !== undefined) take(l);
      else waiting.push(take);
    });
  return next(30_000).then(() => ({
    proc,
    go: async () => {
      proc.stdin?.write('go\n');
      return JSON.parse(await next(args.maxMs + 30_000)) as Outcome;
    },
  }));
}

interface FleetRun {
  outcomes: Outcome[];
  /** What the fleet spent, as the shared ledger says. */
  spentUsd: number;
  calls: number;
  /** The fleet's spending rate over the run, USD per second. */
  rateUsdPerS: number;
  /** The longest call any process made (ms). */
  maxCallMs: number;
}

async function runFleet(o: { syncIntervalMs: number; ledgerUrl?: string }): Promise<FleetRun> {
  const dir = storageDir(LIMIT_USD);
  const before = replay.requests.length;
  const args: Args = {
    dir,
    replayUrl: replay.url,
    syncIntervalMs: o.syncIntervalMs,
    flushIntervalMs: FLUSH_MS,
    workers: 2,
    pauseMs: 100,
    maxMs: 60_000,
  };
  if (o.ledgerUrl !== undefined) args.ledgerUrl = o.ledgerUrl;
  const children = await Promise.all(Array.from({ length: PROCESSES }, () => startChild(args)));
  const outcomes = await Promise.all(children.map((c) => c.go()));
  const calls = replay.requests.length - before;
  const monitor = new TokenMonitor({
    dir,
    metrics: false,
    logLevel: 'error',
    ledger: o.ledgerUrl === undefined ? { syncIntervalMs: 0 } : { url: o.ledgerUrl, syncIntervalMs: 0 },
  });
  const { total } = await monitor.summary();
  await monitor.close();
  const start = Math.min(...outcomes.map((x) => x.startedAt));
  const end = Math.max(...outcomes.map((x) => x.lastAdmitAt));
  return {
    outcomes,
    spentUsd: total.costUsd,
    calls,
    rateUsdPerS: total.costUsd / ((end - start) / 1000),
    maxCallMs: Math.max(...outcomes.map((x) => x.maxCallMs)),
  };
}

/** The documented bound on what a fleet spends past an enforced limit (README, "Fleet-wide budgets"). */
function bound(run: FleetRun, syncIntervalMs: number): number {
  return run.rateUsdPerS * ((syncIntervalMs + FLUSH_MS + run.maxCallMs + IO_MS) / 1000);
}

function report(label: string, run: FleetRun, syncIntervalMs: number): void {
  const over = run.spentUsd - LIMIT_USD;
  console.log(
    `${label}: ${PROCESSES} processes, limit $${LIMIT_USD}, spent $${run.spentUsd.toFixed(4)} in ${run.calls} calls at $${run.rateUsdPerS.toFixed(3)}/s; overspend $${over.toFixed(4)} (${((over / LIMIT_USD) * 100).toFixed(1)}% of the limit), bound $${bound(run, syncIntervalMs).toFixed(4)} (sync ${syncIntervalMs} ms, flush ${FLUSH_MS} ms, longest call ${run.maxCallMs} ms)`,
  );
}

function expectHeldFleetWide(run: FleetRun): void {
  const own = run.spentUsd / PROCESSES;
  // The limit was reached, and every process was stopped by it (not by its deadline)...
  expect(run.spentUsd).toBeGreaterThanOrEqual(LIMIT_USD * 0.98);
  for (const o of run.outcomes) {
    expect(o.blocked).toBeGreaterThan(0);
    expect(o.sent).toBeGreaterThan(0);
    // ...seeing the fleet's spending, far more than its own share.
    expect(o.usedAtBlock).toBeGreaterThan(own * 1.5);
  }
  // What a user checks: the spending past the limit is within what the lag allows.
  expect(run.spentUsd - LIMIT_USD).toBeLessThanOrEqual(bound(run, SYNC_MS));
}

describe('an enforced budget shared by a fleet', () => {
  it(`holds across ${PROCESSES} processes on one SQLite ledger: overspend within rate x lag`, async () => {
    const run = await runFleet({ syncIntervalMs: SYNC_MS });
    report('sqlite', run, SYNC_MS);
    expect(run.calls).toBe(run.outcomes.reduce((n, o) => n + o.sent, 0));
    expectHeldFleetWide(run);
  }, 120_000);

  it('without the sync each process spends the whole limit (the bound above would not hold)', async () => {
    const run = await runFleet({ syncIntervalMs: 0 });
    report('sqlite, no sync', run, 0);
    expect(run.spentUsd - LIMIT_USD).toBeGreaterThan(bound(run, SYNC_MS));
    expect(run.spentUsd).toBeGreaterThan(LIMIT_USD * (PROCESSES - 1));
  }, 120_000);

  describe('on PostgreSQL', () => {
    let pg: PostgresServer;
    beforeAll(async () => {
      pg = await startPostgres();
    }, 60_000);
    afterAll(async () => {
      await pg?.remove();
    });

    it(`holds across ${PROCESSES} processes on one PostgreSQL ledger`, async () => {
      const run = await runFleet({ syncIntervalMs: SYNC_MS, ledgerUrl: await pg.database('fleet_budget') });
      report('postgres', run, SYNC_MS);
      expectHeldFleetWide(run);
    }, 120_000);

    it('keeps counting its own spending while the ledger cannot be read, says so once, and syncs again after', async () => {
      const url = await pg.database('fleet_down');
      const lines: string[] = [];
      const log = (m: string) => lines.push(m);
      const monitor = new TokenMonitor({
        dir: storageDir(10),
        ledger: { url, syncIntervalMs: 100, flushIntervalMs: 50 },
        logger: { debug: () => {}, info: () => {}, warn: log, error: log },
        metrics: { prometheus: { port: 0 } },
      });
      const call = { provider: 'openai', model: 'gpt-4o', inputTokens: 1000, outputTokens: 200 };
      const used = () => monitor.status().find((s) => s.scope === 'global')?.used;
      const failures = async () =>
        sample(parseExposition(await (await fetch(monitor.metricsUrl as string)).text()), 'tokenmeter_internal_errors_total', {
          component: 'budgets',
        }) ?? 0;
      try {
        monitor.record(call);
        await monitor.flush();
        await pg.stop();
        monitor.record(call);
        await waitFor('the failed read logged', 10_000, () =>
          lines.some((l) => /cannot read the fleet's spending/.test(l)) ? true : undefined,
        );
        // Several intervals later: still one line, every failure counted, and nothing wiped.
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(lines.filter((l) => /cannot read the fleet's spending/.test(l))).toHaveLength(1);
        expect(await failures()).toBeGreaterThan(1);
        expect(used()).toBeCloseTo(0.009, 9);
        await pg.start();
        await waitFor('the sync back', 30_000, () => (lines.some((l) => /read the shared ledger again/.test(l)) ? true : undefined));
        expect(used()).toBeCloseTo(0.009, 9);
      } finally {
        await monitor.close();
      }
    }, 90_000);
  });
});

describe('tokenmeter serve on a shared ledger', () => {
  it("answers /v1/status and /v1/check with another process's spending, within the sync interval", async () => {
    const dir = storageDir(0.05);
    // Its own event loop, as deployed.
    const { proc, url } = await startServe(['--dir', dir, '--sync-interval', '500']);
    const app = new TokenMonitor({ dir, metrics: false, logLevel: 'silent', ledger: { flushIntervalMs: 100 } });
    const ask = { provider: 'openai', model: 'gpt-4o', max_tokens: 1000, messages: [{ role: 'user', content: 'hi' }] };
    const check = async () =>
      (await fetch(`${url}/v1/check`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ask) }))
        .status;
    const used = async () => {
      const list = (await (await fetch(`${url}/v1/status`)).json()) as { scope: string; used: number }[];
      return list.find((b) => b.scope === 'global')?.used;
    };
    try {
      expect(await used()).toBe(0);
      expect(await check()).toBe(200);
      // The app (another process to serve) spends $0.045 of $0.05: 10 calls of 1,000 + 200 tokens.
      for (let i = 0; i < 10; i++) app.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 1000, outputTokens: 200 });
      await app.flush();
      const at = Date.now();
      await waitFor('serve to see the spending', 10_000, async () => (((await used()) ?? 0) > 0.04 ? true : undefined));
      // Written to the ledger at once (flush), so seen within one interval and a read (given a second here).
      expect(Date.now() - at).toBeLessThan(500 + 1000);
      expect(await used()).toBeCloseTo(0.045, 6);
      // A call that may cost $0.01 (1,000 output tokens) fitted alone; with the app's spending it would pass $0.05: refused.
      expect(await check()).toBe(402);
    } finally {
      await app.close();
      proc.kill('SIGTERM');
      await new Promise((resolve) => proc.once('exit', resolve));
    }
  }, 60_000);
});

describe('budgets of users and teams on a shared ledger', () => {
  it("see another monitor's spending, and alert its crossings, within the interval", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-fleet-budget-'));
    dirs.push(dir);
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({
        budgets: [
          { scope: 'user', id: '*', limit_usd: 0.05 },
          { scope: 'team', id: 'search', user_ids: ['ann', 'bob'], limit_usd: 0.2, billing_cycle: 'rolling', rolling_days: 7 },
        ],
      }),
    );
    // Two monitors on one ledger file, each with its own writer thread and connection, as two processes have.
    const options = { dir, metrics: false as const, logLevel: 'silent' as const, ledger: { syncIntervalMs: 100, flushIntervalMs: 50 } };
    const a = new TokenMonitor(options);
    const b = new TokenMonitor(options);
    const alerts: string[] = [];
    b.on('alert', (x) => alerts.push(`${x.level} ${x.budget.scope}:${x.budget.scopeId}`));
    // $0.0045 a call (1,000 + 200 tokens of gpt-4o).
    const call = { provider: 'openai', model: 'gpt-4o', inputTokens: 1000, outputTokens: 200 };
    try {
      b.record({ ...call, userId: 'ann' });
      for (let i = 0; i < 9; i++) a.record({ ...call, userId: i % 3 === 0 ? 'bob' : 'ann' });
      const ann = () => b.status().find((s) => s.scope === 'user' && s.scopeId === 'ann');
      const team = () => b.status().find((s) => s.scope === 'team');
      await waitFor('b to see a', 5000, () => ((ann()?.used ?? 0) > 0.02 ? true : undefined));
      // b's own call and a's six for ann; the team counts bob's three too, once each.
      expect(ann()?.used).toBeCloseTo(0.0315, 9);
      expect(team()?.used).toBeCloseTo(0.045, 9);
      for (let i = 0; i < 4; i++) a.record({ ...call, userId: 'ann' });
      await waitFor('b to alert a crossing it did not make', 5000, () => (alerts.length > 0 ? true : undefined));
      // $0.0495 of $0.05: past 80% and 95%, each once.
      expect(ann()?.used).toBeCloseTo(0.0495, 9);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(alerts).toEqual(['warning user:ann', 'critical user:ann']);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
