import { describe, expect, it } from 'vitest';
import { fixture, fixtureJson } from '../../test/helpers/replay-server.ts';
import { mistralConverter } from './mistral.ts';
import { parseStreamText } from './stream-text.ts';
import type { Usage } from './types.ts';

// Fixtures and where they come from: test/fixtures/mistral.sources.md. Mistral's prompt_tokens
// include the cached tokens; completion_tokens include thinking tokens.
type Case = { name: string; file: string; request?: string; expected: Usage };

const chat = { provider: 'mistral', serviceType: 'llm', operation: 'chat' } as const;
const cached: Usage = {
  ...chat,
  model: 'mistral-large-latest',
  inputTokens: 1013,
  outputTokens: 30,
  totalTokens: 1043,
  cachedInputTokens: 1008,
  usageSource: 'reported',
};
const streamed: Usage = {
  ...chat,
  model: 'mistral-large-latest',
  inputTokens: 19,
  outputTokens: 7,
  totalTokens: 26,
  usageSource: 'reported',
};

const responses: Case[] = [
  {
    name: 'chat completion with a cache hit: prompt_tokens include the cached tokens',
    file: 'mistral-chat-cached.json',
    request: 'mistral-chat-cached.request.json',
    expected: { ...cached, requestModel: 'mistral-large-latest' },
  },
  { name: 'the same, as the @mistralai/mistralai SDK returns it (camelCase)', file: 'mistral-sdk-chat-cached.json', expected: cached },
  {
    name: 'reasoning: thinking tokens are in completion_tokens, not reported apart',
    file: 'mistral-chat-reasoning.json',
    request: 'mistral-chat-reasoning.request.json',
    expected: {
      ...chat,
      model: 'mistral-small-latest',
      requestModel: 'mistral-small-latest',
      inputTokens: 77,
      outputTokens: 1114,
      totalTokens: 1191,
      cachedInputTokens: 0,
      usageSource: 'reported',
    },
  },
  {
    name: 'embeddings',
    file: 'mistral-embeddings.json',
    request: 'mistral-embeddings.request.json',
    expected: {
      provider: 'mistral',
      serviceType: 'embedding',
      operation: 'embeddings',
      model: 'mistral-embed',
      requestModel: 'mistral-embed',
      inputTokens: 15,
      outputTokens: 0,
      totalTokens: 15,
      usageSource: 'reported',
    },
  },
  {
    name: 'embeddings, as the embeddings guide prints them (null prompt_token_details)',
    file: 'mistral-embeddings-guide.json',
    expected: {
      provider: 'mistral',
      serviceType: 'embedding',
      operation: 'embeddings',
      model: 'mistral-embed',
      inputTokens: 15,
      outputTokens: 0,
      totalTokens: 15,
      usageSource: 'reported',
    },
  },
  {
    name: 'FIM: a chat.completion body, a text completion by its request (prompt, no messages)',
    file: 'mistral-fim.json',
    request: 'mistral-fim.request.json',
    expected: {
      provider: 'mistral',
      serviceType: 'llm',
      operation: 'text_completion',
      model: 'codestral-2508',
      requestModel: 'codestral-2508',
      inputTokens: 8,
      outputTokens: 91,
      totalTokens: 99,
      usageSource: 'reported',
    },
  },
];

const streams: Case[] = [
  {
    name: 'stream: usage in the finish chunk',
    file: 'mistral-stream.sse',
    request: 'mistral-stream.request.json',
    expected: { ...streamed, requestModel: 'mistral-large-latest' },
  },
  {
    name: 'stream without the usage: null keys (as the SDK parses it)',
    file: 'mistral-stream-usage-omitted.sse',
    request: 'mistral-stream.request.json',
    expected: { ...streamed, requestModel: 'mistral-large-latest' },
  },
  {
    name: 'FIM stream (same chunks): a text completion',
    file: 'mistral-stream-usage-omitted.sse',
    request: 'mistral-fim.request.json',
    expected: { ...streamed, operation: 'text_completion', requestModel: 'codestral-2508' },
  },
  {
    name: 'stream cut before its finish chunk: partial',
    file: 'mistral-stream-truncated.sse',
    expected: { ...chat, model: 'mistral-large-latest', usageSource: 'missing', partial: true },
  },
];

const request = (c: Case) => (c.request === undefined ? undefined : fixtureJson(c.request));

describe('mistralConverter on recorded payloads', () => {
  it.each(responses)('$name', (c) => {
    expect(mistralConverter.fromResponse(fixtureJson(c.file), request(c))).toEqual(c.expected);
  });
  it.each(streams)('$name', (c) => {
    expect(mistralConverter.fromStream(parseStreamText(fixture(c.file)), request(c))).toEqual(c.expected);
  });
  it.each(streams)('reads $file framed with CRLF as with LF', (c) => {
    const lf = fixture(c.file);
    expect(mistralConverter.fromStream(parseStreamText(lf.replace(/\n/g, '\r\n')))).toEqual(
      mistralConverter.fromStream(parseStreamText(lf)),
    );
  });
});

describe('mistralConverter on SDK objects and other shapes', () => {
  const sdkEvents = () => fixtureJson<unknown[]>('mistral-sdk-stream.json');

  it('reads the SDK stream ({ data: chunk } events, camelCase) as the wire stream', () => {
    expect(mistralConverter.fromStream(sdkEvents())).toEqual(streamed);
    expect(mistralConverter.fromStream(sdkEvents().slice(0, 3))).toEqual({
      ...chat,
      model: 'mistral-large-latest',
      usageSource: 'missing',
      partial: true,
    });
  });

  it('reads a stream that ended without usage as missing, not partial', () => {
    const events = parseStreamText(fixture('mistral-stream.sse')).map((e) => ({ ...(e as object), usage: null }));
    expect(mistralConverter.fromStream(events)).toEqual({ ...chat, model: 'mistral-large-latest', usageSource: 'missing' });
  });

  it('reads a body without usage as missing', () => {
    const { usage: _, ...rest } = fixtureJson<Record<string, unknown>>('mistral-chat-cached.json');
    expect(mistralConverter.fromResponse(rest)).toEqual({ ...chat, model: 'mistral-large-latest', usageSource: 'missing' });
  });

  it('reads the other cached-token spellings of the spec and the SDK', () => {
    const base = { object: 'chat.completion', model: 'mistral-medium-latest' };
    const counts = { inputTokens: 1013, outputTokens: 30, totalTokens: 1043, cachedInputTokens: 1008 };
    const expected = { ...chat, model: 'mistral-medium-latest', ...counts, usageSource: 'reported' };
    for (const usage of [
      { prompt_tokens: 1013, completion_tokens: 30, total_tokens: 1043, num_cached_tokens: 1008 },
      { prompt_tokens: 1013, completion_tokens: 30, total_tokens: 1043, prompt_token_details: { cached_tokens: 1008 } },
      { promptTokens: 1013, completionTokens: 30, totalTokens: 1043, promptTokensDetails: { cachedTokens: 1008 } },
      { promptTokens: 1013, completionTokens: 30, totalTokens: 1043, numCachedTokens: 1008 },
    ]) {
      expect(mistralConverter.fromResponse({ ...base, usage })).toEqual(expected);
    }
  });

  it('reads an SDK embeddings call (request `inputs`, camelCase usage)', () => {
    const response = {
      id: 'x',
      object: 'list',
      model: 'mistral-embed',
      usage: { promptTokens: 15, completionTokens: 0, totalTokens: 15 },
      data: [],
    };
    expect(mistralConverter.fromResponse(response, { model: 'mistral-embed', inputs: ['a', 'b'] })).toMatchObject({
      serviceType: 'embedding',
      inputTokens: 15,
      totalTokens: 15,
    });
    expect(mistralConverter.fromResponse(undefined, { model: 'mistral-embed', inputs: ['a'] })).toMatchObject({
      serviceType: 'embedding',
      usageSource: 'missing',
    });
  });

  it.each([null, 'a string', 42, {}])('does not throw on %j', (odd) => {
    expect(mistralConverter.fromResponse(odd)).toEqual({ ...chat, usageSource: 'missing' });
    expect(mistralConverter.fromStream([odd, { data: odd }])).toEqual({ ...chat, usageSource: 'missing', partial: true });
  });

  it('names counts of the wrong type, in the spelling they came in', () => {
    const usage = { promptTokens: 'a lot', completionTokens: 30, totalTokens: 1043, prompt_tokens_details: { cached_tokens: '1008' } };
    expect(mistralConverter.fromResponse({ model: 'mistral-large-latest', usage })).toEqual({
      ...chat,
      model: 'mistral-large-latest',
      outputTokens: 30,
      totalTokens: 1043,
      usageSource: 'reported',
      unread: ['promptTokens', 'prompt_tokens_details.cached_tokens'],
    });
  });
});
