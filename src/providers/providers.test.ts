import { describe, expect, it } from 'vitest';
import { fixture } from '../../test/helpers/replay-server.ts';
import { extractUsage } from './index.ts';
import type { Usage } from './types.ts';

type Case = { name: string; provider: string; file: string; request?: unknown; expected: Usage };

// Fixtures and their sources: test/fixtures/SOURCES.md. Each expectation applies the provider's
// billing semantics by hand.
const cases: Case[] = [
  {
    name: 'OpenAI chat: prompt_tokens already include cached tokens',
    provider: 'openai',
    file: 'openai-chat-cached.json',
    expected: {
      provider: 'openai',
      model: 'gpt-4o-2024-08-06',
      serviceType: 'llm',
      operation: 'chat',
      inputTokens: 2006,
      outputTokens: 300,
      totalTokens: 2306,
      cachedInputTokens: 1920,
      reasoningTokens: 0,
      // Every chat completion reports its audio tokens, 0 when there were none.
      inputAudioTokens: 0,
      outputAudioTokens: 0,
      usageSource: 'reported',
    },
  },
  {
    name: 'OpenAI chat: completion_tokens already include reasoning tokens',
    provider: 'openai',
    file: 'openai-chat-reasoning.json',
    request: { model: 'o3-mini', messages: [] },
    expected: {
      provider: 'openai',
      model: 'o3-mini-2025-01-31',
      requestModel: 'o3-mini',
      serviceType: 'llm',
      operation: 'chat',
      inputTokens: 75,
      outputTokens: 1186,
      totalTokens: 1261,
      cachedInputTokens: 0,
      reasoningTokens: 1024,
      inputAudioTokens: 0,
      outputAudioTokens: 0,
      usageSource: 'reported',
    },
  },
  {
    name: 'OpenAI chat stream: usage from the usage-only last chunk',
    provider: 'openai',
    file: 'openai-chat-stream.sse',
    expected: {
      provider: 'openai',
      model: 'gpt-4o-mini-2024-07-18',
      serviceType: 'llm',
      operation: 'chat',
      inputTokens: 9,
      outputTokens: 2,
      totalTokens: 11,
      cachedInputTokens: 0,
      reasoningTokens: 0,
      inputAudioTokens: 0,
      outputAudioTokens: 0,
      usageSource: 'reported',
    },
  },
  {
    name: 'OpenAI chat stream without include_usage: usage missing, not zero',
    provider: 'openai',
    file: 'openai-chat-stream-no-usage.sse',
    expected: { provider: 'openai', model: 'gpt-4o-mini-2024-07-18', serviceType: 'llm', operation: 'chat', usageSource: 'missing' },
  },
  {
    name: 'Azure OpenAI reads as OpenAI',
    provider: 'azure_openai',
    file: 'openai-chat-cached.json',
    expected: {
      provider: 'azure_openai',
      model: 'gpt-4o-2024-08-06',
      serviceType: 'llm',
      operation: 'chat',
      inputTokens: 2006,
      outputTokens: 300,
      totalTokens: 2306,
      cachedInputTokens: 1920,
      reasoningTokens: 0,
      inputAudioTokens: 0,
      outputAudioTokens: 0,
      usageSource: 'reported',
    },
  },
  {
    name: 'OpenAI Responses API',
    provider: 'openai',
    file: 'openai-responses.json',
    expected: {
      provider: 'openai',
      model: 'gpt-4.1-2025-04-14',
      serviceType: 'llm',
      operation: 'chat',
      inputTokens: 36,
      outputTokens: 87,
      totalTokens: 123,
      cachedInputTokens: 0,
      reasoningTokens: 0,
      usageSource: 'reported',
    },
  },
  {
    name: 'OpenAI Responses API stream: usage from response.completed',
    provider: 'openai',
    file: 'openai-responses-stream.sse',
    expected: {
      provider: 'openai',
      model: 'gpt-4.1-2025-04-14',
      serviceType: 'llm',
      operation: 'chat',
      inputTokens: 37,
      outputTokens: 11,
      totalTokens: 48,
      cachedInputTokens: 0,
      reasoningTokens: 0,
      usageSource: 'reported',
    },
  },
  {
    name: 'OpenAI embeddings',
    provider: 'openai',
    file: 'openai-embeddings.json',
    expected: {
      provider: 'openai',
      model: 'text-embedding-3-small',
      serviceType: 'embedding',
      operation: 'embeddings',
      inputTokens: 8,
      totalTokens: 8,
      usageSource: 'reported',
    },
  },
  {
    name: 'Groq stream: usage in x_groq.usage',
    provider: 'groq',
    file: 'groq-chat-stream.sse',
    expected: {
      provider: 'groq',
      model: 'llama-3.3-70b-versatile',
      serviceType: 'llm',
      operation: 'chat',
      inputTokens: 24,
      outputTokens: 377,
      totalTokens: 401,
      usageSource: 'reported',
    },
  },
  {
    name: 'Mistral chat',
    provider: 'mistral',
    file: 'mistral-chat.json',
    expected: {
      provider: 'mistral',
      model: 'mistral-small-latest',
      serviceType: 'llm',
      operation: 'chat',
      inputTokens: 16,
      outputTokens: 34,
      totalTokens: 50,
      usageSource: 'reported',
    },
  },
  {
    name: 'Anthropic: input_tokens exclude cache writes, so they are added',
    provider: 'anthropic',
    file: 'anthropic-message-cache.json',
    expected: {
      provider: 'anthropic',
      model: 'claude-sonnet-4-5-20250929',
      serviceType: 'llm',
      operation: 'chat',
      inputTokens: 21 + 188086,
      outputTokens: 393,
      totalTokens: 21 + 188086 + 393,
      cachedInputTokens: 0,
      cacheWriteTokens: 188086,
      cacheWrite1hTokens: 0,
      usageSource: 'reported',
    },
  },
  {
    name: 'Anthropic: one-hour cache writes are kept apart from all cache writes (they cost more)',
    provider: 'anthropic',
    file: 'anthropic-message-cache-1h.json',
    expected: {
      provider: 'anthropic',
      model: 'claude-sonnet-4-5-20250929',
      serviceType: 'llm',
      operation: 'chat',
      inputTokens: 500 + 1000,
      outputTokens: 200,
      totalTokens: 500 + 1000 + 200,
      cachedInputTokens: 0,
      cacheWriteTokens: 1000,
      cacheWrite1hTokens: 750,
      usageSource: 'reported',
    },
  },
  {
    name: 'Anthropic: server-side web searches are counted beside the tokens',
    provider: 'anthropic',
    file: 'anthropic-message-web-search.json',
    expected: {
      provider: 'anthropic',
      model: 'claude-sonnet-4-5-20250929',
      serviceType: 'llm',
      operation: 'chat',
      inputTokens: 6039,
      outputTokens: 931,
      totalTokens: 6039 + 931,
      webSearches: 1,
      usageSource: 'reported',
    },
  },
  {
    name: 'Anthropic: input_tokens exclude cache reads, so they are added',
    provider: 'anthropic',
    file: 'anthropic-message-cache-read.json',
    expected: {
      provider: 'anthropic',
      model: 'claude-sonnet-4-5-20250929',
      serviceType: 'llm',
      operation: 'chat',
      inputTokens: 21 + 188086,
      outputTokens: 393,
      totalTokens: 21 + 188086 + 393,
      cachedInputTokens: 188086,
      cacheWriteTokens: 0,
      usageSource: 'reported',
    },
  },
  {
    name: 'Anthropic stream: message_delta totals are read, not summed',
    provider: 'anthropic',
    file: 'anthropic-stream.sse',
    expected: {
      provider: 'anthropic',
      model: 'claude-opus-4-1-20250805',
      serviceType: 'llm',
      operation: 'chat',
      inputTokens: 25,
      outputTokens: 15,
      totalTokens: 40,
      usageSource: 'reported',
    },
  },
  {
    name: 'Anthropic stream cut before its end: partial',
    provider: 'anthropic',
    file: 'anthropic-stream-cut.sse',
    expected: {
      provider: 'anthropic',
      model: 'claude-opus-4-1-20250805',
      serviceType: 'llm',
      operation: 'chat',
      inputTokens: 25,
      outputTokens: 1,
      totalTokens: 26,
      usageSource: 'reported',
      partial: true,
    },
  },
  {
    name: 'Gemini: candidatesTokenCount excludes thoughts, so output is their sum',
    provider: 'gemini',
    file: 'gemini-thinking.json',
    expected: {
      provider: 'gemini',
      model: 'gemini-2.5-flash',
      serviceType: 'llm',
      operation: 'generate_content',
      inputTokens: 10,
      outputTokens: 150 + 894,
      reasoningTokens: 894,
      totalTokens: 1054,
      usageSource: 'reported',
    },
  },
  {
    name: 'Gemini: the AUDIO entry of promptTokensDetails is the audio part of the prompt',
    provider: 'gemini',
    file: 'gemini-audio.json',
    expected: {
      provider: 'gemini',
      model: 'gemini-2.5-flash',
      serviceType: 'llm',
      operation: 'generate_content',
      inputTokens: 1927,
      inputAudioTokens: 1920,
      outputTokens: 150 + 380,
      reasoningTokens: 380,
      totalTokens: 2457,
      usageSource: 'reported',
    },
  },
  {
    name: 'Gemini: the AUDIO entry of cacheTokensDetails is the audio part of the cached content',
    provider: 'vertex_ai',
    file: 'gemini-audio-cached.json',
    expected: {
      provider: 'vertex_ai',
      model: 'gemini-2.5-flash',
      serviceType: 'llm',
      operation: 'generate_content',
      inputTokens: 19512,
      cachedInputTokens: 19500,
      inputAudioTokens: 19200,
      cachedAudioTokens: 19200,
      outputTokens: 200,
      totalTokens: 19712,
      usageSource: 'reported',
    },
  },
  {
    name: 'Gemini stream: the last running total, not the sum of chunks',
    provider: 'gemini',
    file: 'gemini-stream.sse',
    expected: {
      provider: 'gemini',
      model: 'gemini-2.0-flash',
      serviceType: 'llm',
      operation: 'generate_content',
      inputTokens: 8,
      outputTokens: 23,
      totalTokens: 31,
      usageSource: 'reported',
    },
  },
  {
    name: 'Vertex stream: a first chunk with an empty usageMetadata is skipped',
    provider: 'vertex_ai',
    file: 'vertex-stream.sse',
    expected: {
      provider: 'vertex_ai',
      model: 'gemini-2.0-flash-001',
      serviceType: 'llm',
      operation: 'generate_content',
      inputTokens: 3,
      outputTokens: 9,
      totalTokens: 12,
      usageSource: 'reported',
    },
  },
  {
    name: 'Gemini embedContent reports no usage: unknown, not 0',
    provider: 'gemini',
    file: 'gemini-embed.json',
    request: { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'hi' }] } },
    expected: {
      provider: 'gemini',
      model: 'gemini-embedding-001',
      requestModel: 'gemini-embedding-001',
      serviceType: 'embedding',
      operation: 'embeddings',
      usageSource: 'missing',
    },
  },
  {
    name: 'Bedrock Converse: inputTokens exclude cache reads, so they are added; model from the request',
    provider: 'aws_bedrock',
    file: 'aws-bedrock-converse-cache.json',
    request: { modelId: 'anthropic.claude-3-7-sonnet-20250219-v1:0', messages: [] },
    expected: {
      provider: 'aws_bedrock',
      model: 'anthropic.claude-3-7-sonnet-20250219-v1:0',
      requestModel: 'anthropic.claude-3-7-sonnet-20250219-v1:0',
      serviceType: 'llm',
      operation: 'chat',
      inputTokens: 15 + 1800,
      outputTokens: 120,
      totalTokens: 1935,
      cachedInputTokens: 1800,
      cacheWriteTokens: 0,
      usageSource: 'reported',
    },
  },
  {
    name: 'Cohere v2 chat: billed units, not raw tokens',
    provider: 'cohere',
    file: 'cohere-chat-v2.json',
    request: { model: 'command-a-03-2025', messages: [] },
    expected: {
      provider: 'cohere',
      model: 'command-a-03-2025',
      requestModel: 'command-a-03-2025',
      serviceType: 'llm',
      operation: 'chat',
      inputTokens: 17,
      outputTokens: 386,
      totalTokens: 403,
      usageSource: 'reported',
    },
  },
  {
    name: 'Cohere rerank bills search units',
    provider: 'cohere',
    file: 'cohere-rerank.json',
    request: { model: 'rerank-v3.5', query: 'q', documents: ['a'] },
    expected: {
      provider: 'cohere',
      model: 'rerank-v3.5',
      requestModel: 'rerank-v3.5',
      serviceType: 'reranking',
      operation: 'rerank',
      searchUnits: 1,
      usageSource: 'reported',
    },
  },
  {
    name: 'Cohere embed',
    provider: 'cohere',
    file: 'cohere-embed.json',
    request: { model: 'embed-v4.0', texts: ['hello', 'goodbye'] },
    expected: {
      provider: 'cohere',
      model: 'embed-v4.0',
      requestModel: 'embed-v4.0',
      serviceType: 'embedding',
      operation: 'embeddings',
      inputTokens: 2,
      totalTokens: 2,
      usageSource: 'reported',
    },
  },
  {
    name: 'Voyage rerank bills tokens',
    provider: 'voyage',
    file: 'voyage-rerank.json',
    request: { model: 'rerank-2.5', query: 'q', documents: ['a', 'b'] },
    expected: {
      provider: 'voyage',
      model: 'rerank-2.5',
      requestModel: 'rerank-2.5',
      serviceType: 'reranking',
      operation: 'rerank',
      inputTokens: 26,
      totalTokens: 26,
      usageSource: 'reported',
    },
  },
  {
    name: 'Ollama chat',
    provider: 'ollama',
    file: 'ollama-chat.json',
    expected: {
      provider: 'ollama',
      model: 'llama3.2',
      serviceType: 'llm',
      operation: 'chat',
      inputTokens: 26,
      outputTokens: 298,
      totalTokens: 324,
      usageSource: 'reported',
    },
  },
  {
    name: 'Ollama NDJSON stream: counts from the done line',
    provider: 'ollama',
    file: 'ollama-chat-stream.ndjson',
    expected: {
      provider: 'ollama',
      model: 'llama3.2',
      serviceType: 'llm',
      operation: 'chat',
      inputTokens: 26,
      outputTokens: 282,
      totalTokens: 308,
      usageSource: 'reported',
    },
  },
];

function input(c: Case) {
  const text = fixture(c.file);
  if (c.file.endsWith('.json')) return { provider: c.provider, request: c.request, response: JSON.parse(text) };
  return { provider: c.provider, request: c.request, stream: text };
}

describe('extractUsage on recorded payloads', () => {
  it.each(cases)('$name', (c) => {
    expect(extractUsage(input(c))).toEqual(c.expected);
  });

  it('reads CRLF-framed streams as LF-framed ones', () => {
    for (const file of ['openai-chat-stream.sse', 'anthropic-stream.sse', 'gemini-stream.sse']) {
      const provider = file.split('-')[0] as string;
      const lf = fixture(file);
      expect(extractUsage({ provider, stream: lf.replace(/\n/g, '\r\n') })).toEqual(extractUsage({ provider, stream: lf }));
    }
  });

  it('reads ConverseStream events (decoded from AWS event-stream) for Bedrock', async () => {
    const { awsBedrockConverter } = await import('./aws-bedrock.ts');
    const events = JSON.parse(fixture('aws-bedrock-converse-stream.json')) as unknown[];
    expect(awsBedrockConverter.fromStream(events, { modelId: 'amazon.nova-pro-v1:0' })).toMatchObject({
      inputTokens: 30,
      outputTokens: 628,
      totalTokens: 658,
      usageSource: 'reported',
    });
    expect(awsBedrockConverter.fromStream(events.slice(0, 2), { modelId: 'amazon.nova-pro-v1:0' })).toMatchObject({
      usageSource: 'missing',
      partial: true,
    });
  });
});

describe('converters on odd input', () => {
  const providers = [
    'openai',
    'azure_openai',
    'groq',
    'mistral',
    'anthropic',
    'aws_bedrock',
    'ollama',
    'gemini',
    'vertex_ai',
    'cohere',
    'voyage',
  ];
  const odd: unknown[] = [null, undefined, 'text', 42, [], {}, { usage: 'lots' }, { usage: { prompt_tokens: -1, input_tokens: 'x' } }];
  it('never throw, and report usage as missing', () => {
    for (const provider of providers) {
      for (const response of odd) {
        const u = extractUsage({ provider, response });
        expect(u.provider).toBe(provider);
        expect(u.usageSource, `${provider} ${JSON.stringify(response)}`).toBe('missing');
        expect(u.inputTokens).toBeUndefined();
      }
      expect(extractUsage({ provider, stream: 'not a stream at all\n\n:::' }).usageSource).toBe('missing');
    }
  });

  it('names the fields it could not read', () => {
    const u = extractUsage({
      provider: 'openai',
      response: { object: 'chat.completion', model: 'gpt-4o', usage: { prompt_tokens: 'ten', completion_tokens: 5 } },
    });
    expect(u).toMatchObject({ outputTokens: 5, usageSource: 'reported', unread: ['prompt_tokens'] });
    expect(u.inputTokens).toBeUndefined();
    const a = extractUsage({
      provider: 'anthropic',
      response: { type: 'message', model: 'claude', usage: { input_tokens: 10, output_tokens: null, cache_read_input_tokens: -4 } },
    });
    expect(a.unread).toEqual(['usage.cache_read_input_tokens']);
  });
});
