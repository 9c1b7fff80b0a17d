import OpenAI from 'openai';
import { describe, expect, it, vi } from 'vitest';
import { TokenMonitor } from '../monitor.ts';
import type { Usage } from '../providers/types.ts';
import { encodingFor, estimateUsage, loadTiktoken, promptOf } from './estimate.ts';
import { PIECE, pieces } from './token-pieces.ts';

// js-tiktoken is an optional peer: here it is not installed (importing it fails).
vi.mock('js-tiktoken/lite', () => {
  throw new Error("Cannot find package 'js-tiktoken' imported from tokenmeter");
});

function chunk(delta: object, finish: string | null): string {
  const c = {
    id: 'c',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, delta, finish_reason: finish }],
  };
  return `data: ${JSON.stringify(c)}\n\n`;
}
const noUsage = [
  chunk({ role: 'assistant', content: '' }, null),
  chunk({ content: 'Hi!' }, null),
  chunk({}, 'stop'),
  'data: [DONE]\n\n',
].join('');

const missing: Usage = { provider: 'openai', model: 'gpt-4o', serviceType: 'llm', operation: 'chat', usageSource: 'missing' };
const words = async () => async (texts: readonly string[]) => texts.map((text) => text.split(/\s+/).filter(Boolean).length);

describe('token estimates', () => {
  it('without js-tiktoken, a stream that ends without usage stays missing', async () => {
    expect(await loadTiktoken('o200k_base')).toBeUndefined();
    const monitor = new TokenMonitor({ loadConfig: false, metrics: { prometheus: false } });
    // Instrumented calls meter (no result built): recorded here as recordUsage would, to read its record.
    const records: unknown[] = [];
    const recordUsage = monitor.recordUsage.bind(monitor);
    const spy = vi.spyOn(monitor, 'meterUsage').mockImplementation((usage, facts) => void records.push(recordUsage(usage, facts)?.record));
    const fetchSse: typeof fetch = async () => new Response(noUsage, { headers: { 'content-type': 'text/event-stream' } });
    const client = monitor.instrument(
      new OpenAI({ apiKey: 'sk-test-00000000', baseURL: 'http://test.invalid/v1', fetch: fetchSse, maxRetries: 0 }),
    );
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hello' }],
      stream: true,
    });
    for await (const _ of stream) {
      // read it all
    }
    await monitor.flush();
    expect(spy).toHaveBeenCalledTimes(1);
    const [record] = records;
    expect(record).toMatchObject({ inputTokens: null, outputTokens: null, metadata: { usage: 'missing' } });
    expect(monitor.usageSummary('openai')).toMatchObject({ requests: 1, unpricedRequests: 1 });
    await monitor.close();
  });

  it('estimateUsage returns the usage unchanged when no tokenizer loads, or when counting fails', async () => {
    const output = { parts: ['Hi'], chars: 2 };
    expect(await estimateUsage(missing, { messages: [] }, output)).toBe(missing);
    const failing = async () => () => {
      throw new Error('boom');
    };
    expect(await estimateUsage(missing, { messages: [{ role: 'user', content: 'x' }] }, output, failing)).toBe(missing);
  });

  it('estimateUsage marks the counts estimated, and extrapolates text past the kept part', async () => {
    const u = await estimateUsage(
      missing,
      { messages: [{ role: 'user', content: 'one two three' }] },
      { parts: ['a b', ' c d'], chars: 7 },
      words,
    );
    // 3 per message + "user" + 3 words + 3 priming; output "a b c d".
    expect(u).toMatchObject({ usageSource: 'estimated', inputTokens: 3 + 1 + 3 + 3, outputTokens: 4, totalTokens: 14 });
    const long = await estimateUsage(missing, undefined, { parts: ['a b c d'], chars: 70 }, words);
    expect(long).toMatchObject({ usageSource: 'estimated', outputTokens: 40 });
    expect(long.inputTokens).toBeUndefined();
  });

  it('cuts long text into pieces of at most PIECE characters, text without spaces (Chinese) too', () => {
    const zh = '本季度公司营业收入同比增长百分之十二，主要来自华东地区的新合同和线上渠道的扩张。'.repeat(2000);
    const cut = [...pieces(zh)];
    expect(cut.join('')).toBe(zh);
    expect(Math.max(...cut.map((p) => p.length))).toBeLessThanOrEqual(PIECE);
    expect(PIECE).toBeLessThanOrEqual(2048);
  });

  it('picks o200k_base for current OpenAI models and others, cl100k_base for GPT-4 and GPT-3.5', () => {
    for (const m of [
      'gpt-4o-mini',
      'gpt-4.1',
      'gpt-5',
      'o3-mini',
      'openai/gpt-4o',
      'llama-3.3-70b-versatile',
      'claude-sonnet-4-5',
      undefined,
    ])
      expect(encodingFor(m)).toBe('o200k_base');
    for (const m of ['gpt-4', 'gpt-4-turbo-2024-04-09', 'gpt-4-0613', 'gpt-3.5-turbo', 'gpt-35-turbo'])
      expect(encodingFor(m)).toBe('cl100k_base');
  });

  it('reads the prompt of each request shape', () => {
    // OpenAI chat: string values of each message, tool calls, framing.
    const chat = promptOf(
      {
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Look' },
              { type: 'image_url', image_url: { url: 'https://x/y.png' } },
            ],
          },
          { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] },
          { role: 'tool', tool_call_id: 'c1', content: 'done' },
        ],
      },
      'openai',
      'o200k_base',
    );
    expect(chat).toEqual({ texts: ['user', 'Look', 'assistant', 'f', '{"a":1}', 'tool', 'c1', 'done'], tokens: 3 * 3 + 3, found: true });
    // Anthropic: no framing; blocks of every kind.
    const claude = promptOf(
      {
        system: [{ type: 'text', text: 'S' }],
        messages: [
          { role: 'assistant', content: [{ type: 'tool_use', id: 't', name: 'f', input: { a: 1 } }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'text', text: 'r' }] }] },
        ],
      },
      'anthropic',
      'o200k_base',
    );
    expect(claude).toEqual({ texts: ['{"a":1}', 'r', 'S'], tokens: 0, found: true });
    // Gemini (@google/genai params), legacy completions with token ids, the Responses API.
    expect(
      promptOf({ contents: [{ role: 'user', parts: [{ text: 'q' }] }], config: { systemInstruction: 'sys' } }, 'gemini', 'o200k_base')
        .texts,
    ).toEqual(['q', 'sys']);
    expect(promptOf({ prompt: [1, 2, 3] }, 'openai', 'o200k_base')).toEqual({ texts: [], tokens: 3, found: true });
    expect(promptOf({ instructions: 'be brief', input: 'hi' }, 'openai', 'o200k_base').texts).toEqual(['be brief', 'hi']);
    expect(promptOf({ model: 'x' }, 'openai', 'o200k_base').found).toBe(false);
  });
});
