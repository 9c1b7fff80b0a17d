import { GoogleGenAI } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { INSTRUMENT, TokenMonitor } from '../src/index.ts';
import { collectUntil } from './helpers/gc.ts';
import { readerFor, sums } from './helpers/otel.ts';
import { fixture, fixtureJson } from './helpers/replay-server.ts';
import { useReplay } from './helpers/use-replay.ts';

const server = useReplay((req) => {
  if (req.path.includes(':streamGenerateContent')) return { sse: fixture('gemini-stream.sse') };
  if (req.path.includes(':generateContent')) return { json: fixtureJson('gemini-thinking.json') };
  // Vertex AI's text embedding models answer embedContent at :predict.
  if (req.path.includes(':predict')) return { json: fixtureJson('vertex-embed-predict.json') };
  // embedContent answers one embedding; batchEmbedContents a list of them.
  const one = fixtureJson<{ embedding: unknown }>('gemini-embed.json');
  if (req.path.includes(':batchEmbedContents')) return { json: { embeddings: [one.embedding] } };
  if (req.path.includes(':embedContent')) return { json: one };
  return { status: 404, json: { error: { code: 404, message: `no route for ${req.path}`, status: 'NOT_FOUND' } } };
});

function setup(vertexai = false) {
  const monitor = new TokenMonitor({ loadConfig: false, metrics: { prometheus: false } });
  const reader = readerFor(monitor.metricProducer);
  const make = () => new GoogleGenAI({ apiKey: 'AIzaTestKeyTestKeyTestKey0123456789', vertexai, httpOptions: { baseUrl: server.url } });
  return { monitor, reader, bare: make(), wrapped: monitor.instrument(make()) };
}

describe('monitor.instrument(new GoogleGenAI())', () => {
  it('meters generateContent with thinking tokens counted as output, and returns the bare response', async () => {
    const { monitor, bare, wrapped } = setup();
    const req = { model: 'gemini-2.5-flash', contents: 'What is the sum of the first 50 primes?' };
    const [a, b] = await Promise.all([bare.models.generateContent(req), wrapped.models.generateContent(req)]);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    // gemini-2.5-flash: 10 input at $0.30, 150 + 894 output (thoughts included) at $2.50 per 1M
    const s = monitor.usageSummary('gemini');
    expect(s).toMatchObject({ requests: 1, inputTokens: 10, outputTokens: 1044 });
    expect(s.costUsd).toBeCloseTo((10 * 0.3 + 1044 * 2.5) / 1e6, 12);
    await monitor.close();
  });

  it('prices the audio of a prompt at the audio rate, and keeps its audio count in the ledger', async () => {
    const { monitor, wrapped } = setup();
    server.next = { json: fixtureJson('gemini-audio.json') };
    const r = await wrapped.models.generateContent({
      model: 'gemini-2.5-flash',
      contents: [
        {
          role: 'user',
          parts: [
            { text: 'Describe this audio clip' },
            { inlineData: { mimeType: 'audio/mp3', data: 'SUQzBAAAAAAAI1RTU0UAAAAPAAADTGF2ZjU4Ljc2LjEwMAAAAAAAAAAAAAAA' } },
          ],
        },
      ],
    });
    expect(r.usageMetadata?.promptTokensDetails).toContainEqual({ modality: 'AUDIO', tokenCount: 1920 });
    const [record] = await monitor.records({ limit: 1 });
    expect(record).toMatchObject({ model: 'gemini-2.5-flash', inputTokens: 1927, inputAudioTokens: 1920, outputTokens: 530 });
    // gemini-2.5-flash per 1M (genai-prices): text in $0.30, audio in $1, output $2.50 (thoughts included).
    // 7×0.3 + 1920×1 + 530×2.5 = 3,247.1 µ$ (at the text rate alone the audio would cost 576 µ$, not 1,920)
    expect(record?.costUsd).toBeCloseTo((7 * 0.3 + 1920 * 1 + 530 * 2.5) / 1e6, 12);
    expect(record?.costUsd).toBe(0.0032471);
    await monitor.close();
  });

  it('prices the images an image model generates at its image output rate, and keeps their count in the ledger', async () => {
    const { monitor, wrapped } = setup();
    server.next = { json: fixtureJson('gemini-image.json') };
    const r = await wrapped.models.generateContent({
      model: 'gemini-2.5-flash-image',
      contents: "Create a picture of a banana wearing a tiny chef's hat",
    });
    expect(r.candidates?.[0]?.content?.parts?.[1]?.inlineData?.mimeType).toBe('image/png');
    const [record] = await monitor.records({ limit: 1 });
    expect(record).toMatchObject({ model: 'gemini-2.5-flash-image', inputTokens: 14, outputTokens: 1308, outputImageTokens: 1290 });
    // gemini-2.5-flash-image per 1M (genai-prices): input $0.30, text output $2.50, image output $30:
    // 14×0.3 + 18×2.5 + 1290×30 = 38,749.2 µ$ (the image alone $0.0387, the pricing page's $0.039 an image;
    // at the text rate the whole answer would cost 3,274.2 µ$)
    expect(record?.costUsd).toBe(0.0387492);
    await monitor.close();
  });

  it('prices cached audio on Vertex AI at the cached-audio rate', async () => {
    const { monitor, wrapped } = setup(true);
    server.next = { json: fixtureJson('gemini-audio-cached.json') };
    await wrapped.models.generateContent({ model: 'gemini-2.5-flash', contents: 'What did they decide about the launch?' });
    const [record] = await monitor.records({ limit: 1 });
    expect(record).toMatchObject({ provider: 'vertex_ai', cachedInputTokens: 19500, inputAudioTokens: 19200, cachedAudioTokens: 19200 });
    // 19,200 cached audio×0.10 + 300 cached text×0.03 + 12 text×0.30 + 200 output×2.50 = 2,432.6 µ$
    expect(record?.costUsd).toBe(0.0024326);
    await monitor.close();
  });

  it('meters generateContentStream from the last running total, chunks unchanged', async () => {
    const { monitor, bare, wrapped } = setup();
    const req = { model: 'gemini-2.0-flash', contents: 'Tell me a story' };
    const read = async (c: GoogleGenAI) => {
      const out: string[] = [];
      for await (const chunk of await c.models.generateContentStream(req)) out.push(JSON.stringify(chunk));
      return out;
    };
    expect(await read(wrapped)).toEqual(await read(bare));
    expect(monitor.usageSummary('gemini')).toMatchObject({ requests: 1, inputTokens: 8, outputTokens: 23, totalTokens: 31 });
    await monitor.close();
  });

  it('records a stream the caller leaves early as partial', async () => {
    const { monitor, wrapped } = setup();
    for await (const _ of await wrapped.models.generateContentStream({ model: 'gemini-2.0-flash', contents: 'hi' })) break;
    expect(monitor.usageSummary('gemini')).toMatchObject({ requests: 1, inputTokens: 8, outputTokens: 4 });
    await monitor.close();
  });

  it('records a stream the caller drops unread, once it is garbage-collected, as partial with its usage unknown', async () => {
    const { monitor, wrapped } = setup();
    await (async () => {
      await wrapped.models.generateContentStream({ model: 'gemini-2.0-flash', contents: 'hi' });
    })();
    await collectUntil(() => monitor.usageSummary('gemini').requests > 0);
    expect(monitor.usageSummary('gemini')).toMatchObject({ requests: 1, inputTokens: null, unpricedRequests: 1 });
    await monitor.close();
  });

  it('records embedContent, which reports no usage, as unknown rather than free', async () => {
    const { monitor, reader, wrapped } = setup();
    const r = await wrapped.models.embedContent({ model: 'gemini-embedding-001', contents: 'hello' });
    expect(r.embeddings?.[0]?.values?.length).toBe(3);
    const data = await reader.metrics();
    expect(sums(data, INSTRUMENT.unpriced)).toEqual([
      expect.objectContaining({ value: 1, attributes: expect.objectContaining({ service_type: 'embedding' }) }),
    ]);
    await monitor.close();
  });

  it('meters Vertex AI embedContent (:predict) from the sum of its per-instance token counts', async () => {
    const monitor = new TokenMonitor({ loadConfig: false, metrics: { prometheus: false } });
    // An API key (Vertex AI express mode) authenticates with a header: google-auth-library is never asked for credentials.
    const make = () =>
      new GoogleGenAI({
        vertexai: true,
        project: 'p',
        location: 'us-central1',
        apiKey: 'AQ.TestVertexExpressKey0123456789',
        httpOptions: { baseUrl: server.url },
      });
    const bare = make();
    const wrapped = monitor.instrument(make());
    const req = { model: 'text-embedding-005', contents: ['What is the capital of France?', 'Paris is the capital of France.'] };
    const [a, b] = await Promise.all([bare.models.embedContent(req), wrapped.models.embedContent(req)]);
    // The same response (its sdkHttpResponse holds a Date header, which may differ by a second).
    expect({ ...b, sdkHttpResponse: undefined }).toEqual({ ...a, sdkHttpResponse: undefined });
    // What @google/genai makes of the :predict body: per-embedding statistics, camelCased.
    expect(b.embeddings?.map((e) => e.statistics?.tokenCount)).toEqual([8, 7]);
    expect(b.metadata?.billableCharacterCount).toBe(51);
    const sent = server.requests.at(-1);
    expect(sent?.path).toMatch(/^\/v1beta1\/projects\/p\/locations\/us-central1\/publishers\/google\/models\/text-embedding-005:predict/);
    expect(sent?.body).toMatchObject({ instances: [{ content: req.contents[0] }, { content: req.contents[1] }] });
    expect(sent?.headers.authorization).toBeUndefined();
    expect(monitor.usageSummary('vertex_ai')).toMatchObject({ requests: 1, inputTokens: 15, outputTokens: null });
    await monitor.close();
  });

  it('records Vertex AI clients as vertex_ai, and errors with their status', async () => {
    const { monitor, reader, wrapped } = setup(true);
    server.next = { status: 429, json: { error: { code: 429, message: 'Resource exhausted', status: 'RESOURCE_EXHAUSTED' } } };
    await expect(wrapped.models.generateContent({ model: 'gemini-2.0-flash', contents: 'hi' })).rejects.toThrow();
    const [p] = sums(await reader.metrics(), INSTRUMENT.requests);
    expect(p?.attributes).toMatchObject({ provider: 'vertex_ai', status: 'error' });
    await monitor.close();
  });
});
