import { describe, expect, it } from 'vitest';
import { fixtureJson } from '../../test/helpers/replay-server.ts';
import type { Usage } from './types.ts';
import { voyageConverter } from './voyage.ts';

// Fixtures and where they come from: test/fixtures/voyage.sources.md. Voyage bills
// `usage.total_tokens`, all input. The voyageai SDK hands the bodies back with the keys it knows
// camelCased (`usage.totalTokens`, `relevanceScore`) and the others as sent (multimodal
// `text_tokens`): the SDK cases are what voyageai 0.4.0 returned for these fixtures in
// test/instrument-voyage.test.ts.
type Case = { name: string; body: unknown; request?: unknown; expected: Usage };

const embedding = { provider: 'voyage', serviceType: 'embedding', operation: 'embeddings' } as const;
const reranking = { provider: 'voyage', serviceType: 'reranking', operation: 'rerank' } as const;

const cases: Case[] = [
  {
    name: 'embeddings: usage.total_tokens',
    body: fixtureJson('voyage-embed.json'),
    request: { input: ['Sample text 1', 'Sample text 2'], model: 'voyage-large-2' },
    expected: {
      ...embedding,
      model: 'voyage-large-2',
      requestModel: 'voyage-large-2',
      inputTokens: 10,
      totalTokens: 10,
      usageSource: 'reported',
    },
  },
  {
    name: 'embeddings as the SDK returns them: usage.totalTokens',
    body: {
      object: 'list',
      data: [{ object: 'embedding', embedding: [0.0038915484], index: 0 }],
      model: 'voyage-large-2',
      usage: { totalTokens: 10 },
    },
    expected: { ...embedding, model: 'voyage-large-2', inputTokens: 10, totalTokens: 10, usageSource: 'reported' },
  },
  {
    name: 'multimodal: total_tokens, which counts the image pixels, not text_tokens alone',
    body: fixtureJson('voyage-multimodal-embed.json'),
    expected: { ...embedding, model: 'voyage-multimodal-3', inputTokens: 3576, totalTokens: 3576, usageSource: 'reported' },
  },
  {
    name: 'multimodal as the SDK returns it: text_tokens as sent, totalTokens camelCased',
    body: {
      object: 'list',
      data: [{ object: 'embedding', embedding: [0.027587891], index: 0 }],
      model: 'voyage-multimodal-3',
      usage: { text_tokens: 5, image_pixels: 2000000, totalTokens: 3576 },
    },
    expected: { ...embedding, model: 'voyage-multimodal-3', inputTokens: 3576, totalTokens: 3576, usageSource: 'reported' },
  },
  {
    name: 'contextualized embeddings',
    body: fixtureJson('voyage-contextualized-embed.json'),
    request: { inputs: [['doc text']], model: 'voyage-context-3' },
    expected: {
      ...embedding,
      model: 'voyage-context-3',
      requestModel: 'voyage-context-3',
      inputTokens: 10,
      totalTokens: 10,
      usageSource: 'reported',
    },
  },
  {
    name: 'rerank as the SDK returns it, told from relevanceScore when the request is unknown',
    body: { object: 'list', data: [{ relevanceScore: 0.4375, index: 0 }], model: 'rerank-2.5', usage: { totalTokens: 26 } },
    expected: { ...reranking, model: 'rerank-2.5', inputTokens: 26, totalTokens: 26, usageSource: 'reported' },
  },
  {
    name: 'no usage: unknown, not zero',
    body: { object: 'list', data: [], model: 'voyage-3.5' },
    expected: { ...embedding, model: 'voyage-3.5', usageSource: 'missing' },
  },
];

describe('voyageConverter', () => {
  it.each(cases)('$name', ({ body, request, expected }) => {
    expect(voyageConverter.fromResponse(body, request)).toEqual(expected);
  });
});
