import { Cohere, CohereClient, CohereClientV2 } from 'cohere-ai';
import { describe, expect, it } from 'vitest';
import { INSTRUMENT, TokenMonitor } from '../src/index.ts';
import type { Usage } from '../src/providers/index.ts';
import { histograms, memoryLogger, readerFor, sums } from './helpers/otel.ts';
import { fixture, fixtureJson } from './helpers/replay-server.ts';
import { useReplay } from './helpers/use-replay.ts';

// The official cohere-ai clients, pointed with their environment option at a local server
// replaying the payloads of test/fixtures/cohere.sources.md. No fetch is mocked.
const server = useReplay((req) => {
  const stream = (req.body as { stream?: boolean } | undefined)?.stream === true;
  if (req.path === '/v2/chat') return stream ? { sse: fixture('cohere-chat-v2-stream.sse') } : { json: fixtureJson('cohere-chat-v2.json') };
  if (req.path === '/v1/chat')
    return stream ? { ndjson: fixture('cohere-chat-v1-stream.ndjson') } : { json: fixtureJson('cohere-chat-v1.json') };
  if (req.path === '/v2/embed' || req.path === '/v1/embed') return { json: fixtureJson('cohere-embed.json') };
  if (req.path === '/v2/rerank' || req.path === '/v1/rerank') return { json: fixtureJson('cohere-rerank.json') };
  return { status: 404, json: { message: `no route for ${req.path}` } };
});

const TOKEN = 'co-testkeytestkeytestkey-wxyz';
function setup() {
  const monitor = new TokenMonitor({
    loadConfig: false,
    logger: memoryLogger(),
    metrics: { prometheus: false, labels: { apiKeyId: true } },
  });
  const reader = readerFor(monitor.metricProducer);
  // What tokenmeter hands the monitor, to see what metrics cannot show (a stream marked partial).
  const recorded: Usage[] = [];
  const meterUsage = monitor.meterUsage.bind(monitor);
  monitor.meterUsage = (usage, facts) => {
    recorded.push({ ...usage });
    meterUsage(usage, facts);
  };
  const make = () => new CohereClientV2({ token: TOKEN, environment: server.url, maxRetries: 0 });
  const makeV1 = () => new CohereClient({ token: TOKEN, environment: server.url, maxRetries: 0 });
  return {
    monitor,
    reader,
    recorded,
    bare: make(),
    wrapped: monitor.instrument(make()),
    bareV1: makeV1(),
    v1: monitor.instrument(makeV1()),
  };
}

/** USD at the price tokenmeter reports for a Cohere model. */
function cost(monitor: TokenMonitor, model: string, u: { input?: number; output?: number; searchUnits?: number }): number {
  const p = monitor.price('cohere', model);
  if (p === null) throw new Error(`no price for cohere/${model}`);
  const pico =
    (u.input ?? 0) * (p.input?.base ?? 0) + (u.output ?? 0) * (p.output?.base ?? 0) + (u.searchUnits ?? 0) * (p.perSearchUnit ?? 0);
  return pico / 1e12;
}

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const e of stream) out.push(e);
  return out;
}

const model = 'command-a-03-2025';
const chatReq = { model, messages: [{ role: 'user' as const, content: 'Tell me about LLMs' }] };

describe('monitor.instrument(new CohereClientV2())', () => {
  it('meters chat from usage.billed_units, not the larger tokens, and returns the bare response', async () => {
    const { monitor, reader, bare, wrapped } = setup();
    expect(monitor.instrument(wrapped)).toBe(wrapped);
    const [a, b] = await Promise.all([bare.chat(chatReq), wrapped.chat(chatReq)]);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    // The SDK hands back camelCase: usage.billedUnits.inputTokens.
    expect(b.usage?.billedUnits).toEqual({ inputTokens: 17, outputTokens: 386 });
    const s = monitor.usageSummary('cohere');
    expect(s).toMatchObject({ requests: 1, errors: 0, inputTokens: 17, outputTokens: 386, totalTokens: 403, unpricedRequests: 0 });
    expect(s.costUsd).toBeCloseTo(cost(monitor, model, { input: 17, output: 386 }), 15);
    const [p] = sums(await reader.metrics(), INSTRUMENT.requests);
    expect(p?.attributes).toMatchObject({ provider: 'cohere', model, service_type: 'llm', operation: 'chat', status: 'ok' });
    expect(p?.attributes.api_key_id).toMatch(/^wxyz-[0-9a-f]{8}$/);
    await monitor.close();
  });

  it('keeps withRawResponse() and meters the call once', async () => {
    const { monitor, bare, wrapped } = setup();
    const a = await bare.chat(chatReq).withRawResponse();
    const b = await wrapped.chat(chatReq).withRawResponse();
    expect(JSON.stringify(b.data)).toBe(JSON.stringify(a.data));
    expect(b.rawResponse.status).toBe(200);
    expect(monitor.usageSummary('cohere')).toMatchObject({ requests: 1, inputTokens: 17 });
    await monitor.close();
  });

  it('meters chatStream once, at its end, from message-end; the caller gets the same Stream and events', async () => {
    const { monitor, reader, bare, wrapped } = setup();
    const a = await bare.chatStream(chatReq);
    const b = await wrapped.chatStream(chatReq);
    expect(b.constructor).toBe(a.constructor);
    const seen: unknown[] = [];
    for await (const event of b) {
      // Nothing is recorded before the last event has gone by.
      if (seen.length === 0) expect(monitor.usageSummary('cohere').requests).toBe(0);
      seen.push(event);
    }
    expect(JSON.stringify(seen)).toBe(JSON.stringify(await collect(a)));
    expect(seen.at(-1)).toMatchObject({ type: 'message-end', delta: { usage: { billedUnits: { inputTokens: 5, outputTokens: 26 } } } });
    const s = monitor.usageSummary('cohere');
    expect(s).toMatchObject({ requests: 1, inputTokens: 5, outputTokens: 26, totalTokens: 31 });
    expect(s.costUsd).toBeCloseTo(cost(monitor, model, { input: 5, output: 26 }), 15);
    expect(sums(await reader.metrics(), INSTRUMENT.requests)[0]?.attributes).toMatchObject({ service_type: 'llm', operation: 'chat' });
    await monitor.close();
  });

  it('records a stream the caller leaves early as partial, with unknown usage', async () => {
    const { monitor, reader, recorded, wrapped } = setup();
    for await (const _ of await wrapped.chatStream(chatReq)) break;
    expect(monitor.usageSummary('cohere')).toMatchObject({ requests: 1, errors: 0, inputTokens: null, outputTokens: null });
    expect(recorded).toEqual([expect.objectContaining({ partial: true, usageSource: 'missing', model })]);
    // The usage never arrived: unpriced rather than free.
    expect(sums(await reader.metrics(), INSTRUMENT.unpriced)[0]?.value).toBe(1);
    await monitor.close();
  });

  it('meters embed from meta.billed_units.input_tokens', async () => {
    const { monitor, reader, bare, wrapped } = setup();
    const req = {
      model: 'embed-v4.0',
      texts: ['hello', 'goodbye'],
      inputType: 'classification' as const,
      embeddingTypes: ['float' as const],
    };
    const [a, b] = await Promise.all([bare.embed(req), wrapped.embed(req)]);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    const s = monitor.usageSummary('cohere');
    expect(s).toMatchObject({ requests: 1, inputTokens: 2, outputTokens: null, totalTokens: 2 });
    expect(s.costUsd).toBeCloseTo(cost(monitor, 'embed-v4.0', { input: 2 }), 15);
    expect(sums(await reader.metrics(), INSTRUMENT.requests)[0]?.attributes).toMatchObject({
      model: 'embed-v4.0',
      service_type: 'embedding',
      operation: 'embeddings',
    });
    await monitor.close();
  });

  it('prices rerank by its search units and records no tokens for it (not 0 tokens)', async () => {
    const { monitor, reader, recorded, bare, wrapped } = setup();
    const req = {
      model: 'rerank-v3.5',
      query: 'What is the capital of the United States?',
      documents: ['Carson City', 'Washington, D.C.'],
    };
    const [a, b] = await Promise.all([bare.rerank(req), wrapped.rerank(req)]);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(b.meta?.billedUnits).toEqual({ searchUnits: 1 });
    const s = monitor.usageSummary('cohere');
    expect(s).toMatchObject({ requests: 1, unpricedRequests: 0 });
    // Cohere rerank: $2.00 per 1,000 searches.
    expect(s.costUsd).toBeCloseTo(cost(monitor, 'rerank-v3.5', { searchUnits: 1 }), 15);
    expect(s.costUsd).toBeCloseTo(0.002, 12);
    expect(recorded).toEqual([expect.objectContaining({ searchUnits: 1, usageSource: 'reported' })]);
    expect(recorded[0]?.inputTokens).toBeUndefined();
    expect(recorded[0]?.totalTokens).toBeUndefined();
    const data = await reader.metrics();
    expect(sums(data, INSTRUMENT.requests)[0]?.attributes).toMatchObject({ service_type: 'reranking', operation: 'rerank' });
    // The GenAI token histogram records only reported counts: nothing for a search-unit call.
    expect(histograms(data, INSTRUMENT.tokenUsage)).toEqual([]);
    await monitor.close();
  });

  it.each([
    [
      429,
      Cohere.TooManyRequestsError,
      'You are using a Trial key, which is limited to 10 API calls / minute. Upgrade to a Production key to increase your rate limit.',
    ],
    [500, Cohere.InternalServerError, 'internal server error, this has been reported to our developers'],
  ])('records HTTP %i as an error and rethrows the SDK’s error unchanged', async (status, ErrorClass, message) => {
    const { monitor, reader, bare, wrapped } = setup();
    server.next = { status, json: { message } };
    const a = await bare.chat(chatReq).catch((e: unknown) => e);
    server.next = { status, json: { message } };
    const b = await wrapped.chat(chatReq).catch((e: unknown) => e);
    expect(b).toBeInstanceOf(ErrorClass);
    expect((b as Error).constructor).toBe((a as Error).constructor);
    expect((b as Error).message).toBe((a as Error).message);
    expect(monitor.usageSummary('cohere')).toMatchObject({ requests: 1, errors: 1 });
    expect(sums(await reader.metrics(), INSTRUMENT.requests)).toEqual([
      expect.objectContaining({ value: 1, attributes: expect.objectContaining({ status: 'error', model, service_type: 'llm' }) }),
    ]);
    await monitor.close();
  });

  it('records a chatStream refused with 429 as an error', async () => {
    const { monitor, wrapped } = setup();
    server.next = { status: 429, json: { message: 'too many requests' } };
    await expect(wrapped.chatStream(chatReq)).rejects.toBeInstanceOf(Cohere.TooManyRequestsError);
    expect(monitor.usageSummary('cohere')).toMatchObject({ requests: 1, errors: 1 });
    await monitor.close();
  });
});

describe('monitor.instrument(new CohereClient()) (v1)', () => {
  it('meters v1 chat from meta.billed_units, and returns the bare response', async () => {
    const { monitor, bareV1, v1 } = setup();
    const req = { model, message: 'Tell me about LLMs' };
    const [a, b] = await Promise.all([bareV1.chat(req), v1.chat(req)]);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    const s = monitor.usageSummary('cohere');
    expect(s).toMatchObject({ requests: 1, inputTokens: 5, outputTokens: 198 });
    expect(s.costUsd).toBeCloseTo(cost(monitor, model, { input: 5, output: 198 }), 15);
    await monitor.close();
  });

  it('meters the v1 chatStream from stream-end, events unchanged', async () => {
    const { monitor, bareV1, v1 } = setup();
    const req = { model, message: 'thanks' };
    const a = await collect(await bareV1.chatStream(req));
    const b = await collect(await v1.chatStream(req));
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(b.at(-1)).toMatchObject({ eventType: 'stream-end' });
    expect(monitor.usageSummary('cohere')).toMatchObject({ requests: 1, inputTokens: 14, outputTokens: 14 });
    await monitor.close();
  });

  it('meters embed and rerank, and the v2 API under client.v2', async () => {
    const { monitor, reader, v1 } = setup();
    await v1.embed({ model: 'embed-v4.0', texts: ['hello', 'goodbye'], inputType: 'classification' });
    await v1.rerank({ model: 'rerank-v3.5', query: 'q', documents: ['a', 'b'] });
    await v1.v2.chat(chatReq);
    await collect(await v1.v2.chatStream(chatReq));
    expect(monitor.usageSummary('cohere')).toMatchObject({ requests: 4, inputTokens: 2 + 17 + 5, outputTokens: 386 + 26 });
    const ops = sums(await reader.metrics(), INSTRUMENT.requests).map((p) => p.attributes.operation);
    expect(ops.sort()).toEqual(['chat', 'embeddings', 'rerank']);
    await monitor.close();
  });
});
