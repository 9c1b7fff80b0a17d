import Groq from 'groq-sdk';
import OpenAI, { AzureOpenAI } from 'openai';
import { describe, expect, it } from 'vitest';
import { extractUsage, INSTRUMENT, TokenMonitor } from '../src/index.ts';
import { memoryLogger, readerFor, sums, type TestReader } from './helpers/otel.ts';
import { fixture, fixtureJson, type ReceivedRequest, type Reply } from './helpers/replay-server.ts';
import { useReplay } from './helpers/use-replay.ts';

// The official clients, pointed with their base URL option at a local server replaying recorded
// payloads (test/fixtures/SOURCES.md). No fetch is mocked.
function route(req: ReceivedRequest): Reply {
  const body = req.body as { stream?: boolean; stream_options?: { include_usage?: boolean } } | undefined;
  if (req.path.includes('/embeddings')) return { json: fixtureJson('openai-embeddings.json') };
  if (req.path.includes('/responses'))
    return body?.stream ? { sse: fixture('openai-responses-stream.sse') } : { json: fixtureJson('openai-responses.json') };
  if (req.path.includes('/chat/completions')) {
    if (req.path.startsWith('/groq'))
      return body?.stream ? { sse: fixture('groq-chat-stream.sse') } : { json: fixtureJson('openai-chat-cached.json') };
    if (!body?.stream) return { json: fixtureJson('openai-chat-cached.json') };
    // The API sends the usage chunk (and usage: null keys) only to requests that ask for them.
    return { sse: fixture(body.stream_options?.include_usage ? 'openai-chat-stream.sse' : 'openai-chat-stream-no-usage.sse') };
  }
  return { status: 404, json: { error: { message: `no route for ${req.path}` } } };
}

const server = useReplay(route);

const KEY = 'sk-proj-testkeytestkeytestkey-wxyz';
function clients(monitorOptions: ConstructorParameters<typeof TokenMonitor>[0] = {}) {
  const log = memoryLogger();
  const monitor = new TokenMonitor({
    loadConfig: false,
    logger: log,
    ...monitorOptions,
    metrics: { prometheus: false, ...(monitorOptions?.metrics || {}) },
  });
  const reader: TestReader = readerFor(monitor.metricProducer);
  const make = () => new OpenAI({ apiKey: KEY, baseURL: `${server.url}/v1`, maxRetries: 0 });
  return { monitor, reader, log, bare: make(), wrapped: monitor.instrument(make()) };
}

const chat = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'Hello' }] };

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const c of stream) out.push(c);
  return out;
}

describe('monitor.instrument(new OpenAI())', () => {
  it('returns the same client, and the very response the bare client gets; meters it', async () => {
    const { monitor, bare, wrapped } = clients();
    const client = new OpenAI({ apiKey: KEY, baseURL: `${server.url}/v1`, maxRetries: 0 });
    expect(monitor.instrument(client)).toBe(client);
    const [a, b] = await Promise.all([bare.chat.completions.create(chat), wrapped.chat.completions.create(chat)]);
    expect(b).toEqual(a);
    // 86 fresh×2.5 + 1920 cached×1.25 + 300×10 per 1M (gpt-4o)
    expect(monitor.usageSummary('openai')).toMatchObject({
      requests: 1,
      inputTokens: 2006,
      cachedInputTokens: 1920,
      outputTokens: 300,
      costUsd: 0.005615,
    });
    await monitor.close();
  });

  it('keeps the APIPromise helpers: withResponse() and asResponse()', async () => {
    const { monitor, wrapped } = clients();
    const { data, response } = await wrapped.chat.completions.create(chat).withResponse();
    expect(response.status).toBe(200);
    expect(data.usage?.prompt_tokens).toBe(2006);
    const raw = await wrapped.chat.completions.create(chat).asResponse();
    expect(((await raw.json()) as { model: string }).model).toBe('gpt-4o-2024-08-06');
    expect(monitor.usageSummary('openai').requests).toBe(1);
    await monitor.close();
  });

  it('asks a stream for its usage and hides the extra chunk: the caller sees exactly the bare stream', async () => {
    const { monitor, bare, wrapped } = clients();
    const seen = server.requests.length;
    const bareChunks = await collect(await bare.chat.completions.create({ ...chat, stream: true }));
    const wrappedChunks = await collect(await wrapped.chat.completions.create({ ...chat, stream: true }));
    expect(wrappedChunks).toEqual(bareChunks);
    expect(wrappedChunks.every((c) => !('usage' in c))).toBe(true);
    const sent = server.requests.slice(seen).map((r) => (r.body as { stream_options?: unknown }).stream_options);
    expect(sent).toEqual([undefined, { include_usage: true }]);
    expect(monitor.usageSummary('openai')).toMatchObject({ requests: 1, inputTokens: 9, outputTokens: 2 });
    await monitor.close();
  });

  it('leaves a stream that asked for usage as it is', async () => {
    const { monitor, bare, wrapped } = clients();
    const params = { ...chat, stream: true as const, stream_options: { include_usage: true } };
    const a = await collect(await bare.chat.completions.create(params));
    const b = await collect(await wrapped.chat.completions.create(params));
    expect(b).toEqual(a);
    expect(b.at(-1)?.usage?.total_tokens).toBe(11);
    expect(monitor.usageSummary('openai').totalTokens).toBe(11);
    await monitor.close();
  });

  it('records a stream the caller abandons, marked partial', async () => {
    const { monitor, reader, wrapped } = clients();
    const stream = await wrapped.chat.completions.create({ ...chat, stream: true });
    for await (const _ of stream) break;
    expect(monitor.usageSummary('openai')).toMatchObject({ requests: 1 });
    // The usage never arrived: unknown, so the call is unpriced rather than free.
    expect(sums(await reader.metrics(), INSTRUMENT.unpriced)[0]?.value).toBe(1);
    await monitor.close();
  });

  it('records a stream that fails midway with its error, and the caller gets the error', async () => {
    const { monitor, wrapped } = clients();
    server.next = { sse: fixture('openai-chat-stream.sse'), cutAfterBytes: 400 };
    const stream = await wrapped.chat.completions.create({ ...chat, stream: true });
    await expect(collect(stream)).rejects.toThrow();
    expect(monitor.usageSummary('openai')).toMatchObject({ requests: 1, errors: 1 });
    await monitor.close();
  });

  it('adds the web searches a Responses call ran, at their price per call, to its token cost', async () => {
    const { monitor, wrapped } = clients();
    server.next = { json: fixtureJson('openai-responses-web-search.json') };
    await wrapped.responses.create({
      model: 'gpt-4.1',
      tools: [{ type: 'web_search_preview' }],
      input: 'What was a positive news story today?',
    });
    const [record] = await monitor.records({ limit: 1 });
    expect(record).toMatchObject({ model: 'gpt-4.1-2025-04-14', inputTokens: 328, outputTokens: 356, webSearches: 1 });
    // gpt-4.1: $2 in and $8 out per 1M, web search calls $10 per 1,000
    expect(record?.costUsd).toBeCloseTo((328 * 2 + 356 * 8) / 1e6 + 0.01, 12);
    await monitor.close();
  });

  it('prices the audio of an audio chat completion at the audio rates, and keeps its audio counts in the ledger', async () => {
    const { monitor, wrapped } = clients();
    server.next = { json: fixtureJson('openai-chat-audio.json') };
    const r = await wrapped.chat.completions.create({
      model: 'gpt-audio-2025-08-28',
      modalities: ['text', 'audio'],
      audio: { voice: 'alloy', format: 'wav' },
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Whose name is mentioned in the audio?' },
            { type: 'input_audio', input_audio: { data: '//t0xAADwAABpAAAACAAADSAAAAETEFNRQMACQgABAAAAAAA', format: 'mp3' } },
          ],
        },
      ],
    });
    expect(r.choices[0]?.message.audio?.transcript).toBe('The name mentioned in the audio is Marcelo.');
    const [record] = await monitor.records({ limit: 1 });
    expect(record).toMatchObject({
      model: 'gpt-audio-2025-08-28',
      inputTokens: 64,
      inputAudioTokens: 44,
      cachedAudioTokens: null,
      outputTokens: 56,
      outputAudioTokens: 47,
    });
    // gpt-audio per 1M (genai-prices): text in $2.50, audio in $32, text out $10, audio out $64.
    // 20×2.5 + 44×32 + 9×10 + 47×64 = 4,556 µ$ (at the text rates alone it would be 720 µ$)
    expect(record?.costUsd).toBeCloseTo((20 * 2.5 + 44 * 32 + 9 * 10 + 47 * 64) / 1e6, 12);
    expect(record?.costUsd).toBe(0.004556);
    await monitor.close();
  });

  it('meters a Realtime response.done event read with extractUsage, cached text and audio at their rates', async () => {
    const { monitor } = clients();
    const usage = extractUsage({
      provider: 'openai',
      request: { model: 'gpt-realtime' },
      response: fixtureJson('openai-realtime-response-done.json'),
    });
    monitor.recordUsage(usage);
    const [record] = await monitor.records({ limit: 1 });
    expect(record).toMatchObject({
      model: 'gpt-realtime',
      inputTokens: 132,
      cachedInputTokens: 64,
      inputAudioTokens: 13,
      outputAudioTokens: 91,
    });
    // gpt-realtime per 1M (genai-prices): text in $4, cached $0.40, audio in $32, text out $16, audio out $64.
    // 55×4 + 64×0.4 + 13×32 + 30×16 + 91×64 = 6,965.6 µ$
    expect(record?.costUsd).toBe(0.0069656);
    await monitor.close();
  });

  it('prices a call served at flex processing at half the standard rates, and keeps its tier; warns that priority is costed at standard rates', async () => {
    const { monitor, log, wrapped } = clients();
    const tiered = (tier: string) => ({ json: { ...fixtureJson<object>('openai-chat-cached.json'), service_tier: tier } });
    server.next = tiered('flex');
    await wrapped.chat.completions.create({ ...chat, service_tier: 'flex' });
    const [flex] = await monitor.records({ limit: 1 });
    expect(flex?.metadata).toEqual({ service_tier: 'flex' });
    // Half of the standard $0.005615 (86 fresh at $2.50, 1,920 cached at $1.25, 300 output at $10 per 1M).
    expect(flex?.costUsd).toBe(0.0028075);
    server.next = tiered('priority');
    await wrapped.chat.completions.create({ ...chat, service_tier: 'priority' });
    server.next = tiered('priority');
    await wrapped.chat.completions.create({ ...chat, service_tier: 'priority' });
    const [priority] = await monitor.records({ limit: 1 });
    expect(priority).toMatchObject({ costUsd: 0.005615, metadata: { service_tier: 'priority' } });
    expect(log.lines.filter((l) => l.includes('priority processing'))).toHaveLength(1);
    await monitor.close();
  });

  it('meters the helpers built on create: chat.completions.parse() and responses.parse()', async () => {
    const { monitor, bare, wrapped } = clients();
    const [a, b] = await Promise.all([bare.chat.completions.parse(chat), wrapped.chat.completions.parse(chat)]);
    expect(b).toEqual(a);
    expect(monitor.usageSummary('openai')).toMatchObject({ requests: 1, inputTokens: 2006 });
    const r = await wrapped.responses.parse({ model: 'gpt-4o', input: 'Hello' });
    expect(r.output_text).toBe((await bare.responses.parse({ model: 'gpt-4o', input: 'Hello' })).output_text);
    expect(monitor.usageSummary('openai').requests).toBe(2);
    await monitor.close();
  });

  it('records a response whose body breaks off after its headers as a failed call, and the caller gets the error', async () => {
    const { monitor, wrapped } = clients();
    server.next = { json: fixtureJson('openai-chat-cached.json'), cutAfterBytes: 100 };
    await expect(wrapped.chat.completions.create(chat)).rejects.toThrow();
    expect(monitor.usageSummary('openai')).toMatchObject({ requests: 1, errors: 1 });
    await monitor.close();
  });

  it.each([
    [429, 'Rate limit reached for gpt-4o', OpenAI.RateLimitError],
    [500, 'The server had an error while processing your request.', OpenAI.InternalServerError],
  ])('records HTTP %i with its status as error type and rethrows the SDK error unchanged', async (status, message, ErrorClass) => {
    const { monitor, reader, wrapped } = clients();
    server.next = { status, json: { error: { message, type: status === 429 ? 'requests' : 'server_error', param: null, code: null } } };
    const err = await wrapped.chat.completions.create(chat).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ErrorClass);
    expect((err as Error).message).toContain(message);
    const requests = sums(await reader.metrics(), INSTRUMENT.requests);
    expect(requests).toEqual([
      expect.objectContaining({ value: 1, attributes: expect.objectContaining({ status: 'error', model: 'gpt-4o' }) }),
    ]);
    await monitor.close();
  });

  it('meters embeddings and the Responses API, streamed or not', async () => {
    const { monitor, wrapped } = clients();
    await wrapped.embeddings.create({ model: 'text-embedding-3-small', input: 'hi' });
    await wrapped.responses.create({ model: 'gpt-4.1', input: 'hi' });
    await collect(await wrapped.responses.create({ model: 'gpt-4.1', input: 'hi', stream: true }));
    expect(monitor.usageSummary('openai')).toMatchObject({ requests: 3, inputTokens: 8 + 36 + 37, outputTokens: 87 + 11 });
    await monitor.close();
  });

  it('tags calls with the client’s context and withContext, the inner one winning', async () => {
    const { monitor, reader } = clients({ metrics: { labels: { userId: true, agent: true, apiKeyId: true } } });
    const wrapped = monitor.instrument(new OpenAI({ apiKey: KEY, baseURL: `${server.url}/v1`, maxRetries: 0 }), {
      agent: 'planner',
      userId: 'default-user',
    });
    await wrapped.chat.completions.create(chat);
    await monitor.withContext({ userId: 'u42', operation: 'extract_nodes' }, () => wrapped.chat.completions.create(chat));
    const attrs = sums(await reader.metrics(), INSTRUMENT.requests).map((p) => p.attributes);
    expect(attrs).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ user_id: 'default-user', agent: 'planner', operation: 'chat' }),
        expect.objectContaining({ user_id: 'u42', agent: 'planner', operation: 'extract_nodes' }),
      ]),
    );
    expect(attrs[0]?.api_key_id).toMatch(/^wxyz-[0-9a-f]{8}$/);
    expect(JSON.stringify(attrs)).not.toContain('testkeytestkey');
    await monitor.close();
  });

  it('tags a stream with the context it was made in, not the one it is read in', async () => {
    const { monitor, wrapped } = clients();
    const run = monitor.session({ id: 'run-a' });
    const stream = await run.run(() =>
      monitor.withContext({ userId: 'alice' }, () => wrapped.chat.completions.create({ ...chat, stream: true })),
    );
    const other = monitor.session({ id: 'run-b' });
    await other.run(() =>
      monitor.withContext({ userId: 'bob', threadId: 'bobs-thread', metadata: { job: 'reader' } }, () => collect(stream)),
    );
    const [rec] = await monitor.records({ limit: 1 });
    expect(rec).toMatchObject({ userId: 'alice', threadId: null, metadata: { run_id: 'run-a' } });
    expect(rec?.metadata).not.toHaveProperty('job');
    await monitor.close();
  });

  it('records AzureOpenAI as azure_openai, with the deployment as the requested model', async () => {
    const { monitor, reader } = clients();
    const azure = monitor.instrument(
      new AzureOpenAI({
        apiKey: 'azure-key-0123456789abcdef',
        endpoint: server.url,
        apiVersion: '2024-10-21',
        deployment: 'my-gpt4o',
        maxRetries: 0,
      }),
    );
    await azure.chat.completions.create({ ...chat, model: 'my-gpt4o' });
    expect(server.requests.at(-1)?.path).toMatch(/^\/openai\/deployments\/my-gpt4o\/chat\/completions/);
    const [p] = sums(await reader.metrics(), INSTRUMENT.requests);
    expect(p?.attributes).toMatchObject({ provider: 'azure_openai', model: 'gpt-4o-2024-08-06' });
    await monitor.close();
  });

  it('reads Groq streams through the OpenAI client and through groq-sdk', async () => {
    const { monitor } = clients();
    const viaOpenAI = monitor.instrument(
      new OpenAI({ apiKey: 'gsk_testkey0123456789', baseURL: `${server.url}/groq/openai/v1`, maxRetries: 0 }),
      { provider: 'groq' },
    );
    await collect(await viaOpenAI.chat.completions.create({ model: 'llama-3.3-70b-versatile', messages: chat.messages, stream: true }));
    const groq = monitor.instrument(new Groq({ apiKey: 'gsk_testkey0123456789', baseURL: `${server.url}/groq`, maxRetries: 0 }));
    const chunks = await collect(
      await groq.chat.completions.create({ model: 'llama-3.3-70b-versatile', messages: chat.messages, stream: true }),
    );
    expect(chunks.at(-1)?.x_groq?.usage?.total_tokens).toBe(401);
    expect(monitor.usageSummary('groq')).toMatchObject({ requests: 2, inputTokens: 48, outputTokens: 754 });
    await monitor.close();
  });
});
