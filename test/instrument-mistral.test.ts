import { Mistral } from '@mistralai/mistralai';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { INSTRUMENT, TokenMonitor } from '../src/index.ts';
import { histograms, memoryLogger, readerFor, sums } from './helpers/otel.ts';
import { collectJson, recorded } from './helpers/records.ts';
import { fixture, fixtureJson, type ReceivedRequest, type Reply } from './helpers/replay-server.ts';
import { useReplay } from './helpers/use-replay.ts';

// The official @mistralai/mistralai client, pointed with its serverURL option at a local server
// replaying recorded payloads (test/fixtures/mistral.sources.md). No fetch is mocked.
// The streams of chat, FIM and agents are the same CompletionEvent chunks (Mistral's OpenAPI spec).
const STREAM = 'mistral-stream-usage-omitted.sse';

function route(req: ReceivedRequest): Reply {
  const stream = (req.body as { stream?: boolean } | undefined)?.stream === true;
  if (stream) return { sse: fixture(STREAM) };
  if (req.path === '/v1/chat/completions') return { json: fixtureJson('mistral-chat-cached.json') };
  if (req.path === '/v1/fim/completions') return { json: fixtureJson('mistral-fim.json') };
  if (req.path === '/v1/agents/completions') return { json: fixtureJson('mistral-agents.json') };
  if (req.path === '/v1/embeddings') return { json: fixtureJson('mistral-embeddings-guide.json') };
  return {
    status: 404,
    json: { object: 'error', message: `no route for ${req.path}`, type: 'invalid_request_error', param: null, code: null },
  };
}

const server = useReplay(route);

const KEY = 'mistral-testkeytestkeytestkey-wxyz';

function setup(monitorOptions: ConstructorParameters<typeof TokenMonitor>[0] = {}) {
  const monitor = new TokenMonitor({
    loadConfig: false,
    logger: memoryLogger(),
    ...monitorOptions,
    metrics: { prometheus: false, ...(monitorOptions.metrics || {}) },
  });
  const reader = readerFor(monitor.metricProducer);
  // The SDK retries nothing unless told to; said here so a 429 is one request.
  const make = () => new Mistral({ apiKey: KEY, serverURL: server.url, retryConfig: { strategy: 'none' } });
  return { monitor, reader, bare: make(), wrapped: monitor.instrument(make()), records: recorded(monitor) };
}

const chat = { model: 'mistral-large-latest', messages: [{ role: 'user' as const, content: 'How far is the moon from earth?' }] };

describe('monitor.instrument(new Mistral())', () => {
  it('returns the same client and the bare response; meters chat.complete, cached tokens inside prompt_tokens', async () => {
    const { monitor, reader, bare, wrapped } = setup();
    const client = new Mistral({ apiKey: KEY, serverURL: server.url });
    expect(monitor.instrument(client)).toBe(client);
    const [a, b] = await Promise.all([bare.chat.complete(chat), wrapped.chat.complete(chat)]);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    // The SDK's camelCase usage, with the cached count kept as the API sent it.
    expect(b.usage).toMatchObject({ promptTokens: 1013, prompt_tokens_details: { cached_tokens: 1008 } });
    const s = monitor.usageSummary('mistral');
    expect(s).toMatchObject({ requests: 1, errors: 0, inputTokens: 1013, cachedInputTokens: 1008, outputTokens: 30, totalTokens: 1043 });
    // mistral-large-latest at $2 in, $6 out per 1M; the bundled price table has no cache-read
    // price for it, so the 1,008 cached tokens are billed at the input price.
    expect(s.costUsd).toBeCloseTo((1013 * 2 + 30 * 6) / 1e6, 12);
    expect(sums(await reader.metrics(), INSTRUMENT.requests)).toEqual([
      expect.objectContaining({
        value: 1,
        attributes: expect.objectContaining({
          provider: 'mistral',
          model: 'mistral-large-latest',
          service_type: 'llm',
          operation: 'chat',
          status: 'ok',
        }),
      }),
    ]);
    await monitor.close();
  });

  it('meters chat.stream once, at its end; the caller gets the same EventStream class and the same chunks', async () => {
    const { monitor, bare, wrapped } = setup();
    const bareStream = await bare.chat.stream(chat);
    const stream = await wrapped.chat.stream(chat);
    expect(stream).toBeInstanceOf(bareStream.constructor);
    expect(stream).toBeInstanceOf(ReadableStream);
    const it = stream[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.done).toBe(false);
    expect(monitor.usageSummary('mistral').requests).toBe(0);
    const rest: string[] = [JSON.stringify(first.value)];
    for (let r = await it.next(); r.done !== true; r = await it.next()) rest.push(JSON.stringify(r.value));
    expect(rest).toEqual(await collectJson(bareStream));
    expect(monitor.usageSummary('mistral')).toMatchObject({ requests: 1, inputTokens: 19, outputTokens: 7, totalTokens: 26 });
    expect(monitor.usageSummary('mistral').costUsd).toBeCloseTo((19 * 2 + 7 * 6) / 1e6, 12);
    await monitor.close();
  });

  it('keeps the ReadableStream API: getReader() and tee() are metered, once', async () => {
    const { monitor, wrapped } = setup();
    const reader = (await wrapped.chat.stream(chat)).getReader();
    let chunks = 0;
    while (!(await reader.read()).done) chunks++;
    expect(chunks).toBe(5);
    const [x, y] = (await wrapped.chat.stream(chat)).tee();
    const [cx, cy] = await Promise.all([collectJson(x), collectJson(y)]);
    expect(cx).toEqual(cy);
    expect(monitor.usageSummary('mistral')).toMatchObject({ requests: 2, totalTokens: 52 });
    await monitor.close();
  });

  it('records a stream the caller abandons (break) as partial, its usage unknown', async () => {
    const { monitor, reader, wrapped, records } = setup();
    for await (const _ of await wrapped.chat.stream(chat)) break;
    expect(monitor.usageSummary('mistral')).toMatchObject({ requests: 1, errors: 0, inputTokens: null });
    expect(records[0]?.metadata).toMatchObject({ partial: true, usage: 'missing' });
    expect(sums(await reader.metrics(), INSTRUMENT.unpriced)[0]?.value).toBe(1);
    // A stream cancelled before any read is a call made too.
    await (await wrapped.chat.stream(chat)).cancel();
    expect(monitor.usageSummary('mistral').requests).toBe(2);
    expect(records[1]?.metadata).toMatchObject({ partial: true });
    await monitor.close();
  });

  it('counts a stream that ends without usage (a gateway that drops it) with a tokenizer, marked estimated', async () => {
    const { monitor, wrapped, records } = setup();
    server.next = { sse: fixture(STREAM).replace(/,"usage":\{[^}]*\}/, '') };
    expect(await collectJson(await wrapped.chat.stream(chat))).toHaveLength(5);
    await monitor.flush();
    expect(records[0]).toMatchObject({ model: 'mistral-large-latest', metadata: { usage: 'estimated' } });
    expect(records[0]?.outputTokens).toBeGreaterThan(0);
    await monitor.close();
  });

  it('records a stream that fails midway with its error; the caller gets the same error as from the bare client', async () => {
    const { monitor, bare, wrapped, records } = setup();
    const cut = { sse: fixture(STREAM), cutAfterBytes: 400 };
    server.next = cut;
    const bareError = await collectJson(await bare.chat.stream(chat)).catch((e: unknown) => e);
    server.next = cut;
    const error = await collectJson(await wrapped.chat.stream(chat)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).constructor).toBe((bareError as Error).constructor);
    expect((error as Error).message).toBe((bareError as Error).message);
    expect(monitor.usageSummary('mistral')).toMatchObject({ requests: 1, errors: 1 });
    expect(records[0]?.metadata).toMatchObject({ partial: true });
    await monitor.close();
  });

  it.each([
    [429, 'mistral-error-429.json'],
    [500, 'mistral-error-500.json'],
  ])('records HTTP %i as an error with its status, and rethrows the SDK error unchanged', async (status, file) => {
    const { monitor, reader, bare, wrapped } = setup();
    server.next = { status, json: fixtureJson(file) };
    const bareError = await bare.chat.complete(chat).catch((e: unknown) => e);
    const seen = server.requests.length;
    server.next = { status, json: fixtureJson(file) };
    const error = await wrapped.chat.complete(chat).catch((e: unknown) => e);
    expect(server.requests.length - seen).toBe(1);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).constructor).toBe((bareError as Error).constructor);
    expect((error as Error).message).toBe((bareError as Error).message);
    expect(error).toMatchObject({ statusCode: status });
    expect(monitor.usageSummary('mistral')).toMatchObject({ requests: 1, errors: 1, costUsd: 0 });
    const data = await reader.metrics();
    expect(sums(data, INSTRUMENT.requests)).toEqual([
      expect.objectContaining({ value: 1, attributes: expect.objectContaining({ status: 'error', model: 'mistral-large-latest' }) }),
    ]);
    expect(histograms(data, INSTRUMENT.operationDuration)[0]?.attributes).toMatchObject({ 'error.type': String(status) });
    await monitor.close();
  });

  it('meters embeddings.create as an embedding call', async () => {
    const { monitor, reader, bare, wrapped } = setup();
    const req = { model: 'mistral-embed', inputs: ['Embed this sentence.', 'As well as this one.'] };
    const [a, b] = await Promise.all([bare.embeddings.create(req), wrapped.embeddings.create(req)]);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    // mistral-embed: $0.10 per 1M
    expect(monitor.usageSummary('mistral')).toMatchObject({ requests: 1, inputTokens: 15, outputTokens: 0, totalTokens: 15 });
    expect(monitor.usageSummary('mistral').costUsd).toBeCloseTo((15 * 0.1) / 1e6, 12);
    expect(sums(await reader.metrics(), INSTRUMENT.requests)[0]?.attributes).toMatchObject({
      model: 'mistral-embed',
      service_type: 'embedding',
      operation: 'embeddings',
    });
    await monitor.close();
  });

  it('meters FIM (codestral) as a text completion, streamed or not', async () => {
    const { monitor, reader, bare, wrapped } = setup();
    const req = { model: 'codestral-2508', prompt: 'def', suffix: 'return a+b' };
    const [a, b] = await Promise.all([bare.fim.complete(req), wrapped.fim.complete(req)]);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(await collectJson(await wrapped.fim.stream(req))).toEqual(await collectJson(await bare.fim.stream(req)));
    // codestral-2508 at $0.30 in, $0.90 out per 1M; the stream replays the chat chunks (19 + 7).
    expect(monitor.usageSummary('mistral')).toMatchObject({ requests: 2, inputTokens: 8 + 19, outputTokens: 91 + 7 });
    const attrs = sums(await reader.metrics(), INSTRUMENT.requests).map((p) => p.attributes);
    expect(attrs).toEqual([
      expect.objectContaining({ model: 'codestral-2508', operation: 'text_completion' }),
      expect.objectContaining({ model: 'mistral-large-latest', operation: 'text_completion' }),
    ]);
    await monitor.close();
  });

  it('meters chat.parse and chat.parseStream, which do not go through complete and stream', async () => {
    const { monitor, wrapped } = setup();
    const req = { ...chat, responseFormat: z.object({ km: z.number() }) };
    const parsed = await wrapped.chat.parse(req);
    expect(parsed.usage?.totalTokens).toBe(1043);
    expect(await collectJson(await wrapped.chat.parseStream(req))).toHaveLength(5);
    expect(monitor.usageSummary('mistral')).toMatchObject({ requests: 2, inputTokens: 1013 + 19 });
    await monitor.close();
  });

  it('meters the agents completions, the model read from the response', async () => {
    const { monitor, reader, wrapped } = setup();
    const req = { agentId: 'ag-0123', messages: chat.messages };
    await wrapped.agents.complete(req);
    await collectJson(await wrapped.agents.stream(req));
    expect(monitor.usageSummary('mistral')).toMatchObject({ requests: 2, inputTokens: 24 + 19, outputTokens: 27 + 7 });
    const models = sums(await reader.metrics(), INSTRUMENT.requests).map((p) => p.attributes.model);
    expect(models).toEqual(['mistral-medium-latest', 'mistral-large-latest']);
    await monitor.close();
  });

  it('labels calls with the key id from the SDK options, never the key', async () => {
    const { monitor, reader, wrapped } = setup({ metrics: { labels: { apiKeyId: true } } });
    await wrapped.chat.complete(chat);
    const [p] = sums(await reader.metrics(), INSTRUMENT.requests);
    expect(p?.attributes.api_key_id).toMatch(/^wxyz-[0-9a-f]{8}$/);
    expect(JSON.stringify(p?.attributes)).not.toContain('testkeytestkey');
    await monitor.close();
  });
});
