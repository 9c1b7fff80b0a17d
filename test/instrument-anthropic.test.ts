import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { TokenMonitor } from '../src/index.ts';
import { fixture, fixtureJson } from './helpers/replay-server.ts';
import { useReplay } from './helpers/use-replay.ts';

const server = useReplay((req) => {
  const body = req.body as { stream?: boolean };
  return body.stream ? { sse: fixture('anthropic-stream.sse') } : { json: fixtureJson('anthropic-message-cache.json') };
});

function setup() {
  const monitor = new TokenMonitor({ loadConfig: false, metrics: { prometheus: false } });
  const make = () => new Anthropic({ apiKey: 'sk-ant-api03-testkeytestkey-wxyz', baseURL: server.url, maxRetries: 0 });
  return { monitor, bare: make(), wrapped: monitor.instrument(make()) };
}

const params = { model: 'claude-sonnet-4-5', max_tokens: 1024, messages: [{ role: 'user' as const, content: 'Hello' }] };

describe('monitor.instrument(new Anthropic())', () => {
  it('meters messages.create with cache writes added to input, and returns the bare response', async () => {
    const { monitor, bare, wrapped } = setup();
    const [a, b] = await Promise.all([bare.messages.create(params), wrapped.messages.create(params)]);
    expect(b).toEqual(a);
    // claude-sonnet-4-5: 21 fresh at $3, 188,086 cache writes at $3.75, 393 output at $15 per 1M
    const s = monitor.usageSummary('anthropic');
    expect(s).toMatchObject({ requests: 1, inputTokens: 188107, outputTokens: 393 });
    expect(s.costUsd).toBeCloseTo((21 * 3 + 188086 * 3.75 + 393 * 15) / 1e6, 12);
    await monitor.close();
  });

  // Each recorded answer through the instrumented client; what the ledger keeps, and the cost.
  it.each([
    {
      name: 'prices one-hour cache writes at their own rate, and keeps them in the ledger',
      file: 'anthropic-message-cache-1h.json',
      kept: { inputTokens: 1500, cacheWriteTokens: 1000, cacheWrite1hTokens: 750 },
      // claude-sonnet-4-5 per 1M: 500 fresh at $3, 250 written for 5 min at $3.75, 750 for 1 h at $6, 200 output at $15
      usd: (500 * 3 + 250 * 3.75 + 750 * 6 + 200 * 15) / 1e6,
    },
    {
      name: 'adds the web searches Anthropic ran for the call, at their price per search, to its token cost',
      file: 'anthropic-message-web-search.json',
      kept: { inputTokens: 6039, outputTokens: 931, webSearches: 1 },
      // 6,039 input at $3 and 931 output at $15 per 1M, and one search at $10 per 1,000
      usd: (6039 * 3 + 931 * 15) / 1e6 + 0.01,
    },
  ])('$name', async ({ file, kept, usd }) => {
    const { monitor, wrapped } = setup();
    server.next = { json: fixtureJson(file) };
    await wrapped.messages.create(params);
    const [record] = await monitor.records({ limit: 1 });
    expect(record).toMatchObject(kept);
    expect(record?.costUsd).toBeCloseTo(usd, 12);
    await monitor.close();
  });

  it('meters a raw stream from its final message_delta totals, events unchanged', async () => {
    const { monitor, bare, wrapped } = setup();
    const read = async (c: Anthropic) => {
      const out: unknown[] = [];
      for await (const e of await c.messages.create({ ...params, stream: true })) out.push(e);
      return out;
    };
    expect(await read(wrapped)).toEqual(await read(bare));
    expect(monitor.usageSummary('anthropic')).toMatchObject({ requests: 1, inputTokens: 25, outputTokens: 15 });
    await monitor.close();
  });

  it('meters the messages.stream() helper once', async () => {
    const { monitor, wrapped } = setup();
    const stream = wrapped.messages.stream(params);
    const text: string[] = [];
    stream.on('text', (t) => text.push(t));
    const final = await stream.finalMessage();
    expect(text.join('')).toBe('Hello!');
    expect(final.usage.output_tokens).toBe(15);
    expect(monitor.usageSummary('anthropic')).toMatchObject({ requests: 1, inputTokens: 25, outputTokens: 15 });
    await monitor.close();
  });

  it('records a 429 and rethrows the SDK error', async () => {
    const { monitor, wrapped } = setup();
    server.next = {
      status: 429,
      json: {
        type: 'error',
        error: { type: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit' },
      },
    };
    await expect(wrapped.messages.create(params)).rejects.toBeInstanceOf(Anthropic.RateLimitError);
    expect(monitor.usageSummary('anthropic')).toMatchObject({ requests: 1, errors: 1 });
    await monitor.close();
  });
});
