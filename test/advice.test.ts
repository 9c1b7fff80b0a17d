import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../src/cli/index.ts';
import { type AdviceItem, TokenMonitor, type UsageInput } from '../src/index.ts';
import { usd } from '../src/reports/format.ts';
import { startApiServer } from '../src/server/api.ts';
import { launchBrowser } from './helpers/page.ts';

const DAY = 86_400_000;
const HOUR = 3_600_000;

/**
 * The prices of the test, USD per 1M tokens, given to the monitor so that the hand arithmetic
 * below does not move when the bundled price data is refreshed (these are the list prices).
 */
const PRICES = {
  'gpt-4o': { input: 2.5, cachedInput: 1.25, output: 10 },
  'gpt-4o-mini': { input: 0.15, cachedInput: 0.075, output: 0.6 },
  'gpt-5-nano': { input: 0.05, cachedInput: 0.005, output: 0.4 },
  'claude-haiku-4-5': { input: 1, cachedInput: 0.1, cacheWrite: 1.25, output: 5 },
  'mistral-large-latest': { input: 2, output: 6 },
};

const dirs: string[] = [];
const monitors: TokenMonitor[] = [];
afterEach(async () => {
  for (const m of monitors.splice(0)) await m.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function monitor(): { m: TokenMonitor; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tm-advice-'));
  dirs.push(dir);
  const m = new TokenMonitor({ dir, metrics: false, loadConfig: false, prices: PRICES });
  monitors.push(m);
  return { m, dir };
}

/** Ten calls a day for 30 days, one an hour from the day's start: traffic a person waits on. */
function spread(now: number, call: (d: number, j: number) => Partial<UsageInput>, base: Omit<UsageInput, 'timestamp'>): UsageInput[] {
  const out: UsageInput[] = [];
  for (let d = 0; d < 30; d++)
    for (let j = 0; j < 10; j++)
      out.push({ ...base, threadId: `t-${base.operation}-${d}-${j}`, timestamp: now - (d + 0.5) * DAY + j * HOUR, ...call(d, j) });
  return out;
}

/** A month with one kind of waste per model and operation, each alone on it. */
function wasteful(now: number): UsageInput[] {
  const calls: UsageInput[] = [];
  // 1. Caching unused: 6,000-token prompts to gpt-4o-mini, nothing cached.
  calls.push(
    ...spread(now, () => ({}), {
      provider: 'openai',
      model: 'gpt-4o-mini',
      operation: 'extract_nodes',
      agent: 'extractor',
      inputTokens: 6000,
      outputTokens: 100,
    }),
  );
  // 2. Cache writes never read: 4,500 of 5,000 tokens written each call, none read.
  calls.push(
    ...spread(now, () => ({}), {
      provider: 'anthropic',
      model: 'claude-haiku-4-5',
      operation: 'summarize_thread',
      agent: 'summarizer',
      inputTokens: 5000,
      cacheWriteTokens: 4500,
      cachedInputTokens: 0,
      outputTokens: 100,
    }),
  );
  // 3. A dear model: gpt-4o for short chats (800 tokens in: below the caching minimum).
  calls.push(
    ...spread(now, () => ({}), {
      provider: 'openai',
      model: 'gpt-4o',
      operation: 'chat',
      agent: 'assistant',
      inputTokens: 800,
      outputTokens: 150,
    }),
  );
  // 4. Prompt-size outliers: 285 calls of 900 to 980 tokens, 15 of 20,000.
  calls.push(
    ...spread(now, (d, j) => ({ inputTokens: d * 10 + j < 15 ? 20_000 : 900 + ((d * 10 + j) % 5) * 20 }), {
      provider: 'mistral',
      model: 'mistral-large-latest',
      operation: 'answer_question',
      agent: 'qa',
      outputTokens: 50,
    }),
  );
  // 5. Failures: on 15 days the first call failed after its prompt was billed, and was retried 10 s later, failing again.
  const classify = { provider: 'mistral', model: 'mistral-large-latest', operation: 'classify', agent: 'router', inputTokens: 500 };
  calls.push(
    ...spread(now, (d, j) => (d < 15 && j === 0 ? { error: true, errorType: 'timeout', outputTokens: 0 } : { outputTokens: 20 }), classify),
  );
  for (let d = 0; d < 15; d++)
    calls.push({
      ...classify,
      threadId: `t-classify-${d}-0`,
      timestamp: now - (d + 0.5) * DAY + 10_000,
      error: true,
      errorType: 'timeout',
      outputTokens: 0,
    });
  // 6. Reasoning: 270 calls think 2,000 tokens, 30 think 20,000.
  calls.push(
    ...spread(
      now,
      (_d, j) => {
        const reasoning = j === 9 ? 20_000 : 2000;
        return { reasoningTokens: reasoning, outputTokens: reasoning + 100 };
      },
      { provider: 'openai', model: 'gpt-5-nano', operation: 'plan', agent: 'planner', inputTokens: 500 },
    ),
  );
  // 7. Bulk work: 100 calls in one hour each night, 30 nights.
  for (let d = 0; d < 30; d++) {
    const hour = Math.floor((now - (d + 0.5) * DAY) / HOUR) * HOUR;
    for (let i = 0; i < 100; i++)
      calls.push({
        provider: 'anthropic',
        model: 'claude-haiku-4-5',
        operation: 'nightly_digest',
        agent: 'digest-job',
        inputTokens: 2000,
        outputTokens: 300,
        timestamp: hour + i * 10_000,
      });
  }
  return calls;
}

function only(items: AdviceItem[], kind: AdviceItem['kind']): AdviceItem {
  const found = items.filter((i) => i.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0] as AdviceItem;
}

describe('advice from a generated ledger', () => {
  it('finds each kind of waste, exactly, with the dollars worked out by hand', async () => {
    const now = Date.now();
    const { m } = monitor();
    for (const c of wasteful(now)) m.record(c);
    await m.flush();
    const a = await m.advise({ minUsd: 0.01 });
    expect(a.thin).toBeNull();
    expect(a.calls).toBe(6 * 300 + 15 + 3000);
    expect(a.scanned.complete).toBe(true);
    // One item per waste, nothing else.
    expect(a.items.map((i) => `${i.kind} ${i.where.model}/${i.where.operation}`).sort()).toEqual([
      'batch claude-haiku-4-5/nightly_digest',
      'cache-writes-unread claude-haiku-4-5/summarize_thread',
      'cheaper-model gpt-4o/chat',
      'failures mistral-large-latest/classify',
      'prompt-caching gpt-4o-mini/extract_nodes',
      'prompt-size-outliers mistral-large-latest/answer_question',
      'reasoning-ceiling gpt-5-nano/plan',
    ]);
    // Sorted by dollars.
    expect(a.items.map((i) => i.usd)).toEqual([...a.items.map((i) => i.usd)].sort((x, y) => y - x));

    // 1. 300 calls × 6,000 uncached tokens, half assumed cacheable, at $0.15 − $0.075 per 1M: $0.0675.
    const caching = only(a.items, 'prompt-caching');
    expect(caching.usd).toBeCloseTo((0.5 * 300 * 6000 * (0.15 - 0.075)) / 1e6, 9);
    expect(caching.evidence).toMatchObject({ calls: 300, cachedShare: 0, cachingMinimumTokens: 1024, meanInputTokens: 6000 });
    expect(caching.estimate).toBe(true);
    expect(caching.where.agents).toEqual(['extractor']);
    // Uniform over 30 days: the last week's rate, per 30 days, is the month's.
    expect(caching.usdPerMonth).toBeCloseTo(caching.usd, 6);

    // 2. 300 × 4,500 written at $1.25 instead of $1: $0.3375 of premium, no reads to set against it.
    const writes = only(a.items, 'cache-writes-unread');
    expect(writes.usd).toBeCloseTo((300 * 4500 * (1.25 - 1)) / 1e6, 9);
    expect(writes.evidence).toMatchObject({ cacheWriteTokens: 1_350_000, cacheReadTokens: 0, readsPerWrite: 0 });

    // 3. gpt-4o: 300 × (800 × $2.5 + 150 × $10) / 1M = $1.05; gpt-4o-mini: 300 × (800 × $0.15 + 150 × $0.6) / 1M = $0.063.
    const cheaper = only(a.items, 'cheaper-model');
    expect(cheaper.evidence.currentUsd).toBeCloseTo(1.05, 9);
    expect(cheaper.evidence.alternatives).toEqual([{ model: 'gpt-4o-mini', usd: 0.063 }]);
    expect(cheaper.usd).toBeCloseTo(1.05 - 0.063, 9);
    expect(cheaper.estimate).toBe(true);
    expect(cheaper.summary).toMatch(/estimate .* ignores quality/);

    // 4. Median 940, MAD 20: outliers from max(940 + 3.5/0.6745 × 20, 2 × 940) = 1,880 tokens; the
    // 15 calls' input above the median: 15 × 19,060 tokens × $2 / 1M = $0.5718.
    const outliers = only(a.items, 'prompt-size-outliers');
    expect(outliers.evidence).toMatchObject({ medianInputTokens: 940, madInputTokens: 20, outlierCalls: 15, outlierFromInputTokens: 1880 });
    expect(outliers.usd).toBeCloseTo((15 * 19_060 * 2) / 1e6, 9);
    // Their whole cost: 15 × (20,000 × $2 + 50 × $6) / 1M.
    expect(outliers.evidence.outlierCostUsd).toBeCloseTo((15 * (20_000 * 2 + 50 * 6)) / 1e6, 9);
    expect(outliers.examples).toHaveLength(5);
    for (const e of outliers.examples ?? []) {
      expect(e.inputTokens).toBe(20_000);
      expect(typeof e.id).toBe('number');
    }
    // The ids are the ledger's: the records route finds them.
    const ids = new Set((await m.records({ limit: 10_000 })).map((r) => (r as { id?: number }).id));
    for (const e of outliers.examples ?? []) expect(ids.has(e.id as number)).toBe(true);

    // 5. 30 failed calls, each billed for its 500-token prompt at $2 / 1M: $0.03; 15 bursts of two.
    const failed = only(a.items, 'failures');
    expect(failed.usd).toBeCloseTo((30 * 500 * 2) / 1e6, 9);
    expect(failed.evidence).toMatchObject({ failedCalls: 30, billedFailedCalls: 30, retryBursts: 15, largestBurst: 2 });
    expect(failed.evidence.errorTypes).toBe('timeout (30)');

    // 6. Reasoning is (270 × 2,000 + 30 × 20,000) × $0.4 of 300 × 500 × $0.05 + (1,140,000 + 30,000) × $0.4;
    // the 90th percentile is 2,000, so a ceiling there cuts 30 × 18,000 tokens × $0.4 / 1M = $0.216.
    const reasoning = only(a.items, 'reasoning-ceiling');
    expect(reasoning.evidence.shareOfCost).toBeCloseTo((1_140_000 * 0.4) / (300 * 500 * 0.05 + 1_170_000 * 0.4), 4);
    expect(reasoning.evidence).toMatchObject({ ceilingTokens: 2000, maxTokens: 20_000, callsAboveCeiling: 30 });
    expect(reasoning.usd).toBeCloseTo((30 * 18_000 * 0.4) / 1e6, 9);

    // 7. 3,000 calls × (2,000 × $1 + 300 × $5) / 1M = $10.5, half of it at batch prices.
    const bulk = only(a.items, 'batch');
    expect(bulk.evidence.currentUsd).toBeCloseTo(10.5, 9);
    expect(bulk.usd).toBeCloseTo(5.25, 9);
    expect(bulk.evidence).toMatchObject({ busyHours: 24, callsPerBusyHour: 100 });
    expect(bulk.source).toMatch(/^https:\/\/platform\.claude\.com\//);
    expect(bulk.usdPerMonth).toBeCloseTo(5.25, 6);
  });

  it('leaves out items under the threshold, and says how many', async () => {
    const now = Date.now();
    const { m } = monitor();
    for (const c of wasteful(now)) m.record(c);
    await m.flush();
    const a = await m.advise({ minUsd: 0.5 });
    // Over $0.50: batch $5.25, cheaper model $0.987, outliers $0.5718.
    expect(a.items.map((i) => i.kind)).toEqual(['batch', 'cheaper-model', 'prompt-size-outliers']);
    expect(a.omitted.items).toBe(4);
    expect(a.omitted.usd).toBeCloseTo(0.0675 + 0.3375 + 0.03 + 0.216, 6);
  });

  it('gives no advice for a ledger without waste', async () => {
    const now = Date.now();
    const { m } = monitor();
    // The cheapest tier of each family, prompts under the caching minimum, sizes that do not stray, no failures, traffic spread out.
    const calls = [
      ...spread(now, () => ({}), {
        provider: 'openai',
        model: 'gpt-4o-mini',
        operation: 'chat',
        agent: 'assistant',
        inputTokens: 700,
        outputTokens: 120,
      }),
      ...spread(now, (d, j) => ({ inputTokens: 1500 + ((d + j) % 7) * 10 }), {
        provider: 'anthropic',
        model: 'claude-haiku-4-5',
        operation: 'extract',
        agent: 'extractor',
        outputTokens: 80,
      }),
    ];
    for (const c of calls) m.record(c);
    await m.flush();
    const a = await m.advise({ minUsd: 0 });
    expect(a.thin).toBeNull();
    expect(a.calls).toBe(600);
    expect(a.items).toEqual([]);
    expect(a.omitted.items).toBe(0);
  });

  it('says the data is too thin instead of guessing', async () => {
    const now = Date.now();
    const { m } = monitor();
    // 50 of the wasteful calls: the same kinds of waste, too few calls to judge.
    for (const c of wasteful(now)
      .filter((c) => c.operation === 'extract_nodes')
      .slice(0, 50))
      m.record(c);
    await m.flush();
    const a = await m.advise({ minUsd: 0 });
    expect(a.calls).toBe(50);
    expect(a.items).toEqual([]);
    expect(a.thin).toMatch(/^50 calls in the range: too few to advise on \(at least 100 needed\)/);
    // A group under minGroupCalls is not judged, and counted as such.
    const b = await m.advise({ minUsd: 0, minCalls: 10, minGroupCalls: 60 });
    expect(b.thin).toBeNull();
    expect(b.items).toEqual([]);
    expect(b.notJudged).toEqual({ groups: 1, calls: 50 });
  });

  it('is the same through tokenmeter advise --json and GET /v1/advice, and the text names the items', async () => {
    const now = Date.now();
    const { m, dir } = monitor();
    for (const c of wasteful(now)) m.record(c);
    await m.flush();
    const server = await startApiServer(m, { port: 0 });
    try {
      const res = await fetch(`${server.url}/v1/advice?min_usd=0.5`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { items: AdviceItem[] };
      expect(body.items.map((i) => i.kind)).toEqual(['batch', 'cheaper-model', 'prompt-size-outliers']);
      const bad = await fetch(`${server.url}/v1/advice?min_usd=-1`);
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/min_usd/);
    } finally {
      await server.close();
    }
    await m.close();
    // The CLI prices with the dir's config.json; here the list prices are the bundled ones, and the test's overrides are not there.
    const lines: string[] = [];
    expect(await main(['advise', '--dir', dir, '--json', '--min-usd', '0.01'], (s) => lines.push(s))).toBe(0);
    const cli = JSON.parse(lines.join('\n')) as { items: AdviceItem[]; calls: number };
    expect(cli.calls).toBe(4815);
    expect(cli.items.map((i) => i.kind)).toContain('batch');
    const text: string[] = [];
    expect(await main(['advise', '--dir', dir, '--min-usd', '0.5'], (s) => text.push(s))).toBe(0);
    const out = text.join('\n');
    expect(out).toMatch(/^Advice from .* 4,815 calls/);
    expect(out).toMatch(
      /1\. \$5\.2500 over the range, \$5\.2500 a month at the current rate\n {3}Batch processing for bulk work: anthropic claude-haiku-4-5, operation nightly_digest, agent digest-job/,
    );
    expect(out).toMatch(/Examples \(record ids\): \d+ \(20,000 in/);
  });

  it('is on the built-in page: each item the API gives, its dollars, where and what to do', async () => {
    const now = Date.now();
    const { m } = monitor();
    for (const c of wasteful(now)) m.record(c);
    await m.flush();
    const server = await startApiServer(m, { port: 0 });
    const browser = await launchBrowser();
    try {
      const res = await fetch(`${server.url}/v1/advice?days=30`);
      const api = (await res.json()) as { items: AdviceItem[]; calls: number; omitted: { items: number } };
      expect(api.items.length).toBeGreaterThanOrEqual(1);
      expect(api.omitted.items).toBeGreaterThan(0);
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(e.message));
      await page.goto(server.url);
      await page.waitForSelector('body[data-advice="days=30"]', { timeout: 20_000 });
      const shown = await page
        .locator('#advice tbody tr')
        .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
      const money = (i: AdviceItem, v: number) => `${i.estimate ? '≈ ' : ''}${usd(v)}`;
      expect(shown).toEqual(
        api.items.map((i) => [
          money(i, i.usd),
          money(i, i.usdPerMonth),
          i.title,
          [i.where.provider, i.where.model, i.where.operation, ...i.where.agents.filter((a) => a !== null)].join(' · '),
          `${i.summary} ${i.action}`,
        ]),
      );
      const note = (await page.locator('#advice-note').textContent()) ?? '';
      expect(note).toContain(`From ${api.calls.toLocaleString('en-US')} calls`);
      expect(note).toMatch(new RegExp(`${api.omitted.items} items? under \\$[\\d.,]+ left out`));
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
      await server.close();
    }
  });
});
