import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryLogger, readerFor, sums } from '../../test/helpers/otel.ts';
import { isBudgetExceededError } from '../errors.ts';
import { closeTokenMonitor, getTokenMonitor, track, trackEmbeddingUsage, trackLlmUsage } from '../global.ts';
import { INSTRUMENT } from '../metrics/names.ts';
import { TokenMonitor } from '../monitor.ts';

const monitors: TokenMonitor[] = [];
afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.close()));
  await closeTokenMonitor();
});

/** A monitor with a ledger of its own (budgets start from what their ledger holds). */
function monitor() {
  const log = memoryLogger();
  const dir = mkdtempSync(join(tmpdir(), 'tm-track-'));
  const m = new TokenMonitor({ dir, loadConfig: false, logger: log, metrics: { prometheus: false } });
  monitors.push(m);
  return { m, log, reader: readerFor(m.metricProducer) };
}

// The shape of an OpenAI chat completion, as a function wrapping the SDK would return it.
const completion = (model = 'gpt-4o-mini-2024-07-18') => ({
  object: 'chat.completion',
  model,
  choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 10000, completion_tokens: 1000, total_tokens: 11000, prompt_tokens_details: { cached_tokens: 4000 } },
});

describe('track()', () => {
  it('meters an async function from the response it returns, and returns it unchanged', async () => {
    const { m } = monitor();
    const response = completion();
    const ask = m.track(async (_req: { model: string }) => response, { provider: 'openai', operation: 'classify' });
    expect(await ask({ model: 'gpt-4o-mini' })).toBe(response);
    const [s] = m.usageSummary();
    // 6000×0.15 + 4000×0.075 + 1000×0.6 = 1,800 µ$
    expect(s).toMatchObject({
      provider: 'openai',
      requests: 1,
      inputTokens: 10000,
      outputTokens: 1000,
      cachedInputTokens: 4000,
      costUsd: 0.0018,
    });
  });

  it('meters a sync function too', () => {
    const { m } = monitor();
    const ask = m.track((_req: unknown) => completion(), { provider: 'openai' });
    ask({ model: 'gpt-4o-mini' });
    expect(m.usageSummary('openai').requests).toBe(1);
  });

  it('records a failure with its type and rethrows the very same error', async () => {
    const { m, reader } = monitor();
    const boom = Object.assign(new Error('Rate limit reached for sk-proj-abcdefghijklmnop'), { status: 429 });
    const ask = m.track(
      async (_req: unknown) => {
        throw boom;
      },
      { provider: 'openai', model: 'gpt-4o' },
    );
    await expect(ask({ model: 'gpt-4o' })).rejects.toBe(boom);
    expect(m.usageSummary('openai')).toMatchObject({ requests: 1, errors: 1, costUsd: 0 });
    const requests = sums(await reader.metrics(), INSTRUMENT.requests);
    expect(requests.find((p) => p.attributes.status === 'error')?.attributes.model).toBe('gpt-4o');
  });

  it('never lets a tracking failure reach the caller', async () => {
    const { m, log } = monitor();
    // A response whose counts are absurd: tokenmeter rejects the record, not the call.
    const weird = { object: 'chat.completion', model: 'gpt-4o', usage: { prompt_tokens: 1e12, completion_tokens: 1 } };
    const ask = m.track(async () => weird, { provider: 'openai' });
    expect(await ask()).toBe(weird);
    expect(log.lines.some((l) => l.includes('internal error in instrument'))).toBe(true);
  });

  it('keeps `this` and works as a standard method decorator', async () => {
    getTokenMonitor({ loadConfig: false, metrics: { prometheus: false } });
    class Agent {
      prefix = 'model:';
      async plan(_req: { model: string }) {
        return { ...completion(), note: this.prefix };
      }
      async embed(_req: unknown) {
        return { object: 'list', data: [], model: 'text-embedding-3-small', usage: { prompt_tokens: 500000, total_tokens: 500000 } };
      }
    }
    // What the runtime does for `@trackLlmUsage(...)` on a method (decorator syntax itself is
    // compiled and run in test/package.test.ts, since vitest's transform does not take it).
    const ctx = (name: string) => ({ kind: 'method', name }) as ClassMethodDecoratorContext;
    Agent.prototype.plan = trackLlmUsage({ provider: 'openai', operation: 'plan' })(Agent.prototype.plan, ctx('plan'));
    Agent.prototype.embed = trackEmbeddingUsage({ provider: 'openai', model: 'text-embedding-3-small' })(
      Agent.prototype.embed,
      ctx('embed'),
    );
    const a = new Agent();
    expect((await a.plan({ model: 'gpt-4o-mini' })).note).toBe('model:');
    await a.embed({ input: 'x', model: 'text-embedding-3-small' });
    const s = getTokenMonitor().usageSummary('openai');
    expect(s.requests).toBe(2);
    // 0.0018 + 500000×0.02/1e6
    expect(s.costUsd).toBeCloseTo(0.0018 + 0.01, 12);
  });

  it('works as a plain function wrapper', async () => {
    getTokenMonitor({ loadConfig: false, metrics: { prometheus: false } });
    const wrapped = trackLlmUsage({ provider: 'openai' })(async () => completion());
    await wrapped();
    expect(getTokenMonitor().usageSummary('openai').requests).toBe(1);
  });
});

describe('track() and the decorators with an enforced budget', () => {
  /** A monitor whose enforced global budget of $0.01 is spent 35 times over (3,500%). */
  function spent(m: TokenMonitor) {
    m.setBudget({ scope: 'global', limit: 0.01, enforce: true });
    m.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 0, outputTokens: 0, costUsd: 0.35 });
    expect(m.status()[0]).toMatchObject({ level: 'exceeded', percentUsed: 3500 });
  }

  it('refuses the call before the function runs: an async one rejects, a sync one throws', async () => {
    const { m } = monitor();
    spent(m);
    let ran = 0;
    const ask = m.track(
      async (_req: { model: string }) => {
        ran++;
        return completion();
      },
      { provider: 'openai' },
    );
    const pending = ask({ model: 'gpt-4o' });
    await expect(pending).rejects.toSatisfy(isBudgetExceededError);
    await expect(pending).rejects.toMatchObject({ budget: { scope: 'global' }, used: 0.35, limit: 0.01 });
    const askSync = m.track(
      (_req: { model: string }) => {
        ran++;
        return completion();
      },
      { provider: 'openai' },
    );
    expect(() => askSync({ model: 'gpt-4o' })).toThrow(/budget/i);
    // A function given a prompt rather than a request, whose model only the options name.
    const summarize = m.track(
      async (_text: string) => {
        ran++;
        return completion();
      },
      { provider: 'openai', model: 'gpt-4o' },
    );
    await expect(summarize('a long text')).rejects.toSatisfy(isBudgetExceededError);
    // Nor does a call whose model is not known until it answers slip past a spent budget.
    const anyModel = m.track(
      async (_text: string) => {
        ran++;
        return completion();
      },
      { provider: 'openai' },
    );
    await expect(anyModel('hi')).rejects.toSatisfy(isBudgetExceededError);
    expect(ran).toBe(0);
    // Nothing was recorded for the refused calls: nothing was used.
    expect(m.usageSummary('openai').requests).toBe(1);
  });

  it('refuses decorated methods the same way, on the process-wide monitor', async () => {
    spent(getTokenMonitor({ dir: mkdtempSync(join(tmpdir(), 'tm-track-')), loadConfig: false, metrics: { prometheus: false } }));
    let ran = 0;
    class Agent {
      async plan(_req: { model: string }) {
        ran++;
        return completion();
      }
    }
    const ctx = { kind: 'method', name: 'plan' } as ClassMethodDecoratorContext;
    Agent.prototype.plan = trackLlmUsage({ provider: 'openai', model: 'gpt-4o' })(Agent.prototype.plan, ctx);
    await expect(new Agent().plan({ model: 'gpt-4o' })).rejects.toSatisfy(isBudgetExceededError);
    await expect(track(async () => ran++, { provider: 'openai', model: 'gpt-4o' })()).rejects.toSatisfy(isBudgetExceededError);
    expect(ran).toBe(0);
  });

  it('holds the estimate while the call runs and gives it back when it ends, in success or failure', async () => {
    const { m } = monitor();
    m.setBudget({ scope: 'global', limit: 1, enforce: true });
    const held: number[] = [];
    const ok = m.track(
      async (_req: unknown) => {
        held.push(m.status()[0]?.reserved ?? 0);
        return completion('gpt-4o');
      },
      { provider: 'openai' },
    );
    const fail = m.track(
      async (_req: unknown) => {
        held.push(m.status()[0]?.reserved ?? 0);
        throw new Error('upstream 500');
      },
      { provider: 'openai' },
    );
    const body = { model: 'gpt-4o', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] };
    await ok(body);
    expect(m.status()[0]?.reserved).toBe(0);
    await expect(fail(body)).rejects.toThrow('upstream 500');
    expect(m.status()[0]?.reserved).toBe(0);
    // Held during each call: at least 100 output tokens at gpt-4o's $10/M.
    expect(held.every((h) => h >= 0.001)).toBe(true);
    // The successful call's own cost was counted: 10,000 input and 1,000 output tokens of gpt-4o.
    expect(m.status()[0]?.used).toBeGreaterThan(0.02);
  });
});

describe('withContext', () => {
  it('tags every call inside it across awaits, nested contexts merging', async () => {
    const { m } = monitor();
    const records: unknown[] = [];
    await m.withContext({ userId: 'u1', agent: 'planner', metadata: { run: 'r1' } }, async () => {
      await new Promise((r) => setTimeout(r, 5));
      records.push(m.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 1 }).record);
      await m.withContext({ threadId: 't9', agent: 'writer', operation: 'draft', metadata: { step: 2 } }, async () => {
        await Promise.resolve();
        records.push(m.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 1, userId: 'explicit' }).record);
      });
    });
    records.push(m.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 1 }).record);
    expect(records[0]).toMatchObject({ userId: 'u1', agent: 'planner', threadId: null, operation: 'chat', metadata: { run: 'r1' } });
    expect(records[1]).toMatchObject({
      userId: 'explicit',
      agent: 'writer',
      threadId: 't9',
      operation: 'draft',
      metadata: { run: 'r1', step: 2 },
    });
    expect(records[2]).toMatchObject({ userId: null, agent: null, metadata: null });
  });

  it('keeps concurrent contexts apart', async () => {
    const m = new TokenMonitor({ loadConfig: false, metrics: { prometheus: false, labels: { userId: true } } });
    monitors.push(m);
    const reader = readerFor(m.metricProducer);
    const ask = m.track(async (_r: unknown) => completion(), { provider: 'openai' });
    await Promise.all(
      ['a', 'b', 'c'].map((u) =>
        m.withContext({ userId: u }, async () => {
          await new Promise((r) => setTimeout(r, Math.random() * 10));
          await ask({});
        }),
      ),
    );
    const requests = sums(await reader.metrics(), INSTRUMENT.requests);
    expect(requests.map((p) => [p.attributes.user_id, p.value]).sort()).toEqual([
      ['a', 1],
      ['b', 1],
      ['c', 1],
    ]);
  });
});
