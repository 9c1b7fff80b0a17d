import { describe, expect, it } from 'vitest';
import { fixture, fixtureJson } from '../../test/helpers/replay-server.ts';
import { cohereConverter } from './cohere.ts';
import { parseStreamText } from './stream-text.ts';
import type { Usage } from './types.ts';

// Fixtures and where they come from: test/fixtures/cohere.sources.md. Cohere bills
// `billed_units`, which can be far below the raw `tokens` (the prompt template is not billed);
// rerank bills search units only. The cohere-ai SDK hands the same bodies back camelCased
// (`billedUnits.inputTokens`, `eventType`): the SDK cases are what cohere-ai 8.1.0 returned for
// these fixtures in test/instrument-cohere.test.ts.
type Case = { name: string; body: unknown; request?: unknown; expected: Usage };

const model = 'command-a-03-2025';
const chat = { provider: 'cohere', model, requestModel: model, serviceType: 'llm', operation: 'chat' } as const;
const chatReq = { model, messages: [{ role: 'user', content: 'Tell me about LLMs' }] };
const embed = {
  provider: 'cohere',
  model: 'embed-v4.0',
  requestModel: 'embed-v4.0',
  serviceType: 'embedding',
  operation: 'embeddings',
} as const;
const embedReq = { model: 'embed-v4.0', texts: ['hello', 'goodbye'] };
const rerank = {
  provider: 'cohere',
  model: 'rerank-v3.5',
  requestModel: 'rerank-v3.5',
  serviceType: 'reranking',
  operation: 'rerank',
} as const;
const rerankReq = { model: 'rerank-v3.5', query: 'q', documents: ['a', 'b'] };

const responses: Case[] = [
  {
    name: 'v1 chat: meta.billed_units (5 billed of 71 raw input tokens)',
    body: fixtureJson('cohere-chat-v1.json'),
    request: { model, message: 'Tell me about LLMs' },
    expected: { ...chat, inputTokens: 5, outputTokens: 198, totalTokens: 203, usageSource: 'reported' },
  },
  {
    name: 'v2 chat as the SDK returns it: usage.billedUnits',
    body: {
      id: 'c14c80c3-18eb-4519-9460-6c92edd8cfb4',
      finishReason: 'COMPLETE',
      message: { role: 'assistant', content: [{ type: 'text', text: 'LLMs stand for Large Language Models...' }] },
      usage: { billedUnits: { inputTokens: 17, outputTokens: 386 }, tokens: { inputTokens: 83, outputTokens: 386 } },
    },
    request: chatReq,
    expected: { ...chat, inputTokens: 17, outputTokens: 386, totalTokens: 403, usageSource: 'reported' },
  },
  {
    name: 'v1 chat as the SDK returns it: meta.billedUnits',
    body: {
      text: 'Large Language Models (LLMs) are advanced AI systems [...]',
      finishReason: 'COMPLETE',
      meta: {
        apiVersion: { version: '1' },
        billedUnits: { inputTokens: 5, outputTokens: 198 },
        tokens: { inputTokens: 71, outputTokens: 198 },
      },
    },
    request: { model, message: 'Tell me about LLMs' },
    expected: { ...chat, inputTokens: 5, outputTokens: 198, totalTokens: 203, usageSource: 'reported' },
  },
  {
    name: 'embed as the SDK returns it: meta.billedUnits.inputTokens',
    body: {
      id: 'da6e531f-54c6-4a73-bf92-f60566d8d753',
      embeddings: { float: [[0.016296387, -0.008354187, -0.04663086]] },
      texts: ['hello', 'goodbye'],
      meta: { apiVersion: { version: '2' }, billedUnits: { inputTokens: 2 } },
      responseType: 'embeddings_by_type',
    },
    request: embedReq,
    expected: { ...embed, inputTokens: 2, totalTokens: 2, usageSource: 'reported' },
  },
  {
    name: 'rerank as the SDK returns it: search units only, no tokens',
    body: {
      results: [{ index: 3, relevanceScore: 0.999071 }],
      id: '07734bd2-2473-4f07-94e1-0d9f0e6843cf',
      meta: { apiVersion: { version: '2', isExperimental: false }, billedUnits: { searchUnits: 1 } },
    },
    request: rerankReq,
    expected: { ...rerank, searchUnits: 1, usageSource: 'reported' },
  },
  {
    name: 'rerank told from its results when the request is unknown',
    body: fixtureJson('cohere-rerank.json'),
    expected: { provider: 'cohere', serviceType: 'reranking', operation: 'rerank', searchUnits: 1, usageSource: 'reported' },
  },
  {
    name: 'no usage at all: unknown, not zero',
    body: { id: 'x', finishReason: 'COMPLETE', message: { role: 'assistant', content: [] } },
    request: chatReq,
    expected: { ...chat, usageSource: 'missing' },
  },
];

const sdkStreamEnd = {
  type: 'message-end',
  delta: {
    finishReason: 'COMPLETE',
    usage: { billedUnits: { inputTokens: 5, outputTokens: 26 }, tokens: { inputTokens: 71, outputTokens: 26 } },
  },
};
const streamed = { ...chat, inputTokens: 5, outputTokens: 26, totalTokens: 31, usageSource: 'reported' } as const;
const v1Streamed = { ...chat, inputTokens: 14, outputTokens: 14, totalTokens: 28, usageSource: 'reported' } as const;

const streams: (Omit<Case, 'body'> & { events: unknown[] })[] = [
  {
    name: 'v2 stream: message-end delta.usage.billed_units',
    events: parseStreamText(fixture('cohere-chat-v2-stream.sse')),
    request: chatReq,
    expected: streamed,
  },
  {
    name: 'v2 stream as the SDK yields it: delta.usage.billedUnits',
    events: [
      { type: 'message-start', id: '29f14a5a-11de-4cae-9800-25e4747408ea', delta: { message: { role: 'assistant' } } },
      sdkStreamEnd,
    ],
    request: chatReq,
    expected: streamed,
  },
  {
    name: 'v1 stream (NDJSON): stream-end response.meta.billed_units',
    events: parseStreamText(fixture('cohere-chat-v1-stream.ndjson')),
    request: { model, message: 'thanks' },
    expected: v1Streamed,
  },
  {
    name: 'v1 stream as the SDK yields it: eventType, response.meta.billedUnits',
    events: [
      { isFinished: false, eventType: 'stream-start', generationId: 'eb889b0f-c27d-45ea-98cf-567bdb7fc8bf' },
      {
        isFinished: true,
        eventType: 'stream-end',
        finishReason: 'COMPLETE',
        response: { meta: { billedUnits: { inputTokens: 14, outputTokens: 14 } } },
      },
    ],
    request: { model, message: 'thanks' },
    expected: v1Streamed,
  },
  {
    name: 'a stream cut before message-end: partial, usage unknown',
    events: parseStreamText(fixture('cohere-chat-v2-stream.sse')).slice(0, 3),
    request: chatReq,
    expected: { ...chat, usageSource: 'missing', partial: true },
  },
];

describe('cohereConverter', () => {
  it.each(responses)('$name', ({ body, request, expected }) => {
    expect(cohereConverter.fromResponse(body, request)).toEqual(expected);
  });

  it.each(streams)('$name', ({ events, request, expected }) => {
    expect(cohereConverter.fromStream(events, request)).toEqual(expected);
  });
});
