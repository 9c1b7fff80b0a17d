import { describe, expect, it } from 'vitest';
import { fixture, fixtureJson } from '../../test/helpers/replay-server.ts';
import { ollamaConverter } from './ollama.ts';
import { parseStreamText } from './stream-text.ts';
import type { Usage } from './types.ts';

// Fixtures and where they come from: test/fixtures/ollama.sources.md and SOURCES.md. The ollama
// client hands these bodies over as the server sent them (snake_case), so they are what the
// instrumented client reads too.
type Case = { name: string; file: string; request: unknown; expected: Usage };

const base = { provider: 'ollama', usageSource: 'reported' } as const;
const chat = { ...base, serviceType: 'llm', operation: 'chat', model: 'llama3.2', requestModel: 'llama3.2' } as const;
const text = { ...base, serviceType: 'llm', operation: 'text_completion', model: 'llama3.2', requestModel: 'llama3.2' } as const;
const chatRequest = { model: 'llama3.2', messages: [{ role: 'user', content: 'why is the sky blue?' }] };
const generateRequest = { model: 'llama3.2', prompt: 'Why is the sky blue?' };

const responses: Case[] = [
  {
    name: '/api/chat',
    file: 'ollama-chat.json',
    request: chatRequest,
    expected: { ...chat, inputTokens: 26, outputTokens: 298, totalTokens: 324 },
  },
  {
    name: '/api/generate: a text completion',
    file: 'ollama-generate.json',
    request: generateRequest,
    expected: { ...text, inputTokens: 26, outputTokens: 290, totalTokens: 316 },
  },
  {
    name: '/api/embed: prompt_eval_count is all input',
    file: 'ollama-embed.json',
    request: { model: 'all-minilm', input: 'Why is the sky blue?' },
    expected: {
      ...base,
      serviceType: 'embedding',
      operation: 'embeddings',
      model: 'all-minilm',
      requestModel: 'all-minilm',
      inputTokens: 8,
      totalTokens: 8,
    },
  },
  {
    name: 'legacy /api/embeddings: no counts, so unknown',
    file: 'ollama-embeddings.json',
    request: { model: 'all-minilm', prompt: 'Here is an article about llamas...' },
    expected: {
      provider: 'ollama',
      serviceType: 'embedding',
      operation: 'embeddings',
      model: 'all-minilm',
      requestModel: 'all-minilm',
      usageSource: 'missing',
    },
  },
];

const streams: Case[] = [
  {
    name: 'chat stream: counts from the done line',
    file: 'ollama-chat-stream.ndjson',
    request: { ...chatRequest, stream: true },
    expected: { ...chat, inputTokens: 26, outputTokens: 282, totalTokens: 308 },
  },
  {
    name: 'generate stream',
    file: 'ollama-generate-stream.ndjson',
    request: { ...generateRequest, stream: true },
    expected: { ...text, inputTokens: 26, outputTokens: 259, totalTokens: 285 },
  },
  {
    name: 'stream that failed midway (an error line, no done line): partial',
    file: 'ollama-stream-error.ndjson',
    request: { model: 'gemma4', prompt: 'Is the sky blue?', stream: true },
    expected: {
      provider: 'ollama',
      serviceType: 'llm',
      operation: 'text_completion',
      model: 'gemma4',
      requestModel: 'gemma4',
      usageSource: 'missing',
      partial: true,
    },
  },
];

describe('ollamaConverter on recorded payloads', () => {
  it.each(responses)('$name', (c) => {
    expect(ollamaConverter.fromResponse(fixtureJson(c.file), c.request)).toEqual(c.expected);
  });
  it.each(streams)('$name', (c) => {
    expect(ollamaConverter.fromStream(parseStreamText(fixture(c.file)), c.request)).toEqual(c.expected);
  });

  it('reads a stream the caller left before its done line as partial, usage unknown', () => {
    const events = parseStreamText(fixture('ollama-chat-stream.ndjson')).slice(0, 1);
    expect(ollamaConverter.fromStream(events, chatRequest)).toEqual({ ...chat, usageSource: 'missing', partial: true });
  });

  it('leaves input unknown, not 0, when a fully cached prompt sends no prompt_eval_count', () => {
    const { prompt_eval_count: _, ...rest } = fixtureJson<Record<string, unknown>>('ollama-chat.json');
    expect(ollamaConverter.fromResponse(rest, chatRequest)).toEqual({ ...chat, outputTokens: 298 });
  });

  it('reads a failed call (no body) from its request', () => {
    expect(ollamaConverter.fromResponse(undefined, chatRequest)).toEqual({ ...chat, usageSource: 'missing' });
    expect(ollamaConverter.fromResponse(undefined, { model: 'all-minilm', input: ['a'] })).toMatchObject({
      serviceType: 'embedding',
      usageSource: 'missing',
    });
  });
});
