import { describe, expect, it } from 'vitest';
import { fixture, fixtureJson } from '../../test/helpers/replay-server.ts';
import { groqConverter } from './groq.ts';
import { parseStreamText } from './stream-text.ts';
import type { Usage } from './types.ts';

// Fixtures and where they come from: test/fixtures/groq.sources.md. Groq follows OpenAI's
// semantics: prompt_tokens include cached tokens, completion_tokens include reasoning tokens.
type Case = { name: string; file: string; request?: string; expected: Usage };

const chat = { provider: 'groq', serviceType: 'llm', operation: 'chat' } as const;
const streamed = { ...chat, model: 'llama-3.3-70b-versatile' } as const;
const reported = { inputTokens: 210, outputTokens: 15, totalTokens: 225, usageSource: 'reported' } as const;

const responses: Case[] = [
  {
    name: 'chat completion (timings in usage are not tokens)',
    file: 'groq-chat.json',
    request: 'groq-chat.request.json',
    expected: {
      ...chat,
      model: 'llama-3.1-8b-instant',
      requestModel: 'llama-3.1-8b-instant',
      inputTokens: 55,
      outputTokens: 76,
      totalTokens: 131,
      usageSource: 'reported',
    },
  },
  {
    name: 'chat completion with a cache hit: prompt_tokens include the cached tokens',
    file: 'groq-chat-cached.json',
    expected: {
      ...chat,
      model: 'llama-3.1-8b-instant',
      inputTokens: 55,
      outputTokens: 76,
      totalTokens: 131,
      cachedInputTokens: 48,
      usageSource: 'reported',
    },
  },
  {
    name: 'reasoning model: completion_tokens include the reasoning tokens',
    file: 'groq-chat-reasoning.json',
    expected: {
      ...chat,
      model: 'qwen/qwen3-32b',
      inputTokens: 17,
      outputTokens: 649,
      totalTokens: 666,
      reasoningTokens: 570,
      usageSource: 'reported',
    },
  },
];

const streams: Case[] = [
  { name: 'stream with x_groq.usage and usage in the finish chunk', file: 'groq-stream.sse', expected: { ...streamed, ...reported } },
  { name: 'stream with usage in x_groq.usage only', file: 'groq-stream-x-groq-only.sse', expected: { ...streamed, ...reported } },
  {
    name: 'stream with a cache hit in x_groq.usage',
    file: 'groq-stream-cached.sse',
    request: 'groq-stream.request.json',
    expected: { ...streamed, requestModel: 'llama-3.3-70b-versatile', ...reported, cachedInputTokens: 192 },
  },
  {
    name: 'stream without usage: missing, not partial',
    file: 'groq-stream-no-usage.sse',
    expected: { ...streamed, usageSource: 'missing' },
  },
  {
    name: 'stream cut before its finish chunk: partial',
    file: 'groq-stream-truncated.sse',
    expected: { ...streamed, usageSource: 'missing', partial: true },
  },
];

const request = (c: Case) => (c.request === undefined ? undefined : fixtureJson(c.request));

describe('groqConverter on recorded payloads', () => {
  it.each(responses)('$name', (c) => {
    expect(groqConverter.fromResponse(fixtureJson(c.file), request(c))).toEqual(c.expected);
  });
  it.each(streams)('$name', (c) => {
    expect(groqConverter.fromStream(parseStreamText(fixture(c.file)), request(c))).toEqual(c.expected);
  });
  it.each(streams)('reads $file framed with CRLF as with LF', (c) => {
    const lf = fixture(c.file);
    expect(groqConverter.fromStream(parseStreamText(lf.replace(/\n/g, '\r\n')))).toEqual(groqConverter.fromStream(parseStreamText(lf)));
  });
});

describe('groqConverter on other shapes', () => {
  const body = () => fixtureJson<Record<string, unknown>>('groq-chat.json');

  it('ignores x_groq.usage in a non-streamed body, where it holds cache statistics', () => {
    const withStats = { ...body(), x_groq: { id: 'req_1', usage: { dram_cached_tokens: 10, sram_cached_tokens: 5 } } };
    expect(groqConverter.fromResponse(withStats)).toEqual(groqConverter.fromResponse(body()));
  });

  it('reads a body without usage as missing', () => {
    const { usage: _, ...rest } = body();
    expect(groqConverter.fromResponse(rest)).toEqual({ ...chat, model: 'llama-3.1-8b-instant', usageSource: 'missing' });
  });

  it.each([null, 'a string', 42, {}])('does not throw on %j', (odd) => {
    expect(groqConverter.fromResponse(odd)).toEqual({ ...chat, usageSource: 'missing' });
    expect(groqConverter.fromStream([odd])).toEqual({ ...chat, usageSource: 'missing', partial: true });
  });

  it('names counts of the wrong type in x_groq.usage', () => {
    const last = {
      model: 'llama-3.3-70b-versatile',
      choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
      x_groq: { usage: { prompt_tokens: 'many', completion_tokens: 3 } },
    };
    expect(groqConverter.fromStream([last])).toEqual({ ...streamed, outputTokens: 3, usageSource: 'reported', unread: ['prompt_tokens'] });
    expect(groqConverter.fromStream([{ ...last, x_groq: { usage: 7 } }])).toEqual({
      ...streamed,
      usageSource: 'missing',
      unread: ['x_groq.usage'],
    });
  });
});
