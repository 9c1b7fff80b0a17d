import { describe, expect, it } from 'vitest';
import { VoyageAIClient, VoyageAIError } from 'voyageai';
import { INSTRUMENT, TokenMonitor } from '../src/index.ts';
import { histograms, memoryLogger, readerFor, sums } from './helpers/otel.ts';
import { fixtureJson } from './helpers/replay-server.ts';
import { useReplay } from './helpers/use-replay.ts';

// The official voyageai client, pointed with its baseUrl option at a local server replaying the
// payloads of test/fixtures/voyage.sources.md. No fetch is mocked.
const server = useReplay((req) => {
  if (req.path === '/embeddings') return { json: fixtureJson('voyage-embed.json') };
  if (req.path === '/rerank') return { json: fixtureJson('voyage-rerank.json') };
  if (req.path === '/multimodalembeddings') return { json: fixtureJson('voyage-multimodal-embed.json') };
  if (req.path === '/contextualizedembeddings') return { json: fixtureJson('voyage-contextualized-embed.json') };
  return { status: 404, json: { detail: `no route for ${req.path}` } };
});

const KEY = 'pa-testkeytestkeytestkey-wxyz';
function setup() {
  const monitor = new TokenMonitor({
    loadConfig: false,
    logger: memoryLogger(),
    metrics: { prometheus: false, labels: { apiKeyId: true } },
  });
  const reader = readerFor(monitor.metricProducer);
  const make = () => new VoyageAIClient({ apiKey: KEY, baseUrl: server.url, maxRetries: 0 });
  return { monitor, reader, bare: make(), wrapped: monitor.instrument(make()) };
}

/** USD for `tokens` input tokens at the price tokenmeter reports for the model. */
function inputCost(monitor: TokenMonitor, model: string, tokens: number): number {
  const base = monitor.price('voyage', model)?.input?.base;
  if (base === undefined) throw new Error(`no price for voyage/${model}`);
  return (tokens * base) / 1e12;
}

const embedReq = { input: ['Sample text 1', 'Sample text 2'], model: 'voyage-large-2' };
const rerankReq = { query: 'Sample query', documents: ['Sample document 1', 'Sample document 2'], model: 'rerank-2.5' };

describe('monitor.instrument(new VoyageAIClient())', () => {
  it('meters embed from usage.total_tokens, labelled as an embedding, and returns the bare response', async () => {
    const { monitor, reader, bare, wrapped } = setup();
    expect(monitor.instrument(wrapped)).toBe(wrapped);
    const [a, b] = await Promise.all([bare.embed(embedReq), wrapped.embed(embedReq)]);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    // The SDK hands back camelCase: usage.totalTokens.
    expect(b.usage?.totalTokens).toBe(10);
    const s = monitor.usageSummary('voyage');
    expect(s).toMatchObject({ requests: 1, errors: 0, inputTokens: 10, outputTokens: null, totalTokens: 10, unpricedRequests: 0 });
    expect(s.costUsd).toBeCloseTo(inputCost(monitor, 'voyage-large-2', 10), 15);
    const [p] = sums(await reader.metrics(), INSTRUMENT.requests);
    expect(p?.attributes).toMatchObject({
      provider: 'voyage',
      model: 'voyage-large-2',
      service_type: 'embedding',
      operation: 'embeddings',
      status: 'ok',
    });
    expect(p?.attributes.api_key_id).toMatch(/^wxyz-[0-9a-f]{8}$/);
    await monitor.close();
  });

  it('meters rerank per token, labelled as reranking, and keeps withRawResponse()', async () => {
    const { monitor, reader, bare, wrapped } = setup();
    const a = await bare.rerank(rerankReq).withRawResponse();
    const b = await wrapped.rerank(rerankReq).withRawResponse();
    expect(JSON.stringify(b.data)).toBe(JSON.stringify(a.data));
    expect(b.rawResponse.status).toBe(200);
    expect(b.data.data?.[0]?.relevanceScore).toBe(0.4375);
    const s = monitor.usageSummary('voyage');
    expect(s).toMatchObject({ requests: 1, inputTokens: 26, totalTokens: 26 });
    // rerank-2.5: $0.05 per 1M tokens, from tokenmeter's rerank table.
    expect(s.costUsd).toBeCloseTo(inputCost(monitor, 'rerank-2.5', 26), 15);
    expect(inputCost(monitor, 'rerank-2.5', 1e6)).toBeCloseTo(0.05, 12);
    const data = await reader.metrics();
    expect(sums(data, INSTRUMENT.requests)[0]?.attributes).toMatchObject({ service_type: 'reranking', operation: 'rerank' });
    expect(histograms(data, INSTRUMENT.tokenUsage)).toEqual([
      expect.objectContaining({ value: expect.objectContaining({ count: 1, sum: 26 }) }),
    ]);
    await monitor.close();
  });

  it('meters multimodalEmbed by total_tokens, image pixels included, and leaves it unpriced', async () => {
    const { monitor, reader, bare, wrapped } = setup();
    const req = { inputs: [{ content: [{ type: 'text' as const, text: 'This is a banana.' }] }], model: 'voyage-multimodal-3' };
    const [a, b] = await Promise.all([bare.multimodalEmbed(req), wrapped.multimodalEmbed(req)]);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(monitor.usageSummary('voyage')).toMatchObject({ requests: 1, inputTokens: 3576, costUsd: 0, unpricedRequests: 1 });
    // Voyage bills text tokens and image pixels apart: no per-token price, so unknown, not a wrong cost.
    expect(monitor.price('voyage', 'voyage-multimodal-3')).toBeNull();
    expect(sums(await reader.metrics(), INSTRUMENT.unpriced)).toEqual([
      expect.objectContaining({
        value: 1,
        attributes: expect.objectContaining({ model: 'voyage-multimodal-3', service_type: 'embedding' }),
      }),
    ]);
    await monitor.close();
  });

  it('meters contextualizedEmbed once, at its request, and returns the SDK’s own result object', async () => {
    const { monitor, bare, wrapped } = setup();
    const req = { inputs: [['doc text']], model: 'voyage-context-3', inputType: 'document' as const, enableAutoChunking: true };
    const [a, b] = await Promise.all([bare.contextualizedEmbed(req), wrapped.contextualizedEmbed(req)]);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    // The client shapes this one itself: results, totalTokens, chunkTexts, rawResponse.
    expect(b).toMatchObject({ totalTokens: 10, chunkTexts: [['doc text part 1', 'doc text part 2']] });
    const s = monitor.usageSummary('voyage');
    expect(s).toMatchObject({ requests: 1, inputTokens: 10 });
    expect(s.costUsd).toBeCloseTo(inputCost(monitor, 'voyage-context-3', 10), 15);
    await monitor.close();
  });

  it.each([
    [429, 'You have exceeded the rate limit.'],
    [500, 'Internal server error.'],
  ])('records HTTP %i as an error and rethrows the SDK’s error unchanged', async (status, detail) => {
    const { monitor, reader, bare, wrapped } = setup();
    server.next = { status, json: { detail } };
    const a = await bare.embed(embedReq).catch((e: unknown) => e);
    server.next = { status, json: { detail } };
    const b = await wrapped.embed(embedReq).catch((e: unknown) => e);
    expect(b).toBeInstanceOf(VoyageAIError);
    expect((b as Error).constructor).toBe((a as Error).constructor);
    expect((b as Error).message).toBe((a as Error).message);
    expect((b as VoyageAIError).statusCode).toBe(status);
    expect(monitor.usageSummary('voyage')).toMatchObject({ requests: 1, errors: 1, inputTokens: null });
    expect(sums(await reader.metrics(), INSTRUMENT.requests)).toEqual([
      expect.objectContaining({ value: 1, attributes: expect.objectContaining({ status: 'error', model: 'voyage-large-2' }) }),
    ]);
    await monitor.close();
  });
});
