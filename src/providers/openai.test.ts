import { describe, expect, it } from 'vitest';
import { fixture, fixtureJson } from '../../test/helpers/replay-server.ts';
import { openaiConverter } from './openai.ts';
import { parseStreamText } from './stream-text.ts';
import type { Usage } from './types.ts';

// Fixtures and where they come from: test/fixtures/openai.sources.md. Each expectation applies
// OpenAI's billing semantics by hand: prompt/input tokens already include cached and cache-write
// tokens, completion/output tokens already include reasoning tokens.
type Case = { name: string; file: string; request?: string; expected: Usage };

const chat = { provider: 'openai', serviceType: 'llm', operation: 'chat' } as const;

const responses: Case[] = [
  {
    name: 'chat completion',
    file: 'openai-chat.json',
    request: 'openai-chat.request.json',
    expected: {
      ...chat,
      model: 'gpt-5.4',
      requestModel: 'gpt-5.4',
      inputTokens: 19,
      outputTokens: 10,
      totalTokens: 29,
      cachedInputTokens: 0,
      reasoningTokens: 0,
      // Every chat completion reports its audio tokens, 0 when there were none.
      inputAudioTokens: 0,
      outputAudioTokens: 0,
      usageSource: 'reported',
    },
  },
  {
    name: 'chat completion with a cache hit: prompt_tokens include the cached tokens',
    file: 'openai-chat-cache-hit.json',
    expected: {
      ...chat,
      model: 'gpt-5.4',
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
    name: 'chat completion with reasoning: completion_tokens include the reasoning tokens',
    file: 'openai-chat-reasoning-tokens.json',
    expected: {
      ...chat,
      model: 'gpt-5.4',
      inputTokens: 19,
      outputTokens: 202,
      totalTokens: 221,
      cachedInputTokens: 0,
      reasoningTokens: 192,
      inputAudioTokens: 0,
      outputAudioTokens: 0,
      usageSource: 'reported',
    },
  },
  {
    name: 'chat completion with audio in and out: prompt_tokens and completion_tokens include the audio tokens',
    file: 'openai-chat-audio.json',
    expected: {
      ...chat,
      model: 'gpt-audio-2025-08-28',
      inputTokens: 64,
      outputTokens: 56,
      totalTokens: 120,
      cachedInputTokens: 0,
      reasoningTokens: 0,
      inputAudioTokens: 44,
      outputAudioTokens: 47,
      usageSource: 'reported',
    },
  },
  {
    name: 'chat completion without a usage field: missing, not zero',
    file: 'openai-chat-no-usage.json',
    request: 'openai-chat.request.json',
    expected: { ...chat, model: 'gpt-5.4', requestModel: 'gpt-5.4', usageSource: 'missing' },
  },
  {
    name: 'legacy completion',
    file: 'openai-completions.json',
    request: 'openai-completions.request.json',
    expected: {
      ...chat,
      operation: 'text_completion',
      model: 'gpt-3.5-turbo-instruct',
      requestModel: 'gpt-3.5-turbo-instruct',
      inputTokens: 5,
      outputTokens: 7,
      totalTokens: 12,
      usageSource: 'reported',
    },
  },
  {
    name: 'Responses API',
    file: 'openai-responses-text.json',
    request: 'openai-responses-text.request.json',
    expected: {
      ...chat,
      model: 'gpt-5.4',
      requestModel: 'gpt-5.4',
      inputTokens: 36,
      outputTokens: 87,
      totalTokens: 123,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      reasoningTokens: 0,
      usageSource: 'reported',
    },
  },
  {
    name: 'Responses API with reasoning: output_tokens include the reasoning tokens',
    file: 'openai-responses-reasoning.json',
    request: 'openai-responses-reasoning.request.json',
    expected: {
      ...chat,
      model: 'o1-2024-12-17',
      requestModel: 'o3-mini',
      inputTokens: 81,
      outputTokens: 1035,
      totalTokens: 1116,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      reasoningTokens: 832,
      usageSource: 'reported',
    },
  },
  {
    name: "embeddings: the response's model wins over the request's",
    file: 'openai-embeddings-node.json',
    request: 'openai-embeddings-node.request.json',
    expected: {
      provider: 'openai',
      serviceType: 'embedding',
      operation: 'embeddings',
      model: 'text-embedding-3-large',
      requestModel: 'text-embedding-3-small',
      inputTokens: 1,
      totalTokens: 1,
      usageSource: 'reported',
    },
  },
];

const streamed = { ...chat, model: 'gpt-4o-2024-08-06' } as const;
const streams: Case[] = [
  {
    name: 'chat stream with include_usage: usage from the last chunk',
    file: 'openai-stream.sse',
    request: 'openai-stream.request.json',
    expected: {
      ...streamed,
      requestModel: 'gpt-4o-2024-08-06',
      inputTokens: 79,
      outputTokens: 1,
      totalTokens: 80,
      reasoningTokens: 0,
      usageSource: 'reported',
    },
  },
  {
    name: 'chat stream recorded by openai-node',
    file: 'openai-stream-node.sse',
    expected: { ...streamed, inputTokens: 17, outputTokens: 10, totalTokens: 27, usageSource: 'reported' },
  },
  {
    name: 'chat stream with n=3: one usage chunk for all choices',
    file: 'openai-stream-n3.sse',
    expected: { ...streamed, inputTokens: 79, outputTokens: 42, totalTokens: 121, reasoningTokens: 0, usageSource: 'reported' },
  },
  {
    name: 'chat stream without include_usage: missing, and not partial (every choice finished)',
    file: 'openai-stream-no-usage.sse',
    expected: { ...streamed, usageSource: 'missing' },
  },
  {
    name: 'chat stream cut before its finish chunk: partial',
    file: 'openai-stream-truncated.sse',
    expected: { ...streamed, usageSource: 'missing', partial: true },
  },
  {
    name: 'Responses stream: usage from response.completed',
    file: 'openai-responses-stream-ref.sse',
    request: 'openai-responses-stream-ref.request.json',
    expected: {
      ...chat,
      model: 'gpt-5.4',
      requestModel: 'gpt-5.4',
      inputTokens: 37,
      outputTokens: 11,
      totalTokens: 48,
      reasoningTokens: 0,
      usageSource: 'reported',
    },
  },
];

const request = (c: Case) => (c.request === undefined ? undefined : fixtureJson(c.request));

describe('openaiConverter on recorded payloads', () => {
  it.each(responses)('$name', (c) => {
    expect(openaiConverter.fromResponse(fixtureJson(c.file), request(c))).toEqual(c.expected);
  });
  it.each(streams)('$name', (c) => {
    expect(openaiConverter.fromStream(parseStreamText(fixture(c.file)), request(c))).toEqual(c.expected);
  });
  it.each(streams)('reads $file framed with CRLF as with LF', (c) => {
    const lf = fixture(c.file);
    expect(lf).not.toContain('\r');
    const crlf = openaiConverter.fromStream(parseStreamText(lf.replace(/\n/g, '\r\n')), request(c));
    expect(crlf).toEqual(openaiConverter.fromStream(parseStreamText(lf), request(c)));
  });
});

describe('openaiConverter on cut, compatible and odd streams', () => {
  const events = (file: string) => parseStreamText(fixture(file));

  it('marks an n=3 stream partial when some choices never finished', () => {
    // The last three events are choice 1's and choice 2's finish chunks and the usage chunk.
    expect(openaiConverter.fromStream(events('openai-stream-n3.sse').slice(0, -3))).toEqual({
      ...streamed,
      usageSource: 'missing',
      partial: true,
    });
  });

  it('marks a Responses stream without its response.completed partial', () => {
    const cut = events('openai-responses-stream-ref.sse').slice(0, -1);
    expect(openaiConverter.fromStream(cut)).toEqual({ ...chat, model: 'gpt-5.4', usageSource: 'missing', partial: true });
  });

  it('reads usage from response.incomplete, and ignores the zeros of response.created', () => {
    const response = (status: string, usage: unknown) => ({ object: 'response', model: 'o3-2025-04-16', status, usage });
    const zeros = { input_tokens: 0, output_tokens: 0, total_tokens: 0 };
    const created = { type: 'response.created', response: response('in_progress', zeros) };
    const incomplete = {
      type: 'response.incomplete',
      response: response('incomplete', { ...zeros, input_tokens: 20, output_tokens: 64, total_tokens: 84 }),
    };
    const base = { ...chat, model: 'o3-2025-04-16' };
    expect(openaiConverter.fromStream([created])).toEqual({ ...base, usageSource: 'missing', partial: true });
    expect(openaiConverter.fromStream([created, incomplete])).toEqual({
      ...base,
      inputTokens: 20,
      outputTokens: 64,
      totalTokens: 84,
      usageSource: 'reported',
    });
  });

  it('counts the web searches of a Responses stream from its response.completed, not the pages it opened', () => {
    const done = {
      type: 'response.completed',
      response: {
        object: 'response',
        model: 'gpt-5-2025-08-07',
        status: 'completed',
        output: [
          { type: 'web_search_call', id: 'ws_1', status: 'completed', action: { type: 'search', query: 'tokenmeter' } },
          { type: 'web_search_call', id: 'ws_2', status: 'completed', action: { type: 'open_page', url: 'https://example.com' } },
          { type: 'web_search_call', id: 'ws_3', status: 'completed', action: { type: 'search', query: 'genai prices' } },
          { type: 'message', id: 'msg_1', status: 'completed', role: 'assistant', content: [] },
        ],
        usage: { input_tokens: 900, output_tokens: 120, total_tokens: 1020 },
      },
    };
    expect(openaiConverter.fromStream([done])).toMatchObject({ inputTokens: 900, outputTokens: 120, webSearches: 2 });
    // A response without web searches says nothing of them.
    expect(openaiConverter.fromStream([{ ...done, response: { ...done.response, output: [] } }]).webSearches).toBeUndefined();
  });

  it("skips Azure's prompt_filter_results chunk, which has no model", () => {
    const filter = {
      choices: [],
      created: 0,
      id: '',
      model: '',
      object: '',
      prompt_filter_results: [{ prompt_index: 0, content_filter_results: {} }],
    };
    const expected = openaiConverter.fromStream(events('openai-stream.sse'));
    expect(openaiConverter.fromStream([filter, ...events('openai-stream.sse')])).toEqual(expected);
    expect(expected.model).toBe('gpt-4o-2024-08-06');
  });

  it('reads a legacy completions stream as text_completion', () => {
    const chunk = (choices: unknown[], usage?: unknown) => ({ object: 'text_completion', model: 'gpt-3.5-turbo-instruct', choices, usage });
    const stream = [
      chunk([{ index: 0, text: 'This', finish_reason: null }]),
      chunk([{ index: 0, text: '', finish_reason: 'length' }]),
      chunk([], { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 }),
    ];
    expect(openaiConverter.fromStream(stream)).toMatchObject({
      operation: 'text_completion',
      inputTokens: 5,
      outputTokens: 7,
      usageSource: 'reported',
    });
    expect(openaiConverter.fromStream(stream).partial).toBeUndefined();
  });

  it('tells embeddings from Responses calls by the request alone', () => {
    expect(openaiConverter.fromResponse(undefined, { model: 'text-embedding-3-small', input: ['a', 'b'] })).toMatchObject({
      serviceType: 'embedding',
      operation: 'embeddings',
    });
    expect(openaiConverter.fromResponse(undefined, { model: 'gpt-5.4', input: 'Hi' })).toMatchObject({
      serviceType: 'llm',
      operation: 'chat',
    });
    expect(openaiConverter.fromResponse(undefined, { model: 'my-model', instructions: 'Be brief.', input: 'Hi' })).toMatchObject({
      operation: 'chat',
    });
  });
});

describe('openaiConverter on the processing tier', () => {
  const events = (file: string) => parseStreamText(fixture(file));
  const flex = (body: string) => body.replace(/"service_tier":\s*"default"/g, '"service_tier":"flex"');

  it('keeps a tier other than the standard one from a response, a chat stream and a Responses stream', () => {
    const response = JSON.parse(flex(fixture('openai-chat-cached.json')));
    expect(response.service_tier).toBe('flex');
    expect(openaiConverter.fromResponse(response).serviceTier).toBe('flex');
    const chunks = events('openai-chat-stream.sse').map((e) => ({ ...(e as object), service_tier: 'priority' }));
    expect(openaiConverter.fromStream(chunks).serviceTier).toBe('priority');
    const responses = events('openai-responses-stream.sse').map((e) => {
      const r = (e as { response?: object }).response;
      return r === undefined ? e : { ...(e as object), response: { ...r, service_tier: 'flex' } };
    });
    expect(openaiConverter.fromStream(responses).serviceTier).toBe('flex');
  });

  it('leaves the standard tier unsaid', () => {
    expect(openaiConverter.fromResponse(JSON.parse(fixture('openai-chat-cached.json')))).not.toHaveProperty('serviceTier');
  });
});

describe('openaiConverter on the Realtime API', () => {
  // The API reference's response.done: 132 input (13 audio; 64 cached, all text), 121 output (91 audio).
  const done = fixtureJson<{ response: unknown }>('openai-realtime-response-done.json');
  const expected: Usage = {
    ...chat,
    model: 'gpt-realtime',
    requestModel: 'gpt-realtime',
    inputTokens: 132,
    outputTokens: 121,
    totalTokens: 253,
    cachedInputTokens: 64,
    inputAudioTokens: 13,
    cachedAudioTokens: 0,
    outputAudioTokens: 91,
    usageSource: 'reported',
  };

  it('reads a response.done event, or its response, with the model from the session', () => {
    expect(openaiConverter.fromResponse(done, { model: 'gpt-realtime' })).toEqual(expected);
    expect(openaiConverter.fromResponse(done.response, { model: 'gpt-realtime' })).toEqual(expected);
  });

  it('keeps cached audio within the cached and the audio counts, and names odd details', () => {
    const usage = {
      input_tokens: 500,
      output_tokens: 10,
      input_token_details: { audio_tokens: 300, cached_tokens: 200, cached_tokens_details: { audio_tokens: 250 } },
      output_token_details: { audio_tokens: 'many' },
    };
    expect(openaiConverter.fromResponse({ object: 'realtime.response', usage })).toMatchObject({
      inputAudioTokens: 300,
      cachedAudioTokens: 200,
      unread: ['output_token_details.audio_tokens'],
    });
    const odd = { input_tokens: 5, input_token_details: { cached_tokens: 0, cached_tokens_details: 7 } };
    expect(openaiConverter.fromResponse({ object: 'realtime.response', usage: odd }).unread).toEqual([
      'input_token_details.cached_tokens_details',
    ]);
  });
});

describe('openaiConverter on odd input', () => {
  const nothing: Usage = { ...chat, usageSource: 'missing' };

  it.each([null, undefined, 'a string', 42, [], {}])('does not throw on %j', (body) => {
    expect(openaiConverter.fromResponse(body)).toEqual(nothing);
    expect(openaiConverter.fromStream([body])).toEqual({ ...nothing, partial: true });
  });

  it('leaves counts of the wrong type undefined and names them in unread', () => {
    const usage = {
      prompt_tokens: '12',
      completion_tokens: 5,
      total_tokens: -1,
      prompt_tokens_details: 7,
      completion_tokens_details: { reasoning_tokens: null, audio_tokens: '47' },
    };
    expect(openaiConverter.fromResponse({ object: 'chat.completion', model: 'gpt-4o', usage })).toEqual({
      ...chat,
      model: 'gpt-4o',
      outputTokens: 5,
      usageSource: 'reported',
      unread: ['prompt_tokens', 'total_tokens', 'prompt_tokens_details', 'completion_tokens_details.audio_tokens'],
    });
  });

  it('names a usage that is not an object', () => {
    expect(openaiConverter.fromResponse({ object: 'chat.completion', usage: 'lots' })).toEqual({ ...nothing, unread: ['usage'] });
    const completed = { type: 'response.completed', response: { model: 'gpt-5.4', usage: { input_tokens: 'x', output_tokens: 3 } } };
    expect(openaiConverter.fromStream([completed])).toEqual({
      ...chat,
      model: 'gpt-5.4',
      outputTokens: 3,
      usageSource: 'reported',
      unread: ['input_tokens'],
    });
  });

  it('does not throw on streams of junk', () => {
    expect(openaiConverter.fromStream([])).toEqual({ ...nothing, partial: true });
    expect(openaiConverter.fromStream([{ choices: 'x' }, { choices: [null, 3, { index: 'a' }] }, { type: 'response.completed' }])).toEqual(
      nothing,
    );
  });
});
