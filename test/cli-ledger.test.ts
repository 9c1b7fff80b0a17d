import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type RecordResult, TokenMonitor, type UsageInput } from '../src/index.ts';
import { SqliteStore } from '../src/ledger/sqlite.ts';

const cli = join(import.meta.dirname, '..', 'src', 'cli', 'index.ts');
const DAY = 86_400_000;

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'tm-cli-ledger-'));
}

/** Runs the CLI as a child process; TOKENMETER_DIR points at an empty dir unless `env` says otherwise. */
function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8',
    env: { ...process.env, TOKENMETER_DIR: tempDir(), ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The same, printing JSON. */
function json(args: string[]): unknown {
  const r = run([...args, '--json']);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.out);
}

const money = (usd: number) => `$${usd.toFixed(4)}`;
/** A table row holding these cells in this order, whatever the padding. */
const rowWith = (...cells: string[]) => new RegExp(`│ ${cells.map((c) => c.replace(/[$()[\]|.+*?^]/g, '\\$&')).join(' +│ +')} +│`);

let dir: string;
const results: (RecordResult & { input: UsageInput })[] = [];
const cost = (pred: (i: UsageInput) => boolean) => results.filter((r) => pred(r.input)).reduce((s, r) => s + (r.costUsd ?? 0), 0);
const pico = (pred: (i: UsageInput) => boolean) =>
  results.filter((r) => pred(r.input)).reduce((s, r) => s + BigInt(r.record?.costPicoUsd ?? 0), 0n);

beforeAll(async () => {
  dir = tempDir();
  const now = Date.now();
  const monitor = new TokenMonitor({ dir, metrics: false, loadConfig: false, logLevel: 'error' });
  const calls: UsageInput[] = [
    { provider: 'openai', model: 'gpt-4o', inputTokens: 12_000, outputTokens: 3_000, userId: 'alice', threadId: 't1', agent: 'planner' },
    {
      provider: 'openai',
      model: 'gpt-4o-mini',
      inputTokens: 50_000,
      outputTokens: 1_000,
      userId: 'bob',
      threadId: 't2',
      agent: 'writer',
      timestamp: now - 2 * DAY,
    },
    {
      provider: 'anthropic',
      model: 'claude-sonnet-4-20250514',
      inputTokens: 8_000,
      outputTokens: 2_000,
      userId: 'alice',
      threadId: 't1',
      agent: 'writer',
    },
    {
      provider: 'anthropic',
      model: 'claude-sonnet-4-20250514',
      inputTokens: 1_000,
      outputTokens: 500,
      userId: 'carol',
      agent: 'critic',
      metadata: { run_id: 'run-7' },
    },
    // Outside the default 30 days.
    {
      provider: 'openai',
      model: 'gpt-4o-mini',
      inputTokens: 7_000,
      outputTokens: 700,
      userId: 'dave',
      timestamp: now - 45 * DAY,
      metadata: { run_id: 'run-7' },
    },
  ];
  for (const input of calls) results.push({ ...monitor.record(input), input });
  await monitor.close();
  for (const r of results) expect(r.costUsd).toBeGreaterThan(0);
});

const recent = (i: UsageInput) => i.userId !== 'dave';

describe('tokenmeter summary', () => {
  it('shows usage by provider over the last 30 days, with shares as bars, money and separators', () => {
    const r = run(['summary', '--dir', dir]);
    expect(r.code).toBe(0);
    const openai = cost((i) => recent(i) && i.provider === 'openai');
    const anthropic = cost((i) => i.provider === 'anthropic');
    expect(r.out).toMatch(/^Usage by provider, from \d{4}-\d\d-\d\d \d\d:\d\d UTC to now\n/);
    expect(r.out).toMatch(rowWith('openai', '2', '62,000', '4,000', '66,000', money(openai)));
    expect(r.out).toMatch(rowWith('anthropic', '2', '9,000', '2,500', '11,500', money(anthropic)));
    const side = (k: 'inputCostUsd' | 'outputCostUsd') =>
      results.filter((x) => recent(x.input)).reduce((a, x) => a + (x.record?.[k] ?? 0), 0);
    expect(r.out).toMatch(
      rowWith(
        'Total',
        '4',
        '71,000',
        '6,500',
        '77,500',
        money(openai + anthropic),
        money(side('inputCostUsd')),
        money(side('outputCostUsd')),
        '██████████ 100.0%',
      ),
    );
    expect(side('inputCostUsd') + side('outputCostUsd')).toBeCloseTo(openai + anthropic, 12);
    const share = ((openai / (openai + anthropic)) * 100).toFixed(1);
    expect(r.out).toMatch(new RegExp(`│ openai .*[█▏▎▍▌▋▊▉ ]{10} +${share}% │`));
    expect(r.out).not.toContain('dave');
  });

  it('prints the same numbers as JSON, exact picodollars as strings', () => {
    const s = json(['summary', '--dir', dir]) as {
      by: string;
      total: { requests: number; costUsd: number; costPicoUsd: string };
      rows: {
        key: string;
        requests: number;
        inputTokens: number;
        totalTokens: number;
        costUsd: number;
        costPicoUsd: string;
        share: number;
      }[];
    };
    expect(s.by).toBe('provider');
    expect(s.rows.map((x) => x.key)).toEqual(
      cost((i) => recent(i) && i.provider === 'openai') > cost((i) => i.provider === 'anthropic')
        ? ['openai', 'anthropic']
        : ['anthropic', 'openai'],
    );
    const openai = s.rows.find((x) => x.key === 'openai');
    expect(openai).toMatchObject({ requests: 2, inputTokens: 62_000, totalTokens: 66_000 });
    expect(openai?.costUsd).toBeCloseTo(
      cost((i) => recent(i) && i.provider === 'openai'),
      12,
    );
    expect(openai?.costPicoUsd).toBe(String(pico((i) => recent(i) && i.provider === 'openai')));
    expect(s.total.requests).toBe(4);
    expect(s.total.costPicoUsd).toBe(String(pico(recent)));
    expect(s.rows.reduce((a, x) => a + x.share, 0)).toBeCloseTo(1, 5);
  });

  it('groups by model, user and day, and takes a range', () => {
    const byModel = json(['summary', '--by', 'model', '--dir', dir]) as {
      by: string;
      rows: { key: string; requests: number; costUsd: number }[];
    };
    expect(byModel.by).toBe('model');
    expect(byModel.rows.find((x) => x.key === 'claude-sonnet-4-20250514')).toMatchObject({ requests: 2 });
    expect(byModel.rows.find((x) => x.key === 'gpt-4o-mini')?.costUsd).toBeCloseTo(
      cost((i) => recent(i) && i.model === 'gpt-4o-mini'),
      12,
    );

    const byUser = run(['summary', '--by', 'user', '--dir', dir]);
    expect(byUser.out).toMatch(/^Usage by user, /);
    expect(byUser.out).toMatch(rowWith('user', 'Requests'));
    expect(byUser.out).toMatch(rowWith('alice', '2', '20,000', '5,000', '25,000', money(cost((i) => i.userId === 'alice'))));
    expect(byUser.out).toMatch(rowWith('carol', '1', '1,000', '500', '1,500', money(cost((i) => i.userId === 'carol'))));

    const day = (t: number) => new Date(t).toISOString().slice(0, 10);
    const byDay = json(['summary', '--by', 'day', '-d', '60', '--dir', dir]) as { rows: { key: string; requests: number }[] };
    const stamps = results.map((r) => r.record?.timestamp ?? 0);
    expect(byDay.rows.map((x) => x.key)).toEqual([...new Set(stamps.map(day))].sort());
    expect(byDay.rows.reduce((a, x) => a + x.requests, 0)).toBe(5);

    const since = day(Date.now() - 3 * DAY);
    const until = day(Date.now() - 2 * DAY);
    const range = json(['summary', '--since', since, '--until', until, '--by', 'user', '--dir', dir]) as { rows: { key: string }[] };
    expect(range.rows.map((x) => x.key)).toEqual(['bob']);
    const thread = json(['summary', '--by', 'thread', '-p', 'anthropic', '--dir', dir]) as { rows: { key: string | null }[] };
    expect(thread.rows.map((x) => x.key).sort()).toEqual(['t1', null].sort());
  });

  it('never shows an unknown count as 0: a rerank (no tokens reported) shows ?, a group with some unknown ≥ its known sum', async () => {
    const d = tempDir();
    const monitor = new TokenMonitor({ dir: d, metrics: false, loadConfig: false, logLevel: 'error' });
    monitor.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 1_000, outputTokens: 100, agent: 'a' });
    monitor.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 2_000, agent: 'b' });
    const rerank = monitor.record({ provider: 'cohere', model: 'rerank-v3.5', serviceType: 'reranking', searchUnits: 2, agent: 'a' });
    await monitor.close();
    const byModel = run(['summary', '--by', 'model', '--dir', d]);
    expect(byModel.code).toBe(0);
    const rerankCost = money(rerank.costUsd as number);
    // A rerank bills search units: its cost is all input side.
    expect(byModel.out).toMatch(rowWith('rerank-v3.5', '1', '?', '?', '?', rerankCost, rerankCost, '$0.0000'));
    expect(byModel.out).toMatch(rowWith('gpt-4o', '2', '3,000', '≥100', '≥1,100'));
    expect(byModel.out).toMatch(/did not report their counts \(input tokens by 1, output tokens by 2, total tokens by 2\)/);
    expect(byModel.out).not.toMatch(rowWith('rerank-v3.5', '1', '0'));
    const report = run(['report', '--dir', d]);
    expect(report.out).toMatch(rowWith('cohere', '1', '?', '?', '?', rerankCost));
    expect(report.out).toMatch(rowWith('  rerank-v3.5', '1', '?', '?', '?', rerankCost));
    const s = json(['summary', '--by', 'agent', '--dir', d]) as {
      rows: { key: string; outputTokens: number; unknownCounts: { outputTokens: number }; inputCostUsd: number; outputCostUsd: number }[];
    };
    const a = s.rows.find((x) => x.key === 'a');
    expect(a).toMatchObject({ outputTokens: 100, unknownCounts: { outputTokens: 1 } });
    // gpt-4o: 1,000 in × $2.50 = $0.0025 plus the rerank's; 100 out × $10 = $0.001.
    expect(a?.outputCostUsd).toBe(0.001);
    expect(a?.inputCostUsd).toBeCloseTo(0.0025 + (rerank.costUsd as number), 12);
  });

  it('reads $TOKENMETER_DIR when --dir is not given', () => {
    const r = run(['summary', '--by', 'agent', '--json'], { TOKENMETER_DIR: dir });
    expect(
      JSON.parse(r.out)
        .rows.map((x: { key: string }) => x.key)
        .sort(),
    ).toEqual(['critic', 'planner', 'writer']);
  });
});

describe('tokenmeter report, records and session-report', () => {
  it('report: totals, each provider by service type and by model', () => {
    const rep = json(['report', '--dir', dir]) as {
      period: { days: number };
      totals: { requests: number; costUsd: number };
      byProvider: {
        provider: string;
        byModel: Record<string, { requests: number }>;
        byServiceType: Record<string, { requests: number }>;
      }[];
      subscriptionStatus: unknown[];
    };
    expect(rep.period.days).toBe(30);
    expect(rep.totals.requests).toBe(4);
    expect(rep.totals.costUsd).toBeCloseTo(cost(recent), 12);
    const openai = rep.byProvider.find((p) => p.provider === 'openai');
    expect(openai?.byModel).toMatchObject({ 'gpt-4o': { requests: 1 }, 'gpt-4o-mini': { requests: 1 } });
    expect(openai?.byServiceType).toMatchObject({ llm: { requests: 2 } });
    expect(rep.subscriptionStatus).toEqual([]);
    const text = run(['report', '-p', 'anthropic', '--dir', dir]).out;
    expect(text).toMatch(rowWith('anthropic', '2', '9,000', '2,500', '11,500', money(cost((i) => i.provider === 'anthropic'))));
    expect(text).toMatch(rowWith('  claude-sonnet-4-20250514', '2', '9,000', '2,500', '11,500'));
    expect(text).not.toContain('openai');
  });

  it('records: newest first, -n, and filters by user and thread', () => {
    const two = run(['records', '-n', '2', '--dir', dir]);
    expect(two.code).toBe(0);
    const lines = two.out.split('\n').filter((l) => l.startsWith('│') && !l.includes('Time (UTC)'));
    expect(lines).toHaveLength(2);
    expect(two.out).toContain('2 newest records.');
    const all = json(['records', '--dir', dir]) as { timestamp: number; userId: string | null; costUsd: number }[];
    expect(all).toHaveLength(5);
    expect(all.map((x) => x.timestamp)).toEqual([...all.map((x) => x.timestamp)].sort((a, b) => b - a));
    expect(all.at(-1)).toMatchObject({ userId: 'dave' });
    expect(all.at(-1)?.costUsd).toBeCloseTo(
      cost((i) => i.userId === 'dave'),
      12,
    );
    expect((json(['records', '--user', 'bob', '--dir', dir]) as unknown[]).length).toBe(1);
    expect((json(['records', '--thread', 't1', '-p', 'openai', '--dir', dir]) as { model: string }[]).map((x) => x.model)).toEqual([
      'gpt-4o',
    ]);
    expect(json(['records', '--user', 'nobody', '--dir', dir])).toEqual([]);
    expect(run(['records', '-d', '1', '--user', 'bob', '--dir', dir]).out).toContain('No records from ');
    // None of these calls failed: --errors finds none (src/reports/reports.test.ts has failures to find).
    expect(json(['records', '--errors', '--dir', dir])).toEqual([]);
    expect(run(['records', '--errors', '--dir', dir]).out).toContain('No failed calls up to now matching the filters');
  });

  it('session-report: calls, tokens, cost, shares by agent and model, budget use', () => {
    const since = new Date(Date.now() - DAY).toISOString();
    const s = json(['session-report', '--since', since, '--budget', '1', '--dir', dir]) as {
      calls: number;
      totalTokens: number;
      costUsd: number;
      byAgent: { key: string }[];
      budget: { limitUsd: number; usedUsd: number; utilization: number };
    };
    const today = (i: UsageInput) => recent(i) && i.userId !== 'bob';
    expect(s).toMatchObject({ calls: 3, totalTokens: 26_500 });
    expect(s.costUsd).toBeCloseTo(cost(today), 12);
    expect(s.budget.utilization).toBeCloseTo(cost(today), 12);
    const text = run(['session-report', '--since', since, '--budget', '1', '--dir', dir]).out;
    expect(text).toMatch(/^Cost report, /);
    expect(text).toMatch(/Calls\s+3\n/);
    expect(text).toMatch(/Tokens\s+26,500 \(21,000 input, 5,500 output\)/);
    expect(text).toContain(`Cost      ${money(cost(today))}`);
    expect(text).toMatch(/Budget\s+.+ of \$1\.0000: /);
    expect(text).toMatch(/By agent\s+calls\s+tokens\s+cost\s+share of cost/);
    expect(text).toMatch(/planner\s+1\s+15,000\s+\$\d\.\d{4}\s+[█▏▎▍▌▋▊▉ ]{10} +\d+\.\d%/);
  });

  it('session-report and records --run: the calls of one run, whenever they were made', () => {
    const inRun = (i: UsageInput) => i.metadata?.run_id === 'run-7';
    const s = json(['session-report', '--run', 'run-7', '--dir', dir]) as { calls: number; costUsd: number };
    expect(s.calls).toBe(2);
    expect(s.costUsd).toBeCloseTo(cost(inRun), 12);
    expect((json(['records', '--run', 'run-7', '--dir', dir]) as { userId: string }[]).map((r) => r.userId)).toEqual(['carol', 'dave']);
    expect(json(['records', '--run', 'run-8', '--dir', dir])).toEqual([]);
  });
});

describe('tokenmeter set-limit, status and alerts', () => {
  it('status and alerts without limits: a hint and "No alerts."', () => {
    const status = run(['status', '--dir', dir]);
    expect(status.code).toBe(0);
    expect(status.out).toContain('No subscription limits or budgets set in');
    expect(status.out).toContain('tokenmeter set-limit <provider> <limit_type> <value>');
    expect(json(['status', '--dir', dir])).toEqual([]);
    expect(run(['alerts', '--dir', dir]).out).toBe('No alerts.\n');
  });

  it('a limit just under the spend is exceeded; one the spend is 85% of is a warning; alerts list the worst first', () => {
    const d = tempDir();
    cpSync(dir, d, { recursive: true });
    // A rolling window, so that the test does not depend on where in the month it runs.
    const openai = cost((i) => recent(i) && i.provider === 'openai');
    const anthropic = cost((i) => i.provider === 'anthropic');
    const limitA = Number((openai * 0.99).toFixed(6));
    const limitB = Number((anthropic / 0.85).toFixed(6));
    expect(
      run(['set-limit', 'openai', 'monthly_limit', String(limitA), '--cycle', 'rolling', '--rolling-days', '30', '--dir', d]).code,
    ).toBe(0);
    expect(run(['set-limit', 'anthropic', 'monthly_limit', String(limitB), '--rolling-days', '30', '--dir', d]).code).toBe(0);
    expect(run(['set-limit', 'anthropic', 'max_plan_tokens', '100000', '--rolling-days', '30', '--dir', d]).code).toBe(0);

    const status = json(['status', '--dir', d]) as {
      provider: string;
      limitType: string;
      level: string;
      used: number;
      percentUsed: number;
    }[];
    expect(status.map((s) => [s.provider, s.limitType, s.level])).toEqual([
      ['openai', 'monthly_limit', 'exceeded'],
      ['anthropic', 'max_plan_tokens', 'ok'],
      ['anthropic', 'monthly_limit', 'warning'],
    ]);
    expect(status[0]?.used).toBeCloseTo(openai, 12);
    expect(status[2]?.percentUsed).toBeCloseTo(85, 1);
    expect(status[1]?.used).toBe(11_500);

    const text = run(['status', '--dir', d]).out;
    expect(text).toMatch(rowWith('openai', 'monthly_limit', money(openai), money(limitA)));
    expect(text).toMatch(
      /│ anthropic │ max_plan_tokens │ +11,500 tokens │ +100,000 tokens │ █▏ +11\.5% │ +88,500 tokens │ ok +│ rolling, since /,
    );
    expect(text).toMatch(/█{10} 101\.0% │ +\$0\.0000 │ exceeded │/);

    // Every limit at its level now, most severe first; no alert was raised (no process recorded past them).
    const alerts = json(['alerts', '--dir', d]) as { budgets: { level: string; provider: string; limitType: string }[]; alerts: unknown[] };
    expect(alerts.budgets.map((a) => [a.level, a.provider, a.limitType])).toEqual([
      ['exceeded', 'openai', 'monthly_limit'],
      ['warning', 'anthropic', 'monthly_limit'],
      ['ok', 'anthropic', 'max_plan_tokens'],
    ]);
    expect(alerts.alerts).toEqual([]);
    const alertText = run(['alerts', '--dir', d]).out;
    expect(alertText.indexOf('exceeded')).toBeLessThan(alertText.indexOf('warning'));
    expect(alertText).toMatch(rowWith('anthropic', 'max_plan_tokens'));
    expect(alertText).toContain('No budget alert raised.');

    // The report carries the same statuses.
    const rep = json(['report', '--dir', d]) as { subscriptionStatus: { level: string }[] };
    expect(rep.subscriptionStatus.map((s) => s.level)).toEqual(['exceeded', 'ok', 'warning']);
  });

  it("alerts lists the alerts Alertmanager sent to serve beside the budgets', firing first, within --days", () => {
    const d = tempDir();
    cpSync(dir, d, { recursive: true });
    const limit = Number((cost((i) => recent(i) && i.provider === 'openai') * 0.99).toFixed(6));
    expect(run(['set-limit', 'openai', 'monthly_limit', String(limit), '--cycle', 'rolling', '--dir', d]).code).toBe(0);
    // What POST /v1/alertmanager keeps, written as serve writes it.
    const store = new SqliteStore(join(d, 'ledger.db'));
    const am = (name: string, severity: string, status: 'firing' | 'resolved', startsAt: number, endsAt: number | null) => ({
      status,
      labels: { alertname: name, severity, provider: 'openai' },
      annotations: { summary: `${name} summary` },
      startsAt,
      endsAt,
      generatorURL: '',
      fingerprint: name,
    });
    const now = Date.now();
    const notify = (alerts: ReturnType<typeof am>[], at: number) =>
      store.keepNotification(
        {
          receiver: 'tokenmeter-critical',
          status: alerts[0]?.status ?? 'firing',
          alerts,
          groupLabels: {},
          commonLabels: {},
          commonAnnotations: {},
          externalURL: '',
          groupKey: 'g',
          truncatedAlerts: 0,
        },
        at,
      );
    notify([am('TokenmeterBudgetCritical', 'critical', 'resolved', now - 60_000, now - 30_000)], now - 20_000);
    notify([am('TokenmeterHighErrorRate', 'warning', 'firing', now - 10_000, null)], now - 10_000);
    notify([am('OldAlert', 'warning', 'firing', now - 20 * DAY, null)], now - 20 * DAY);
    store.closeSync();

    type Received = { source: string; level: string; message: string };
    const all = json(['alerts', '--dir', d]) as { budgets: { level: string; provider: string }[]; alertmanager: Received[] };
    expect(all.budgets.map((b) => [b.level, b.provider])).toEqual([['exceeded', 'openai']]);
    expect(all.alertmanager.map((a) => [a.source, a.level, a.message.split(':')[0]])).toEqual([
      ['alertmanager', 'warning', 'TokenmeterHighErrorRate summary'],
      ['alertmanager', 'resolved', 'TokenmeterBudgetCritical summary'],
    ]);
    const text = run(['alerts', '--dir', d]).out;
    expect(text).toMatch(rowWith('openai', 'monthly_limit'));
    expect(text).toContain('From Alertmanager (POST /v1/alertmanager), notified in the last 7 days: 1 firing, 1 resolved');
    expect(text).toMatch(rowWith('firing', 'TokenmeterHighErrorRate', 'warning', 'TokenmeterHighErrorRate summary'));
    expect(text).toMatch(/│ resolved \d{4}-\d\d-\d\d \d\d:\d\d UTC │ TokenmeterBudgetCritical +│ critical/);
    expect(text).not.toContain('OldAlert');
    expect((json(['alerts', '--days', '30', '--dir', d]) as { alertmanager: Received[] }).alertmanager.map((a) => a.message)).toContain(
      'OldAlert summary',
    );
  });

  it('set-limit writes config.json, keeping its other keys', () => {
    const d = tempDir();
    writeFileSync(join(d, 'config.json'), JSON.stringify({ pricing: { 'house-model': { input: 1 } }, api_keys: {} }));
    const r = run(['set-limit', 'openai', 'monthly_limit', '100', '--dir', d]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`Set openai monthly_limit to $100.0000 (monthly, from day 1) in ${join(d, 'config.json')}.`);
    expect(run(['set-limit', 'openai', 'max_plan_tokens', '2500000', '--reset-day', '15', '--dir', d]).out).toContain(
      'Set openai max_plan_tokens to 2,500,000 tokens (monthly, from day 15)',
    );
    expect(run(['set-limit', 'groq', 'free_tier_tokens', '1000', '--cycle', 'daily', '--dir', d]).code).toBe(0);
    expect(JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'))).toEqual({
      pricing: { 'house-model': { input: 1 } },
      api_keys: {},
      subscription_limits: {
        openai: { monthly_limit: 100, max_plan_tokens: 2_500_000, billing_cycle: 'monthly', reset_day: 15 },
        groq: { free_tier_tokens: 1000, billing_cycle: 'daily' },
      },
    });
    // A dir that does not exist yet is made.
    const fresh = join(tempDir(), 'new');
    expect(run(['set-limit', 'openai', 'prepaid_credits', '20', '--dir', fresh]).code).toBe(0);
    expect(existsSync(join(fresh, 'config.json'))).toBe(true);
  });

  it('rejects a bad limit type, value or cycle (exit 2, message naming it), leaving config.json untouched', () => {
    const d = tempDir();
    expect(run(['set-limit', 'openai', 'monthly_limit', '5', '--dir', d]).code).toBe(0);
    const before = readFileSync(join(d, 'config.json'), 'utf8');
    const cases: [string[], string][] = [
      [['openai', 'weekly_limit', '5'], 'Invalid limit_type: "weekly_limit" (must be one of max_plan_tokens, free_tier_tokens'],
      [['openai', 'monthly_limit', '-5'], 'Invalid value: "-5" (must be a non-negative number)'],
      [['openai', 'monthly_limit', 'lots'], 'Invalid value: "lots"'],
      [['openai', 'monthly_limit', '5', '--cycle', 'weekly'], "option '--cycle <cycle>' argument 'weekly' is invalid"],
      [
        ['openai', 'monthly_limit', '5', '--reset-day', '31'],
        "option '--reset-day <n>' argument '31' is invalid. It must be a whole number from 1 to 28.",
      ],
      [
        ['openai', 'monthly_limit', '5', '--cycle', 'daily', '--rolling-days', '7'],
        'Invalid --rolling-days: 7 (applies to a rolling cycle, not daily)',
      ],
      [['openai', 'monthly_limit'], "missing required argument 'value'"],
    ];
    for (const [args, message] of cases) {
      const r = run(['set-limit', ...args, '--dir', d]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toContain(message);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.out).toBe('');
    }
    expect(readFileSync(join(d, 'config.json'), 'utf8')).toBe(before);
  });
});

describe('tokenmeter CLI arguments and empty ledgers', () => {
  it('rejects bad options with one line naming the option and value (exit 2)', () => {
    const cases: [string[], string][] = [
      [['summary', '--by', 'colour'], "option '--by <dimension>' argument 'colour' is invalid. Allowed choices are provider, model"],
      [['summary', '-d', '-3'], "option '-d, --days <n>' argument '-3' is invalid. It must be a positive number of days."],
      [['summary', '--days', 'abc'], "option '-d, --days <n>' argument 'abc' is invalid."],
      [['report', '-d', '0'], "option '-d, --days <n>' argument '0' is invalid."],
      [
        ['summary', '--since', 'last tuesday'],
        "option '--since <date>' argument 'last tuesday' is invalid. It must be a date (2026-05-01)",
      ],
      [['summary', '--until', '2026-02-30'], "option '--until <date>' argument '2026-02-30' is invalid."],
      [['records', '-n', '0'], "option '-n, --limit <n>' argument '0' is invalid. It must be a positive whole number."],
      [['session-report', '--budget', '-1'], "option '--budget <usd>' argument '-1' is invalid."],
      [['no-such-command'], "unknown command 'no-such-command'"],
    ];
    for (const [args, message] of cases) {
      const r = run([...args, '--dir', dir]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toContain(message);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
    const later = run(['summary', '--since', '2999-01-01', '--dir', dir]);
    expect(later.code).toBe(2);
    expect(later.err).toMatch(/^tokenmeter: Invalid since: .* \(must be before until/);
  });

  it('reads a dir without a ledger as an empty one: a friendly message, exit 0, empty JSON, nothing created', () => {
    const d = join(tempDir(), 'nothing-here');
    for (const cmd of ['summary', 'report', 'records', 'session-report']) {
      const r = run([cmd, '--dir', d]);
      expect(r.code, cmd).toBe(0);
      expect(r.err).toBe('');
      expect(r.out).toMatch(/^No usage recorded yet in /);
      expect(r.out).toContain(`No usage recorded yet in ${d}: there is no ledger (${join(d, 'ledger.db')}).`);
    }
    expect(json(['summary', '--by', 'model', '--dir', d])).toMatchObject({
      by: 'model',
      total: { requests: 0, costPicoUsd: '0' },
      rows: [],
    });
    expect(json(['report', '--dir', d])).toMatchObject({ totals: { requests: 0 }, byProvider: [], subscriptionStatus: [] });
    expect(json(['records', '--dir', d])).toEqual([]);
    expect(json(['session-report', '--dir', d])).toMatchObject({ calls: 0, costUsd: 0, byAgent: [], budget: null, startedAt: null });
    expect(run(['status', '--dir', d]).out).toContain('No subscription limits or budgets set');
    expect(run(['alerts', '--dir', d]).out).toBe('No alerts.\n');
    expect(existsSync(d)).toBe(false);
    // $TOKENMETER_DIR (here an empty temp dir) is the default.
    expect(run(['summary']).out).toMatch(/^No usage recorded yet in .*tm-cli-ledger-/);
  });

  it('says so when the ledger has nothing in the range', () => {
    const r = run(['summary', '-p', 'mistral', '--dir', dir]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^No usage from .* to now for provider mistral in /);
  });
});

describe('tokenmeter export, cleanup and archives', () => {
  it('exports the records of a range to CSV and JSON', () => {
    const d = tempDir();
    const csv = join(d, 'usage.csv');
    const r = run(['export', csv, '--dir', dir]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`Exported 5 records up to now to ${csv} (csv).`);
    expect(r.err).toBe(''); // no progress bar when stderr is not a terminal
    expect(readFileSync(csv, 'utf8').trimEnd().split('\r\n')).toHaveLength(6);
    const file = join(d, 'usage.json');
    expect(run(['export', file, '-d', '30', '--dir', dir]).out).toContain('Exported 4 records from ');
    expect(JSON.parse(readFileSync(file, 'utf8')).records).toHaveLength(4);
    expect(run(['export', join(d, 'x.txt'), '--format', 'xml', '--dir', dir]).code).toBe(2);
    expect(run(['export', join(d, 'none.csv'), '--dir', join(d, 'empty')]).out).toMatch(/^No usage recorded yet in /);
  });

  it('cleanup archives and deletes the old records; archives lists the files', () => {
    const d = tempDir();
    cpSync(dir, d, { recursive: true });
    expect(run(['archives', '--dir', d]).out).toContain('No archives in');
    const r = run(['cleanup', '-d', '30', '--dir', d]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Archived and deleted 1 record before /);
    expect((json(['records', '--dir', d]) as unknown[]).length).toBe(4);
    const archives = json(['archives', '--dir', d]) as { file: string; month: string }[];
    const month = new Date(results[4]?.record?.timestamp ?? 0).toISOString().slice(0, 7);
    expect(archives.map((a) => a.month)).toEqual([month]);
    expect(readdirSync(join(d, 'archive'))).toEqual([`ledger-${month}.ndjson.gz`]);
    expect(run(['archives', '--dir', d]).out).toMatch(rowWith(month, join(d, 'archive', `ledger-${month}.ndjson.gz`)));
    expect(json(['cleanup', '-d', '30', '--dir', d])).toMatchObject({ deleted: 0 });
    expect(run(['cleanup', '--dir', d]).code).toBe(2);
  });
});
