import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { Tiktoken } from 'js-tiktoken/lite';
import o200k_base from 'js-tiktoken/ranks/o200k_base';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Alert, isBudgetExceededError, TokenMonitor } from '../src/index.ts';
import { LIMIT_USD, type Outcome, overspend } from './helpers/enforce-scenario.ts';
import { collectUntil } from './helpers/gc.ts';
import { parseExposition } from './helpers/prometheus.ts';
import { fixture, fixtureJson, type ReceivedRequest, type ReplayServer, type Reply, replayServer } from './helpers/replay-server.ts';

let server: ReplayServer;
beforeAll(async () => {
  // A recorded gpt-4o answer: 2,006 input tokens (1,920 cached) and 300 output tokens.
  server = await replayServer((req) =>
    (req.body as { stream?: boolean } | undefined)?.stream
      ? { sse: fixture('openai-chat-stream.sse') }
      : { json: fixtureJson('openai-chat-cached.json') },
  );
});
afterAll(async () => {
  await server.close();
});

const KEY = 'sk-proj-budgettestkeybudgettestkey-wxyz';
const ask = { model: 'gpt-4o', max_tokens: 300, messages: [{ role: 'user' as const, content: 'Summarise the report.' }] };

function dir(): string {
  return mkdtempSync(join(tmpdir(), 'tm-budget-'));
}

function setup(options: ConstructorParameters<typeof TokenMonitor>[0] = {}) {
  const monitor = new TokenMonitor({ dir: dir(), loadConfig: false, metrics: false, logLevel: 'silent', ...options });
  const openai = monitor.instrument(new OpenAI({ apiKey: KEY, baseURL: `${server.url}/v1`, maxRetries: 0 }));
  return { monitor, openai };
}

describe('budgets', () => {
  it('stops an instrumented call before it is sent once an enforced budget is spent', async () => {
    const { monitor, openai } = setup({ budgets: [{ scope: 'user', scopeId: 'u1', limit: 0.012, enforce: true }] });
    const before = server.requests.length;
    const call = () => monitor.withContext({ userId: 'u1' }, () => openai.chat.completions.create(ask));
    await call();
    await call();
    const used = monitor.usageSummary('openai').costUsd;
    expect(used).toBeGreaterThan(0.011);
    let error: unknown;
    try {
      await call();
    } catch (e) {
      error = e;
    }
    expect(isBudgetExceededError(error)).toBe(true);
    expect(error).toMatchObject({
      budget: { scope: 'user', scopeId: 'u1', window: 'monthly', unit: 'usd' },
      limit: 0.012,
      provider: 'openai',
    });
    expect((error as { used: number }).used).toBeCloseTo(used, 12);
    // At some 92% the budget is not spent: the call's estimate does not fit, and the message says so.
    expect(String(error)).toMatch(
      /budget of user u1 has no room for the openai gpt-4o call: \$0\.01\d+ used, plus its estimate of \$0\.00\d+, would take it past its limit of \$0\.0120; the openai gpt-4o call was not sent/,
    );
    // Two requests reached the server; the third never left the process.
    expect(server.requests.length - before).toBe(2);
    // Other users are not affected.
    await expect(monitor.withContext({ userId: 'u2' }, () => openai.chat.completions.create(ask))).resolves.toBeDefined();
    await monitor.close();
  });

  it('lets eight concurrent callers spend no more than the budget: calls in flight hold their estimate', async () => {
    const { monitor, openai } = setup({ budgets: [{ scope: 'api_key', scopeId: '*', limit: 0.02, enforce: true }] });
    const before = server.requests.length;
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => openai.chat.completions.create({ ...ask, max_tokens: 500 })));
    const sent = results.filter((r) => r.status === 'fulfilled').length;
    const blocked = results.filter((r) => r.status === 'rejected' && isBudgetExceededError(r.reason)).length;
    expect(sent + blocked).toBe(8);
    expect(server.requests.length - before).toBe(sent);
    // Each holds about $0.005 (500 output tokens at $10/M): at most four fit in $0.02.
    expect(sent).toBeGreaterThanOrEqual(1);
    expect(sent).toBeLessThanOrEqual(4);
    expect(monitor.usageSummary('openai').costUsd).toBeLessThanOrEqual(0.02 + 0.0057);
    // Every hold was given back.
    expect(monitor.budgetStatus()[0]?.reserved).toBe(0);
    await monitor.close();
  });

  it('gives back the hold of a stream dropped unread or read partway, and records the call as abandoned', async () => {
    const { monitor, openai } = setup({ budgets: [{ scope: 'api_key', scopeId: '*', limit: 1, enforce: true }] });
    // The caller gets the stream and lets go of it without reading it.
    await (async () => {
      await openai.chat.completions.create({ ...ask, stream: true });
    })();
    expect(monitor.budgetStatus()[0]?.reserved).toBeGreaterThan(0);
    expect(monitor.usageSummary('openai').requests).toBe(0);
    await collectUntil(() => monitor.budgetStatus()[0]?.reserved === 0);
    expect(monitor.budgetStatus()[0]?.reserved).toBe(0);
    const [rec] = await monitor.records();
    expect(rec?.metadata).toMatchObject({ usage: 'missing', partial: true });
    expect(rec?.totalTokens).toBeNull();
    // A stream being read is not taken for a dropped one, even when the stream object itself goes.
    const iterator = (await openai.chat.completions.create({ ...ask, stream: true }))[Symbol.asyncIterator]();
    await iterator.next();
    await collectUntil(() => false, 5);
    while (!(await iterator.next()).done) {
      // read to the end
    }
    const recs = await monitor.records();
    expect(recs).toHaveLength(2);
    expect(recs[0]?.metadata).toBeNull();
    expect(recs[0]?.totalTokens).toBeGreaterThan(0);
    expect(monitor.budgetStatus()[0]?.reserved).toBe(0);
    // One read partway, then let go of (iterator and stream): recorded once both are collected,
    // as abandoned, with the model its first chunk named, and its hold given back.
    await (async () => {
      const partway = (await openai.chat.completions.create({ ...ask, stream: true }))[Symbol.asyncIterator]();
      await partway.next();
    })();
    expect(monitor.budgetStatus()[0]?.reserved).toBeGreaterThan(0);
    await collectUntil(() => monitor.usageSummary('openai').requests === 3);
    const [dropped] = await monitor.records();
    expect(dropped?.metadata).toMatchObject({ usage: 'missing', partial: true });
    expect(dropped?.model).toBe(recs[0]?.model);
    expect(monitor.budgetStatus()[0]?.reserved).toBe(0);
    await monitor.close();
  });

  it('announces each threshold once per window: event, record() result and alerts()', async () => {
    const monitor = new TokenMonitor({ dir: dir(), loadConfig: false, metrics: false, logLevel: 'silent' });
    monitor.setLimit('openai', 'monthly_limit', 10, { warningThreshold: 0.9 });
    monitor.setLimit('openai', 'max_plan_tokens', 1_000_000);
    const events: Alert[] = [];
    monitor.on('alert', (a) => events.push(a));
    const results = [];
    for (let i = 0; i < 5; i++)
      results.push(monitor.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 0, outputTokens: 0, costUsd: 2.3 }));
    // $2.30 a call against $10: 92% (past 0.9) after four, 115% (past 95% and 100%) after five.
    expect(results.map((r) => r.alerts.map((a) => a.level))).toEqual([[], [], [], ['warning'], ['critical', 'exceeded']]);
    expect(events.map((e) => [e.level, e.budget.scope, e.budget.scopeId, e.budget.unit, e.threshold])).toEqual([
      ['warning', 'provider', 'openai', 'usd', 0.9],
      ['critical', 'provider', 'openai', 'usd', 0.95],
      ['exceeded', 'provider', 'openai', 'usd', 1],
    ]);
    expect(events[2]?.message).toMatch(/monthly usd budget of provider openai exceeded: \$11\.5000 of \$10\.0000 used \(115%\)/);
    // The history, newest first, as the ledger keeps it: each alert as it was raised.
    expect(await monitor.alerts()).toEqual([...events].reverse());
    expect(await monitor.alerts({ limit: 1 })).toEqual([events[2]]);
    const status = monitor.status();
    expect(status.map((s) => [s.limitType, s.level, s.percentUsed])).toEqual([
      ['monthly_limit', 'exceeded', 115],
      ['max_plan_tokens', 'ok', 0],
    ]);
    expect(status[0]?.resetsAt).toMatch(/^\d{4}-\d{2}-01T00:00:00.000Z$/);
    expect(() => monitor.setLimit('openai', 'weekly_limit' as never, 5)).toThrow(/Invalid limit_type: "weekly_limit"/);
    expect(() => monitor.setLimit('openai', 'monthly_limit', -5)).toThrow(/Invalid value: -5/);
    await monitor.close();
  });

  it('remembers the window after a restart, from the ledger, without alerting again', async () => {
    const d = dir();
    writeFileSync(
      join(d, 'config.json'),
      JSON.stringify({ subscription_limits: { openai: { monthly_limit: 10, warning_threshold: 0.5 } } }),
    );
    const a = new TokenMonitor({ dir: d, metrics: false, logLevel: 'silent' });
    expect(a.record({ provider: 'openai', model: 'gpt-4o', costUsd: 6 }).alerts.map((x) => x.level)).toEqual(['warning']);
    await a.close();
    const b = new TokenMonitor({ dir: d, metrics: false, logLevel: 'silent' });
    expect(b.status()[0]).toMatchObject({ scope: 'provider', scopeId: 'openai', used: 6, level: 'warning', warningThreshold: 0.5 });
    // The warning was given before the restart; the next crossing is critical.
    expect(b.record({ provider: 'openai', model: 'gpt-4o', costUsd: 1 }).alerts).toEqual([]);
    expect(b.record({ provider: 'openai', model: 'gpt-4o', costUsd: 3 }).alerts.map((x) => x.level)).toEqual(['critical', 'exceeded']);
    await b.close();
  });

  it('counts the first record of a user new to a per-user budget once, with the ledger on', async () => {
    const monitor = new TokenMonitor({ dir: dir(), metrics: false, logLevel: 'silent', loadConfig: false });
    monitor.setBudget({ scope: 'user', scopeId: '*', limit: 1000, unit: 'tokens' });
    const call = { provider: 'openai', model: 'gpt-4o', inputTokens: 100, outputTokens: 0, userId: 'ann' };
    monitor.record(call);
    expect(monitor.budgetStatus()[0]).toMatchObject({ scopeId: 'ann', used: 100 });
    monitor.record(call);
    expect(monitor.budgetStatus()[0]?.used).toBe(200);
    await monitor.close();
  });

  it("seeds a budget from the ledger and the records still queued for it, off record()'s path and writing nothing", async () => {
    const d = dir();
    const monitor = new TokenMonitor({ dir: d, metrics: false, logLevel: 'silent', loadConfig: false });
    const call = { provider: 'openai', model: 'gpt-4o', inputTokens: 100, outputTokens: 0, userId: 'ann' };
    monitor.record(call);
    await monitor.flush();
    monitor.record({ ...call, inputTokens: 20 });
    monitor.record({ ...call, inputTokens: 3 });
    // Another process holds the write lock: a write tried inside record() would wait for it and fail.
    const other = new Database(join(d, 'ledger.db'));
    other.exec('BEGIN IMMEDIATE');
    try {
      // A per-user budget added now is seeded at ann's next record: 100 written, 23 queued, 4 new.
      monitor.setBudget({ scope: 'user', scopeId: '*', limit: 1000, unit: 'tokens' });
      monitor.record({ ...call, inputTokens: 4 });
      // Seeded off record()'s path: the record that made ann's state counts at once, the ledger's
      // part once read (beside the writer, a moment later), each record once.
      expect(monitor.budgetStatus()[0]).toMatchObject({ scopeId: 'ann', used: 4 });
      await new Promise((resolve) => setImmediate(resolve));
      expect(monitor.budgetStatus()[0]).toMatchObject({ scopeId: 'ann', used: 127 });
      expect(monitor.health().ledger).toMatchObject({ pending: 3, written: 1, lastError: undefined });
    } finally {
      other.exec('COMMIT');
      other.close();
    }
    await monitor.flush();
    expect(monitor.health().ledger).toMatchObject({ ok: true, pending: 0, written: 4 });
    expect(monitor.budgetStatus()[0]?.used).toBe(127);
    await monitor.close();
  });

  it('seeds a budget without record() waiting for a batch the writer thread cannot write yet; each record counted once', async () => {
    const d = dir();
    const monitor = new TokenMonitor({ dir: d, metrics: false, logLevel: 'silent', loadConfig: false });
    const call = { provider: 'openai', model: 'gpt-4o', inputTokens: 1, outputTokens: 0, userId: 'ann' };
    monitor.record(call);
    await monitor.flush();
    const other = new Database(join(d, 'ledger.db'));
    other.exec('BEGIN IMMEDIATE');
    try {
      // 1,000 records: a batch goes to the writer thread, which waits for the lock (10 s busy timeout).
      for (let i = 0; i < 1000; i++) monitor.record(call);
      monitor.setBudget({ scope: 'user', scopeId: '*', limit: 100_000, unit: 'tokens' });
      monitor.record(call);
      // The seed waits for that batch, off record()'s path: meanwhile the state counts what comes.
      await new Promise((resolve) => setImmediate(resolve));
      expect(monitor.budgetStatus()[0]).toMatchObject({ scopeId: 'ann', used: 1 });
      // record() did not wait for the locked write: the batch is still in flight, not failed.
      expect(monitor.health().ledger).toMatchObject({ written: 1, lastError: undefined });
    } finally {
      other.exec('COMMIT');
      other.close();
    }
    await monitor.flush();
    expect(monitor.budgetStatus()[0]).toMatchObject({ scopeId: 'ann', used: 1002 });
    expect(monitor.health().ledger).toMatchObject({ ok: true, pending: 0, written: 1002 });
    await monitor.close();
  });

  it("seeds a user first seen after a restart off record()'s path: alerted, then blocked, once the ledger is read", async () => {
    const d = dir();
    const perUser = { scope: 'user', scopeId: '*', limit: 0.01, enforce: true, thresholds: { warning: 0.5, critical: 0.9 } } as const;
    const call = { provider: 'openai', model: 'gpt-4o' };
    const a = new TokenMonitor({ dir: d, metrics: false, logLevel: 'silent', loadConfig: false });
    a.setBudget(perUser);
    // Before the restart: ann at 60% (warned there), bob past the limit.
    expect(a.record({ ...call, costUsd: 0.006, userId: 'ann' }).alerts.map((x) => x.level)).toEqual(['warning']);
    a.record({ ...call, costUsd: 0.02, userId: 'bob' });
    await a.close();

    const b = new TokenMonitor({ dir: d, metrics: false, logLevel: 'silent', loadConfig: false });
    b.setBudget(perUser);
    const heard: string[] = [];
    b.on('alert', (x) => heard.push(`${x.budget.scopeId}:${x.level}`));
    // ann's first record here: her state is made inside record(), which reads nothing; the record
    // counts at once and the ledger's part arrives a moment later. Meanwhile enforcement knows
    // only what this process counted: a call that fits that is let through (its hold counts).
    const r = b.record({ ...call, costUsd: 0.003, userId: 'ann' });
    expect(r.alerts).toEqual([]);
    expect(b.budgetStatus()[0]).toMatchObject({ scopeId: 'ann', used: 0.003 });
    const small = { model: 'gpt-4o', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] };
    b.settle(b.admit('openai', small, { userId: 'ann' }, undefined));
    await b.flush();
    // Seeded: 0.009 of 0.01, each record once. The warning was given before the restart; the
    // critical crossing this record made with the ledger's part is announced now, once.
    expect(b.budgetStatus()[0]?.used).toBeCloseTo(0.009, 12);
    expect(heard).toEqual(['ann:critical']);
    // The history survives the restart: the ledger kept what the first process raised, newest first.
    expect((await b.alerts()).map((x) => `${x.budget.scopeId}:${x.level}`)).toEqual([
      'ann:critical',
      'bob:exceeded',
      'bob:critical',
      'bob:warning',
      'ann:warning',
    ]);
    // And enforced: ann's next call does not fit.
    const ask500 = { ...small, max_tokens: 500 };
    expect(() => b.admit('openai', ask500, { userId: 'ann' }, undefined)).toThrow(/budget of user ann/);
    // A user first seen by an enforcement check is seeded before it decides (SQLite answers at once).
    expect(() => b.admit('openai', small, { userId: 'bob' }, undefined)).toThrow(/budget of user bob/);
    await b.close();
  });

  it('seeds a team of users and keys after a restart counting each record once', async () => {
    const d = dir();
    const team = {
      scope: 'team',
      scopeId: 'search',
      members: { userIds: ['ann', 'bob'], apiKeyIds: ['k-shared'] },
      limit: 100_000,
      unit: 'tokens',
    } as const;
    const a = new TokenMonitor({ dir: d, metrics: false, logLevel: 'silent', loadConfig: false });
    a.setBudget(team);
    const call = { provider: 'openai', model: 'gpt-4o', inputTokens: 1000, outputTokens: 0 };
    a.record({ ...call, userId: 'ann', apiKeyId: 'k-shared' }); // a member user with a member key: once
    a.record({ ...call, userId: 'bob' }); // a member user, no key
    a.record({ ...call, userId: 'cy', apiKeyId: 'k-shared' }); // an outsider with a member key
    a.record({ ...call, apiKeyId: 'k-shared' }); // nobody, with a member key
    a.record({ ...call, userId: 'cy', apiKeyId: 'k-other' }); // not the team's
    expect(a.budgetStatus()[0]?.used).toBe(4000);
    await a.close();
    const b = new TokenMonitor({ dir: d, metrics: false, logLevel: 'silent', loadConfig: false });
    b.setBudget(team);
    expect(b.budgetStatus()[0]?.used).toBe(4000);
    await b.close();
  });

  it('gives a run its own budget, tags its calls, and reports it', async () => {
    const { monitor, openai } = setup();
    const run = monitor.session({ budgetUsd: 0.006, enforce: true });
    await run.run(() => openai.chat.completions.create(ask));
    await expect(run.run(() => openai.chat.completions.create(ask))).rejects.toThrow(/budget of run run-/);
    // Outside the run, no run budget applies.
    await openai.chat.completions.create(ask);
    // The blocked call used nothing and is not recorded; the run's one call carries its id.
    const recs = await monitor.records();
    expect(recs.map((r) => r.metadata?.run_id ?? null)).toEqual([null, run.id]);
    // The run's statistics cover its own calls, not the one made beside it.
    const stats = await run.stats();
    expect(stats.calls).toBe(1);
    expect(stats.budget?.usedUsd).toBeCloseTo(recs[1]?.costUsd as number, 12);
    expect((await monitor.records({ runId: run.id })).map((r) => r.metadata?.run_id)).toEqual([run.id]);
    expect((await monitor.summary({ runId: run.id })).total.requests).toBe(1);
    expect(stats.budget?.limitUsd).toBe(0.006);
    // $0.0056 of $0.006: past the 80% warning.
    expect(run.status()[0]).toMatchObject({ scope: 'run', window: 'run', level: 'warning', resetsAt: null });
    run.end();
    expect(monitor.budgetStatus()).toEqual([]);
    await monitor.close();
  });

  it('exports each budget as gauges on /metrics', async () => {
    const monitor = new TokenMonitor({ dir: dir(), loadConfig: false, logLevel: 'silent', metrics: { prometheus: { port: 0 } } });
    monitor.setBudget({
      scope: 'team',
      scopeId: 'search',
      members: { userIds: ['ann'] },
      limit: 50_000,
      unit: 'tokens',
      cycle: { kind: 'daily' },
    });
    monitor.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 1000, outputTokens: 500, userId: 'ann' });
    await monitor.ready();
    const text = await (await fetch(monitor.metricsUrl as string)).text();
    const labels = { scope: 'team', scope_id: 'search', window: 'daily', unit: 'tokens', budget: 'team:search' };
    const series = parseExposition(text);
    const value = (name: string) => series.find((s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels))?.value;
    expect(value('tokenmeter_budget_limit')).toBe(50_000);
    expect(value('tokenmeter_budget_used')).toBe(1500);
    expect(value('tokenmeter_budget_warning_ratio')).toBe(0.8);
    expect(value('tokenmeter_budget_critical_ratio')).toBe(0.95);
    const end = value('tokenmeter_budget_window_end_seconds') as number;
    expect(end % 86_400).toBe(0);
    expect(end * 1000).toBeGreaterThan(Date.now());
    await monitor.close();
  });
});

// The provider's side of test/helpers/enforce-scenario.ts: each call billed what the provider
// would bill it. Text by o200k_base with OpenAI's cookbook framing (3 a message, 3 priming the
// reply); a 1024x1024 image on gpt-4o at detail high is 765 tokens (85 + 170 x 4 tiles, OpenAI's
// worked example, https://platform.openai.com/docs/guides/images-vision#calculating-costs), a
// 1000x1000 one on Claude 1,334 (https://docs.anthropic.com/en/docs/build-with-claude/vision);
// every answer uses its whole max_tokens, the most a call can be billed.
const o200k = new Tiktoken(o200k_base);
const count = (s: string) => o200k.encode(s, [], []).length;
type Part = { type: string; text?: string };
function billed(req: ReceivedRequest): Reply {
  const body = req.body as { max_tokens: number; messages: { role: string; content: string | Part[] }[] };
  const partTokens = (content: string | Part[], image: number) =>
    typeof content === 'string' ? count(content) : content.reduce((n, p) => n + (p.type === 'text' ? count(p.text ?? '') : image), 0);
  if (req.path.endsWith('/chat/completions')) {
    const input = body.messages.reduce((n, m) => n + 3 + count(m.role) + partTokens(m.content, 765), 3);
    return {
      json: {
        ...fixtureJson<object>('openai-chat-cached.json'),
        usage: { prompt_tokens: input, completion_tokens: body.max_tokens, total_tokens: input + body.max_tokens },
      },
    };
  }
  const input = body.messages.reduce((n, m) => n + partTokens(m.content, 1334), 0);
  return {
    json: { ...fixtureJson<object>('anthropic-message-cache.json'), usage: { input_tokens: input, output_tokens: body.max_tokens } },
  };
}

describe('enforced budgets with input the old estimate missed (Chinese, Japanese, inline images)', () => {
  let provider: ReplayServer;
  beforeAll(async () => {
    provider = await replayServer(billed);
  });
  afterAll(async () => {
    await provider.close();
  });

  // README (Budgets and alerts): calls that set max_tokens and whose input the hold does not
  // underestimate never take spending past the limit, in one process, however many are in flight.
  const withinLimit = (o: Outcome) => {
    expect(o.sent).toBeGreaterThanOrEqual(4);
    expect(o.blocked).toBeGreaterThanOrEqual(1);
    expect(o.usedUsd).toBeLessThanOrEqual(o.limitUsd);
    // Not so conservative that the budget goes mostly unused.
    expect(o.usedUsd).toBeGreaterThan(o.limitUsd * 0.5);
    expect(o.reserved).toBe(0);
  };

  it('stays within the limit with js-tiktoken loaded (texts seen before counted exactly)', async () => {
    const o = await overspend(provider.url, { awaitTokenizer: true });
    expect(o.tokenizer).toBe(true);
    expect(o.limitUsd).toBe(LIMIT_USD);
    withinLimit(o);
  });

  it('stays within the limit without js-tiktoken (the script estimate alone)', async () => {
    const root = join(import.meta.dirname, '..');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', './test/helpers/hide-tiktoken.ts', './test/helpers/enforce-scenario.ts', provider.url],
      { cwd: root, timeout: 60_000 },
    );
    const o = JSON.parse(stdout) as Outcome;
    expect(o.tokenizer).toBe(false);
    withinLimit(o);
  }, 90_000);
});
