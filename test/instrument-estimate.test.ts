import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import { Tiktoken } from 'js-tiktoken/lite';
import cl100k_base from 'js-tiktoken/ranks/cl100k_base';
import o200k_base from 'js-tiktoken/ranks/o200k_base';
import OpenAI from 'openai';
import { describe, expect, it, vi } from 'vitest';
import { TokenMonitor } from '../src/index.ts';
import { pieces } from '../src/instrument/token-pieces.ts';
import type { RecordResult } from '../src/monitor.ts';
import { fixture, type ReceivedRequest, type Reply } from './helpers/replay-server.ts';
import { useReplay } from './helpers/use-replay.ts';

// Streams that end without usage, through the official clients against the replay server: the
// call is recorded with counts js-tiktoken gives for its prompt and streamed text, marked estimated.
// The expected counts are computed here, independently, as OpenAI's cookbook counts a chat prompt
// (https://cookbook.openai.com/examples/how_to_count_tokens_with_tiktoken: 3 tokens per message,
// the string values of each message, 3 priming the reply).
const o200k = new Tiktoken(o200k_base);
const cl100k = new Tiktoken(cl100k_base);
const tokens = (text: string, enc = o200k) => enc.encode(text, [], []).length;

/** A recorded SSE stream with every usage field taken out, as a gateway that drops usage sends it. */
function withoutUsage(name: string): string {
  return fixture(name).replace(/^data: (\{.*\})$/gm, (_, json: string) => {
    const e = JSON.parse(json) as Record<string, unknown> & { message?: Record<string, unknown> };
    delete e.usage;
    delete e.usageMetadata;
    if (e.message !== undefined) delete e.message.usage;
    return `data: ${JSON.stringify(e)}`;
  });
}

function route(req: ReceivedRequest): Reply {
  // A server that does not honour stream_options.include_usage: no usage chunk, whatever was asked.
  if (req.path.startsWith('/groq')) return { sse: fixture('groq-stream-no-usage.sse') };
  if (req.path.includes('/chat/completions')) return { sse: fixture('openai-chat-stream-no-usage.sse') };
  if (req.path.includes(':streamGenerateContent')) return { sse: withoutUsage('gemini-stream.sse') };
  if (req.path.includes('/messages')) return { sse: withoutUsage('anthropic-stream.sse') };
  return { status: 404, json: { error: { message: `no route for ${req.path}` } } };
}
const server = useReplay(route);

/** A monitor whose recorded results the test can read. */
function setup() {
  const monitor = new TokenMonitor({
    loadConfig: false,
    metrics: { prometheus: false },
    prices: { 'gpt-4o-mini-2024-07-18': { input: 0.15, output: 0.6 } },
  });
  const results: RecordResult[] = [];
  const recordUsage = monitor.recordUsage.bind(monitor);
  // Instrumented calls meter (no result built): recorded here as recordUsage would, to read its result.
  vi.spyOn(monitor, 'meterUsage').mockImplementation((usage, facts) => {
    const r = recordUsage(usage, facts);
    if (r !== undefined) results.push(r);
  });
  return { monitor, results };
}

async function drain(stream: AsyncIterable<unknown>): Promise<number> {
  let n = 0;
  for await (const _ of stream) n++;
  return n;
}

describe('a stream that ends without usage', () => {
  it('is recorded with estimated counts (OpenAI chat, include_usage false), priced as reported ones', async () => {
    const { monitor, results } = setup();
    const openai = monitor.instrument(new OpenAI({ apiKey: 'sk-test-0000000000000000', baseURL: `${server.url}/v1`, maxRetries: 0 }));
    const messages = [
      { role: 'system' as const, content: 'You are a terse assistant.' },
      { role: 'user' as const, name: 'ada', content: 'Say hello, then an exclamation mark.' },
    ];
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      stream: true,
      stream_options: { include_usage: false },
    });
    const chunks: string[] = [];
    for await (const c of stream) chunks.push(c.choices[0]?.delta?.content ?? '');
    await monitor.flush();

    // The caller's stream is untouched: the text the estimate counts is the one the caller read.
    expect(chunks.join('')).toBe('Hello!');
    const input =
      3 +
      tokens('system') +
      tokens('You are a terse assistant.') +
      (3 + tokens('user') + tokens('ada') + 1 + tokens('Say hello, then an exclamation mark.')) +
      3;
    const output = tokens('Hello!');
    expect(results).toHaveLength(1);
    const r = results[0] as RecordResult;
    expect(r.record).toMatchObject({
      provider: 'openai',
      model: 'gpt-4o-mini-2024-07-18',
      inputTokens: input,
      outputTokens: output,
      totalTokens: input + output,
      metadata: { usage: 'estimated' },
    });
    expect(r.costUsd).toBeCloseTo((input * 0.15 + output * 0.6) / 1e6, 15);
    expect(monitor.usageSummary('openai')).toMatchObject({ requests: 1, inputTokens: input, outputTokens: output, unpricedRequests: 0 });
    await monitor.close();
  });

  it('counts a GPT-4 Turbo answer with cl100k_base', async () => {
    const { monitor, results } = setup();
    const openai = monitor.instrument(new OpenAI({ apiKey: 'sk-test-0000000000000000', baseURL: `${server.url}/v1`, maxRetries: 0 }));
    const content = 'Wie viele Token hat dieser Satz? 😀';
    // The model that answered picks the encoding.
    server.next = { sse: fixture('openai-chat-stream-no-usage.sse').replaceAll('gpt-4o-mini-2024-07-18', 'gpt-4-turbo-2024-04-09') };
    await drain(await openai.chat.completions.create({ model: 'gpt-4-turbo', messages: [{ role: 'user', content }], stream: true }));
    await monitor.close();
    expect(tokens(content, cl100k)).not.toBe(tokens(content));
    expect(results[0]?.record).toMatchObject({
      model: 'gpt-4-turbo-2024-04-09',
      inputTokens: 3 + tokens('user', cl100k) + tokens(content, cl100k) + 3,
      outputTokens: tokens('Hello!', cl100k),
    });
  });

  it('estimates a Groq tool call streamed without usage (o200k_base as an approximation)', async () => {
    const { monitor, results } = setup();
    const groq = monitor.instrument(
      new OpenAI({ apiKey: 'gsk_testkey0123456789', baseURL: `${server.url}/groq/openai/v1`, maxRetries: 0 }),
      {
        provider: 'groq',
      },
    );
    const tools = [
      {
        type: 'function' as const,
        function: {
          name: 'weather',
          description: 'Current weather.',
          parameters: { type: 'object', properties: { city: { type: 'string', description: 'City name', enum: ['Paris', 'Rome'] } } },
        },
      },
    ];
    await drain(
      await groq.chat.completions.create({
        model: 'llama-3.3-70b-versatile',
        messages: [{ role: 'user', content: 'Weather?' }],
        tools,
        stream: true,
      }),
    );
    await monitor.close();
    // Cookbook's num_tokens_for_tools on o200k_base: 7 per function, 3 + 3 per property, -3 + 3 per enum value, 12 at the end.
    const toolTokens =
      7 +
      tokens('weather:Current weather') +
      3 +
      3 -
      3 +
      (3 + tokens('Paris')) +
      (3 + tokens('Rome')) +
      tokens('city:string:City name') +
      12;
    const input = 3 + tokens('user') + tokens('Weather?') + 3 + toolTokens;
    expect(results[0]?.record).toMatchObject({
      provider: 'groq',
      inputTokens: input,
      outputTokens: tokens('weather{}'),
      metadata: { usage: 'estimated' },
    });
  });

  it('estimates Anthropic and Gemini streams whose usage was dropped', async () => {
    const { monitor, results } = setup();
    const anthropic = monitor.instrument(new Anthropic({ apiKey: 'sk-ant-test-0000', baseURL: server.url, maxRetries: 0 }));
    await drain(
      await anthropic.messages.create({
        model: 'claude-sonnet-4-5',
        max_tokens: 64,
        system: 'Be brief.',
        messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello there' }] }],
        stream: true,
      }),
    );
    const google = monitor.instrument(
      new GoogleGenAI({ apiKey: 'AIzaTestKeyTestKeyTestKey0123456789', httpOptions: { baseUrl: server.url } }),
    );
    await drain(
      await google.models.generateContentStream({
        model: 'gemini-2.0-flash',
        contents: 'Tell me a story',
        config: { systemInstruction: 'Short.' },
      }),
    );
    await monitor.close();
    expect(results.map((r) => r.record)).toEqual([
      expect.objectContaining({
        provider: 'anthropic',
        inputTokens: tokens('Be brief.') + tokens('Hello there'),
        outputTokens: tokens('Hello!'),
        metadata: { usage: 'estimated' },
      }),
      expect.objectContaining({
        provider: 'gemini',
        inputTokens: tokens('Tell me a story') + tokens('Short.'),
        outputTokens: tokens('Once upon a time, in a land far away, lived a wizard. The end.'),
        metadata: { usage: 'estimated' },
      }),
    ]);
  });

  it('stays unknown when the caller abandons it: the text read is not what was billed', async () => {
    const { monitor, results } = setup();
    const openai = monitor.instrument(new OpenAI({ apiKey: 'sk-test-0000000000000000', baseURL: `${server.url}/v1`, maxRetries: 0 }));
    for await (const _ of await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
    }))
      break;
    await monitor.close();
    expect(results[0]?.record).toMatchObject({ inputTokens: null, outputTokens: null, metadata: { usage: 'missing', partial: true } });
  });
});

describe('pieces', () => {
  it('cuts a long text where the counts of its pieces add up to the count of the whole', () => {
    const words = ['alpha', 'beta,', 'gamma.', '12345', "it's", '  spaced', '\n\nnew', 'naïve', '日本語', '😀'];
    const text = Array.from({ length: 60_000 }, (_, i) => words[(i * 7) % words.length]).join(' ');
    const cut = [...pieces(text)];
    expect(cut.length).toBeGreaterThan(3);
    expect(cut.join('')).toBe(text);
    expect(cut.reduce((n, p) => n + tokens(p), 0)).toBe(tokens(text));
  });
});
