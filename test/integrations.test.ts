import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOpenAI } from '@ai-sdk/openai';
import { ChatOpenAI, OpenAIEmbeddings } from '@langchain/openai';
import { generateText, streamText, wrapLanguageModel } from 'ai';
import { describe, expect, it } from 'vitest';
import { isBudgetExceededError, TokenMonitor } from '../src/index.ts';
import { tokenmeterMiddleware } from '../src/integrations/ai-sdk.ts';
import { attachTokenTracking, TokenmeterCallbackHandler, trackEmbeddings } from '../src/integrations/langchain.ts';
import { memoryLogger } from './helpers/otel.ts';
import { fixture, fixtureJson } from './helpers/replay-server.ts';
import { useReplay } from './helpers/use-replay.ts';

const server = useReplay((req) => {
  if (req.path.includes('/embeddings')) return { json: fixtureJson('openai-embeddings.json') };
  const body = req.body as { stream?: boolean; stream_options?: { include_usage?: boolean } };
  if (!body.stream) return { json: fixtureJson('openai-chat-cached.json') };
  return { sse: fixture(body.stream_options?.include_usage ? 'openai-chat-stream.sse' : 'openai-chat-stream-no-usage.sse') };
});

function monitor() {
  const log = memoryLogger();
  return {
    m: new TokenMonitor({ loadConfig: false, logger: log, metrics: { prometheus: false, labels: { agent: true, userId: true } } }),
    log,
  };
}

describe('tokenmeter/langchain', () => {
  it('meters a LangChain chat model from its usage_metadata, cache reads included', async () => {
    const { m } = monitor();
    const model = new ChatOpenAI({
      model: 'gpt-4o',
      apiKey: 'sk-test-langchain-0123456789',
      configuration: { baseURL: `${server.url}/v1` },
      maxRetries: 0,
    });
    const reply = await model.invoke('Hello', attachTokenTracking(undefined, { agentName: 'researcher', userId: 'u1', threadId: 't1' }, m));
    expect(reply.content).toBe('Hello! How can I assist you today?');
    const s = m.usageSummary('openai');
    expect(s).toMatchObject({ requests: 1, inputTokens: 2006, cachedInputTokens: 1920, outputTokens: 300 });
    expect(s.costUsd).toBeCloseTo(0.005615, 12);
    await m.close();
  });

  it("takes the user and thread from the config's configurable.user_id and thread_id, as ASTRA's attach_token_tracking did", async () => {
    const { m } = monitor();
    const model = new ChatOpenAI({
      model: 'gpt-4o',
      apiKey: 'sk-test-langchain-0123456789',
      configuration: { baseURL: `${server.url}/v1` },
      maxRetries: 0,
    });
    const config = attachTokenTracking(
      { configurable: { user_id: 'user@example.com', thread_id: 'conversation-123' } },
      { agentName: 'domain_agent' },
      m,
    );
    // The config passes on unchanged otherwise.
    expect(config.configurable).toEqual({ user_id: 'user@example.com', thread_id: 'conversation-123' });
    await model.invoke('Hello', config);
    // Options given outright win over the config's.
    await model.invoke('Hello', attachTokenTracking({ configurable: { user_id: 'ignored', thread_id: 't9' } }, { userId: 'u9' }, m));
    const [one] = await m.records({ threadId: 'conversation-123' });
    expect(one).toMatchObject({ userId: 'user@example.com', threadId: 'conversation-123', agent: 'domain_agent', inputTokens: 2006 });
    const [two] = await m.records({ threadId: 't9' });
    expect(two).toMatchObject({ userId: 'u9', threadId: 't9' });
    expect((await m.userUsage('user@example.com')).totals.requests).toBe(1);
    await m.close();
  });

  it('refuses a run an enforced budget cannot afford before the model is called', async () => {
    const m = new TokenMonitor({
      dir: mkdtempSync(join(tmpdir(), 'tm-langchain-')),
      loadConfig: false,
      metrics: false,
      logLevel: 'silent',
    });
    // A run without max_tokens holds about $0.0103 (1,024 output tokens of gpt-4o); the recorded
    // answer costs $0.005615: after one run, the next does not fit.
    m.setBudget({ scope: 'user', scopeId: 'u1', limit: 0.011, enforce: true });
    const model = new ChatOpenAI({
      model: 'gpt-4o',
      apiKey: 'sk-test-langchain-0123456789',
      configuration: { baseURL: `${server.url}/v1` },
      maxRetries: 0,
    });
    const config = attachTokenTracking({ configurable: { user_id: 'u1' } }, {}, m);
    await model.invoke('Hello', config);
    expect(m.status()[0]).toMatchObject({ reserved: 0, used: 0.005615 });
    const sent = server.requests.length;
    await expect(model.invoke('Hello', config)).rejects.toSatisfy(isBudgetExceededError);
    expect(server.requests.length).toBe(sent);
    expect(m.usageSummary('openai').requests).toBe(1);
    // Another user's runs go on.
    await model.invoke('Hello', attachTokenTracking(undefined, { userId: 'u2' }, m));
    expect(m.usageSummary('openai').requests).toBe(2);
    await m.close();
  });

  it('adds to existing callbacks and records failures', async () => {
    const { m } = monitor();
    const model = new ChatOpenAI({
      model: 'gpt-4o',
      apiKey: 'sk-test-langchain-0123456789',
      configuration: { baseURL: `${server.url}/v1` },
      maxRetries: 0,
    });
    const other = new TokenmeterCallbackHandler({ agentName: 'other' }, m);
    const config = attachTokenTracking({ callbacks: [other] }, { agentName: 'researcher' }, m);
    expect(config.callbacks).toHaveLength(2);
    server.next = { status: 500, json: { error: { message: 'server error', type: 'server_error' } } };
    await expect(model.invoke('Hello', { callbacks: [new TokenmeterCallbackHandler({ agentName: 'researcher' }, m)] })).rejects.toThrow();
    expect(m.usageSummary('openai')).toMatchObject({ requests: 1, errors: 1 });
    await m.close();
  });
});

describe('tokenmeter/langchain audio', () => {
  it("reads the audio tokens ChatOpenAI reports (input_token_details.audio, output_token_details.audio) and prices them at gpt-audio's rates", async () => {
    const { m } = monitor();
    const model = new ChatOpenAI({
      model: 'gpt-audio-2025-08-28',
      apiKey: 'sk-test-langchain-0123456789',
      configuration: { baseURL: `${server.url}/v1` },
      maxRetries: 0,
    });
    server.next = { json: fixtureJson('openai-chat-audio.json') };
    const reply = await model.invoke('Whose name is mentioned in the audio?', attachTokenTracking(undefined, { agentName: 'listener' }, m));
    expect(reply.usage_metadata).toMatchObject({ input_token_details: { audio: 44 }, output_token_details: { audio: 47 } });
    const [rec] = await m.records({ limit: 1 });
    expect(rec).toMatchObject({
      model: 'gpt-audio-2025-08-28',
      inputTokens: 64,
      inputAudioTokens: 44,
      outputTokens: 56,
      outputAudioTokens: 47,
    });
    // gpt-audio per 1M: 20 text in at $2.50, 44 audio in at $32, 9 text out at $10, 47 audio out at $64
    expect(rec?.costUsd).toBe(0.004556);
    await m.close();
  });
});

describe('tokenmeter/langchain embeddings', () => {
  it('meters OpenAIEmbeddings per request from the usage the API reports', async () => {
    const { m } = monitor();
    const embeddings = trackEmbeddings(
      new OpenAIEmbeddings({
        model: 'text-embedding-3-small',
        apiKey: 'sk-test-langchain-0123456789',
        configuration: { baseURL: `${server.url}/v1` },
      }),
      { agentName: 'indexer' },
      m,
    );
    expect(trackEmbeddings(embeddings, {}, m)).toBe(embeddings);
    expect(await embeddings.embedQuery('Hello world')).toEqual([0.0023064255, -0.009327292, -0.0028842222]);
    await embeddings.embedDocuments(['Hello world']);
    const recs = await m.records({ agent: 'indexer' });
    expect(recs).toHaveLength(2);
    expect(recs[0]).toMatchObject({
      provider: 'openai',
      model: 'text-embedding-3-small',
      serviceType: 'embedding',
      inputTokens: 8,
      agent: 'indexer',
    });
    // $0.02 per 1M tokens
    expect(m.usageSummary('openai').costUsd).toBeCloseTo((2 * 8 * 0.02) / 1e6, 15);
    // A failed request (400: LangChain does not retry it) is recorded with its error, and rethrown.
    server.next = { status: 400, json: { error: { message: "'input' is required", type: 'invalid_request_error' } } };
    await expect(embeddings.embedQuery('Hello')).rejects.toThrow(/input/);
    expect(m.usageSummary('openai')).toMatchObject({ requests: 3, errors: 1 });
    await m.close();
  });

  it('meters other embeddings per call with tokens counted from the texts, once even when one method calls another', async () => {
    const { m } = monitor();
    const { SyntheticEmbeddings } = await import('@langchain/core/utils/testing');
    const embeddings = trackEmbeddings(new SyntheticEmbeddings({ vectorSize: 4 }), { provider: 'voyage' }, m);
    Object.assign(embeddings, { model: 'voyage-3.5' });
    const docs = ['The quick brown fox', 'jumps over the lazy dog'];
    // SyntheticEmbeddings' embedDocuments calls its embedQuery for each text: one call, one record.
    expect(await embeddings.embedDocuments(docs)).toHaveLength(2);
    await m.flush();
    const recs = await m.records({ provider: 'voyage' });
    expect(recs).toHaveLength(1);
    const { Tiktoken } = await import('js-tiktoken/lite');
    const { default: o200k } = await import('js-tiktoken/ranks/o200k_base');
    const tokens = docs.reduce((n, d) => n + new Tiktoken(o200k).encode(d).length, 0);
    expect(recs[0]).toMatchObject({ provider: 'voyage', model: 'voyage-3.5', serviceType: 'embedding', inputTokens: tokens });
    expect(recs[0]?.metadata).toMatchObject({ usage: 'estimated' });
    // voyage-3.5: $0.06 per 1M tokens
    expect(recs[0]?.costUsd).toBeCloseTo((tokens * 0.06) / 1e6, 15);
    await m.close();
  });
});

describe('tokenmeter/langchain with Anthropic usage_metadata', () => {
  it('keeps one-hour cache writes apart, as ChatAnthropic reports them, and prices them at their rate', async () => {
    const { m } = monitor();
    const handler = new TokenmeterCallbackHandler({ agentName: 'researcher' }, m);
    const { AIMessage } = await import('@langchain/core/messages');
    // ChatAnthropic's usage_metadata for a call that wrote 1,000 tokens to the cache, 750 of them for 1 hour.
    const message = new AIMessage({
      content: 'Here is a summary.',
      response_metadata: { model: 'claude-sonnet-4-5-20250929' },
      usage_metadata: {
        input_tokens: 1500,
        output_tokens: 200,
        total_tokens: 1700,
        input_token_details: { cache_read: 0, cache_creation: 1000, ephemeral_1h_input_tokens: 750, ephemeral_5m_input_tokens: 250 },
      },
    } as never);
    const runId = 'lc-run-1';
    handler.handleChatModelStart({ lc: 1, type: 'not_implemented', id: [] }, [], runId, undefined, {}, [], { ls_provider: 'anthropic' });
    handler.handleLLMEnd({ generations: [[{ text: 'Here is a summary.', message } as never]] }, runId);
    const [rec] = await m.records({ limit: 1 });
    expect(rec).toMatchObject({ provider: 'anthropic', inputTokens: 1500, cacheWriteTokens: 1000, cacheWrite1hTokens: 750 });
    // claude-sonnet-4-5 per 1M: 500 fresh at $3, 250 at $3.75 (5 min), 750 at $6 (1 h), 200 output at $15
    expect(rec?.costUsd).toBeCloseTo((500 * 3 + 250 * 3.75 + 750 * 6 + 200 * 15) / 1e6, 12);
    await m.close();
  });
});

describe('tokenmeter/ai-sdk', () => {
  const provider = () => createOpenAI({ apiKey: 'sk-test-aisdk-0123456789', baseURL: `${server.url}/v1` });

  it('meters generateText through wrapLanguageModel', async () => {
    const { m } = monitor();
    const model = wrapLanguageModel({ model: provider().chat('gpt-4o'), middleware: tokenmeterMiddleware({ agent: 'writer' }, m) });
    const { text } = await generateText({ model, prompt: 'Hello', maxRetries: 0 });
    expect(text).toBe('Hello! How can I assist you today?');
    expect(m.usageSummary('openai')).toMatchObject({ requests: 1, inputTokens: 2006, cachedInputTokens: 1920, outputTokens: 300 });
    await m.close();
  });

  it('refuses a call an enforced budget cannot afford before the model is called; one it can afford gives its hold back when it ends', async () => {
    const m = new TokenMonitor({ dir: mkdtempSync(join(tmpdir(), 'tm-aisdk-')), loadConfig: false, metrics: false, logLevel: 'silent' });
    // The recorded answer costs $0.005615: one call spends this budget.
    m.setBudget({ scope: 'user', scopeId: 'u1', limit: 0.005, enforce: true });
    const model = wrapLanguageModel({ model: provider().chat('gpt-4o'), middleware: tokenmeterMiddleware({ userId: 'u1' }, m) });
    // A call with room: its estimate is held while it runs, and its real cost counted when it ends.
    await generateText({ model, prompt: 'Hello', maxOutputTokens: 100, maxRetries: 0 });
    expect(m.status()[0]).toMatchObject({ reserved: 0, level: 'exceeded' });
    const sent = server.requests.length;
    await expect(generateText({ model, prompt: 'Hello', maxRetries: 0 })).rejects.toSatisfy(isBudgetExceededError);
    // Nothing was sent, nothing recorded.
    expect(server.requests.length).toBe(sent);
    expect(m.usageSummary('openai').requests).toBe(1);
    await m.close();
  });

  it("reads what the provider's raw usage adds: one-hour cache writes and web searches (Anthropic)", async () => {
    const { m } = monitor();
    const { MockLanguageModelV4 } = await import('ai/test');
    // An Anthropic model's doGenerate result as @ai-sdk/anthropic returns it: the common counts, and the raw usage.
    const anthropic = new MockLanguageModelV4({
      provider: 'anthropic.messages',
      modelId: 'claude-sonnet-4-5-20250929',
      doGenerate: async () => ({
        content: [{ type: 'text', text: 'Shannon was born in 1916.' }],
        finishReason: { unified: 'stop', raw: 'end_turn' },
        usage: {
          inputTokens: { total: 1500, noCache: 500, cacheRead: 0, cacheWrite: 1000 },
          outputTokens: { total: 200, text: 200, reasoning: undefined },
          raw: {
            input_tokens: 500,
            output_tokens: 200,
            cache_creation_input_tokens: 1000,
            cache_read_input_tokens: 0,
            cache_creation: { ephemeral_5m_input_tokens: 250, ephemeral_1h_input_tokens: 750 },
            server_tool_use: { web_search_requests: 1 },
          },
        },
        warnings: [],
      }),
    });
    const model = wrapLanguageModel({ model: anthropic, middleware: tokenmeterMiddleware({}, m) });
    await generateText({ model, prompt: 'When was Shannon born?', maxRetries: 0 });
    const [rec] = await m.records({ limit: 1 });
    expect(rec).toMatchObject({
      provider: 'anthropic',
      inputTokens: 1500,
      cacheWriteTokens: 1000,
      cacheWrite1hTokens: 750,
      webSearches: 1,
    });
    // claude-sonnet-4-5 per 1M: 500 fresh at $3, 250 at $3.75, 750 at $6, 200 output at $15; one search at $0.01
    expect(rec?.costUsd).toBeCloseTo((500 * 3 + 250 * 3.75 + 750 * 6 + 200 * 15) / 1e6 + 0.01, 12);
    await m.close();
  });

  it("reads Gemini's audio tokens from the provider's raw usage and prices them at the audio rate", async () => {
    const { m } = monitor();
    const { MockLanguageModelV4 } = await import('ai/test');
    // test/fixtures/gemini-audio.json's usageMetadata as @ai-sdk/google hands it on: the common counts
    // (convertGoogleUsage), and as raw the usageMetadata its schema keeps.
    const raw = {
      promptTokenCount: 1927,
      candidatesTokenCount: 150,
      totalTokenCount: 2457,
      thoughtsTokenCount: 380,
      promptTokensDetails: [
        { modality: 'TEXT', tokenCount: 7 },
        { modality: 'AUDIO', tokenCount: 1920 },
      ],
      candidatesTokensDetails: [{ modality: 'TEXT', tokenCount: 150 }],
    };
    const gemini = new MockLanguageModelV4({
      provider: 'google.generative-ai',
      modelId: 'gemini-2.5-flash',
      doGenerate: async () => ({
        content: [{ type: 'text', text: 'The clip is a short interview.' }],
        finishReason: { unified: 'stop', raw: 'STOP' },
        usage: {
          inputTokens: { total: 1927, noCache: 1927, cacheRead: 0, cacheWrite: undefined },
          outputTokens: { total: 530, text: 150, reasoning: 380 },
          raw,
        },
        warnings: [],
      }),
    });
    const model = wrapLanguageModel({ model: gemini, middleware: tokenmeterMiddleware({}, m) });
    await generateText({ model, prompt: 'Describe this audio clip', maxRetries: 0 });
    const [rec] = await m.records({ limit: 1 });
    expect(rec).toMatchObject({ provider: 'gemini', inputTokens: 1927, inputAudioTokens: 1920, outputTokens: 530 });
    expect(rec?.outputAudioTokens).toBeNull();
    // gemini-2.5-flash per 1M: 7 text in at $0.30, 1,920 audio in at $1, 530 output at $2.50
    expect(rec?.costUsd).toBe(0.0032471);
    await m.close();
  });

  it('meters streamText when the stream ends, without changing what the caller reads', async () => {
    const { m } = monitor();
    const model = wrapLanguageModel({ model: provider().chat('gpt-4o'), middleware: tokenmeterMiddleware({}, m) });
    const result = streamText({ model, prompt: 'Hello', maxRetries: 0 });
    let text = '';
    for await (const t of result.textStream) text += t;
    expect(text).toBe('Hello!');
    expect(m.usageSummary('openai')).toMatchObject({ requests: 1, inputTokens: 9, outputTokens: 2 });
    await m.close();
  });
});
