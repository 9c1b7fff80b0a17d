import { describe, expect, it } from 'vitest';
import { fixtureJson } from '../../test/helpers/replay-server.ts';
import { awsBedrockConverter, awsBedrockInvokeUsage, type BedrockHeaders } from './aws-bedrock.ts';
import type { Usage } from './types.ts';

// Fixtures and where they come from: test/fixtures/aws-bedrock.sources.md. Bedrock's input counts
// (Converse's inputTokens, invocation metrics' inputTokenCount, the token-count headers) exclude
// cache reads and writes; tokenmeter's inputTokens include them.
const chat = { provider: 'aws_bedrock', serviceType: 'llm', operation: 'chat' } as const;
const on = (modelId: string) => ({ model: modelId, requestModel: modelId });

type Case = { name: string; modelId: string; file: string; headers?: BedrockHeaders; expected: Usage };

const invoke: Case[] = [
  {
    name: 'Titan text: inputTextTokenCount, and results[].tokenCount summed',
    modelId: 'amazon.titan-text-express-v1',
    file: 'aws-bedrock-invoke-titan.json',
    expected: {
      ...chat,
      ...on('amazon.titan-text-express-v1'),
      inputTokens: 8,
      outputTokens: 10,
      totalTokens: 18,
      usageSource: 'reported',
    },
  },
  {
    name: 'Llama: prompt_token_count and generation_token_count',
    modelId: 'meta.llama2-13b-chat-v1',
    file: 'aws-bedrock-invoke-llama.json',
    expected: { ...chat, ...on('meta.llama2-13b-chat-v1'), inputTokens: 8, outputTokens: 10, totalTokens: 18, usageSource: 'reported' },
  },
  {
    name: 'Nova: Converse-shaped usage',
    modelId: 'amazon.nova-pro-v1:0',
    file: 'aws-bedrock-invoke-nova.json',
    expected: { ...chat, ...on('amazon.nova-pro-v1:0'), inputTokens: 8, outputTokens: 10, totalTokens: 18, usageSource: 'reported' },
  },
  {
    name: 'Claude: the Messages body, cache writes added to input, the model named by the request',
    modelId: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0',
    file: 'anthropic-message-cache.json',
    expected: {
      ...chat,
      ...on('us.anthropic.claude-sonnet-4-5-20250929-v1:0'),
      inputTokens: 21 + 188086,
      outputTokens: 393,
      totalTokens: 188107 + 393,
      cachedInputTokens: 0,
      cacheWriteTokens: 188086,
      cacheWrite1hTokens: 0,
      usageSource: 'reported',
    },
  },
  {
    name: 'Mistral reports no usage in its body: the headers give it',
    modelId: 'mistral.mistral-7b-instruct-v0:2',
    file: 'aws-bedrock-invoke-mistral.json',
    headers: { 'x-amzn-bedrock-input-token-count': '18', 'x-amzn-bedrock-output-token-count': '10' },
    expected: {
      ...chat,
      ...on('mistral.mistral-7b-instruct-v0:2'),
      inputTokens: 18,
      outputTokens: 10,
      totalTokens: 28,
      usageSource: 'reported',
    },
  },
  {
    name: 'cache headers: the input header excludes cache reads and writes, so they are added',
    modelId: 'mistral.mistral-7b-instruct-v0:2',
    file: 'aws-bedrock-invoke-mistral.json',
    headers: {
      'x-amzn-bedrock-input-token-count': '18',
      'x-amzn-bedrock-output-token-count': '10',
      'x-amzn-bedrock-cache-read-input-token-count': '100',
      'x-amzn-bedrock-cache-write-input-token-count': '7',
    },
    expected: {
      ...chat,
      ...on('mistral.mistral-7b-instruct-v0:2'),
      inputTokens: 125,
      outputTokens: 10,
      totalTokens: 135,
      cachedInputTokens: 100,
      cacheWriteTokens: 7,
      usageSource: 'reported',
    },
  },
  {
    name: 'no usage in the body and no headers: unknown, not 0',
    modelId: 'mistral.mistral-7b-instruct-v0:2',
    file: 'aws-bedrock-invoke-mistral.json',
    expected: { ...chat, ...on('mistral.mistral-7b-instruct-v0:2'), usageSource: 'missing' },
  },
  {
    name: 'the body wins over the headers when it has counts',
    modelId: 'meta.llama2-13b-chat-v1',
    file: 'aws-bedrock-invoke-llama.json',
    headers: { 'x-amzn-bedrock-input-token-count': '999', 'x-amzn-bedrock-output-token-count': '999' },
    expected: { ...chat, ...on('meta.llama2-13b-chat-v1'), inputTokens: 8, outputTokens: 10, totalTokens: 18, usageSource: 'reported' },
  },
];

const streams: Case[] = [
  {
    name: 'ConverseStream: the metadata event (with the padding Bedrock adds)',
    modelId: 'amazon.titan-text-lite-v1',
    file: 'aws-bedrock-converse-stream-titan.json',
    expected: { ...chat, ...on('amazon.titan-text-lite-v1'), inputTokens: 8, outputTokens: 10, totalTokens: 18, usageSource: 'reported' },
  },
  {
    name: 'InvokeModelWithResponseStream, Claude: Anthropic’s own events',
    modelId: 'anthropic.claude-3-5-sonnet-20240620-v1:0',
    file: 'aws-bedrock-invoke-stream-claude.json',
    expected: {
      ...chat,
      ...on('anthropic.claude-3-5-sonnet-20240620-v1:0'),
      inputTokens: 22,
      outputTokens: 12,
      totalTokens: 34,
      usageSource: 'reported',
    },
  },
  {
    name: 'InvokeModelWithResponseStream, Nova: metadata usage and invocation metrics with cache counts',
    modelId: 'amazon.nova-pro-v1:0',
    file: 'aws-bedrock-invoke-stream-nova.json',
    expected: {
      ...chat,
      ...on('amazon.nova-pro-v1:0'),
      inputTokens: 5,
      outputTokens: 10,
      totalTokens: 15,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      usageSource: 'reported',
    },
  },
  {
    name: 'InvokeModelWithResponseStream, Mistral: only the invocation metrics of the last chunk',
    modelId: 'mistral.mistral-small-2402-v1:0',
    file: 'aws-bedrock-invoke-stream-mistral.json',
    expected: {
      ...chat,
      ...on('mistral.mistral-small-2402-v1:0'),
      inputTokens: 19,
      outputTokens: 20,
      totalTokens: 39,
      usageSource: 'reported',
    },
  },
];

describe('Bedrock InvokeModel bodies and headers', () => {
  it.each(invoke)('$name', (c) => {
    expect(awsBedrockInvokeUsage(fixtureJson(c.file), c.headers, { modelId: c.modelId })).toEqual(c.expected);
  });

  it('marks a header it cannot read, and embedding models as embeddings', () => {
    const u = awsBedrockInvokeUsage(
      { embeddings: [[0.1]], id: 'x', response_type: 'embeddings_floats' },
      { 'x-amzn-bedrock-input-token-count': '7', 'x-amzn-bedrock-output-token-count': '12abc' },
      { modelId: 'cohere.embed-english-v3' },
    );
    expect(u).toEqual({
      provider: 'aws_bedrock',
      serviceType: 'embedding',
      operation: 'embeddings',
      ...on('cohere.embed-english-v3'),
      inputTokens: 7,
      totalTokens: 7,
      usageSource: 'reported',
      unread: ['x-amzn-bedrock-output-token-count'],
    });
  });
});

describe('Bedrock streams', () => {
  it.each(streams)('$name', (c) => {
    expect(awsBedrockConverter.fromStream(fixtureJson<unknown[]>(c.file), { modelId: c.modelId })).toEqual(c.expected);
  });

  it('reads an Anthropic stream’s cache counts from its events, not the invocation metrics', () => {
    const [start, ...rest] = fixtureJson<Record<string, unknown>[]>('aws-bedrock-invoke-stream-claude.json');
    const message = start?.message as Record<string, unknown>;
    const cached = { ...start, message: { ...message, usage: { input_tokens: 22, cache_read_input_tokens: 1000, output_tokens: 1 } } };
    const u = awsBedrockConverter.fromStream([cached, ...rest], { modelId: 'anthropic.claude-3-5-sonnet-20240620-v1:0' });
    expect(u).toMatchObject({ inputTokens: 1022, cachedInputTokens: 1000, outputTokens: 12 });
    expect(u.partial).toBeUndefined();
  });

  it('falls back to the invocation metrics when the Anthropic events carry no usage', () => {
    const events = fixtureJson<Record<string, unknown>[]>('aws-bedrock-invoke-stream-claude.json').filter((e) => e.type === 'message_stop');
    expect(awsBedrockConverter.fromStream(events, { modelId: 'anthropic.claude-3-5-sonnet-20240620-v1:0' })).toMatchObject({
      inputTokens: 22,
      outputTokens: 12,
      usageSource: 'reported',
    });
  });

  it('marks a stream cut before its last event partial', () => {
    for (const file of [
      'aws-bedrock-converse-stream-titan.json',
      'aws-bedrock-invoke-stream-claude.json',
      'aws-bedrock-invoke-stream-mistral.json',
    ]) {
      const events = fixtureJson<unknown[]>(file);
      expect(awsBedrockConverter.fromStream(events.slice(0, 2), { modelId: 'm' }).partial, file).toBe(true);
    }
  });
});
