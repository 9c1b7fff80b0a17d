import { Ollama } from 'ollama';
import { describe, expect, it } from 'vitest';
import { INSTRUMENT, TokenMonitor } from '../src/index.ts';
import { histograms, memoryLogger, readerFor, sums } from './helpers/otel.ts';
import { collectJson, recorded } from './helpers/records.ts';
import { fixture, fixtureJson, type ReceivedRequest, type Reply } from './helpers/replay-server.ts';
import { useReplay } from './helpers/use-replay.ts';

// The official ollama client, pointed with its host option at a local server replaying recorded
// payloads (test/fixtures/ollama.sources.md): JSON bodies, and NDJSON for streams. No fetch is mocked.
function route(req: ReceivedRequest): Reply {
  const stream = (req.body as { stream?: boolean } | undefined)?.stream === true;
  if (req.path === '/api/chat')
    return stream ? { ndjson: fixture('ollama-chat-stream.ndjson') } : { json: fixtureJson('ollama-chat.json') };
  if (req.path === '/api/generate')
    return stream ? { ndjson: fixture('ollama-generate-stream.ndjson') } : { json: fixtureJson('ollama-generate.json') };
  if (req.path === '/api/embed') return { json: fixtureJson('ollama-embed.json') };
  if (req.path === '/api/embeddings') return { json: fixtureJson('ollama-embeddings.json') };
  return { status: 404, json: { error: `no route for ${req.path}` } };
}

const server = useReplay(route);

function setup(monitorOptions: ConstructorParameters<typeof TokenMonitor>[0] = {}) {
  const log = memoryLogger();
  const monitor = new TokenMonitor({ loadConfig: false, logger: log, ...monitorOptions, metrics: { prometheus: false } });
  const reader = readerFor(monitor.metricProducer);
  const make = () => new Ollama({ host: server.url });
  return { monitor, reader, log, bare: make(), wrapped: monitor.instrument(make()), records: recorded(monitor) };
}

const chat = () => ({ model: 'llama3.2', messages: [{ role: 'user', content: 'why is the sky blue?' }] });
const generate = () => ({ model: 'llama3.2', prompt: 'Why is the sky blue?' });
/** The first NDJSON line of a stream and its newline: the client gets it, then waits for more. */
const firstLine = (file: string) => fixture(file).indexOf('\n') + 1;

describe('monitor.instrument(new Ollama())', () => {
  it('returns the same client and the bare response; meters chat, free as a local model', async () => {
    const { monitor, reader, bare, wrapped } = setup();
    const client = new Ollama({ host: server.url });
    expect(monitor.instrument(client)).toBe(client);
    const [a, b] = await Promise.all([bare.chat(chat()), wrapped.chat(chat())]);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(monitor.usageSummary('ollama')).toMatchObject({
      requests: 1,
      errors: 0,
      inputTokens: 26,
      outputTokens: 298,
      totalTokens: 324,
      costUsd: 0,
      unpricedRequests: 0,
    });
    expect(sums(await reader.metrics(), INSTRUMENT.requests)).toEqual([
      expect.objectContaining({
        value: 1,
        attributes: expect.objectContaining({
          provider: 'ollama',
          model: 'llama3.2',
          service_type: 'llm',
          operation: 'chat',
          status: 'ok',
        }),
      }),
    ]);
    await monitor.close();
  });

  it('prices a local model when the user sets a price', async () => {
    const { monitor, wrapped } = setup({ prices: { 'ollama/llama3.2': { input: 0.1, output: 0.2 } } });
    await wrapped.chat(chat());
    expect(monitor.usageSummary('ollama').costUsd).toBeCloseTo((26 * 0.1 + 298 * 0.2) / 1e6, 12);
    await monitor.close();
  });

  it('meters a chat stream once, at its done line; the caller keeps the AbortableAsyncIterator and its chunks', async () => {
    const { monitor, bare, wrapped } = setup();
    const bareStream = await bare.chat({ ...chat(), stream: true });
    const stream = await wrapped.chat({ ...chat(), stream: true });
    expect(stream).toBeInstanceOf(bareStream.constructor);
    expect(typeof stream.abort).toBe('function');
    const it = stream[Symbol.asyncIterator]();
    const out = [JSON.stringify((await it.next()).value)];
    expect(monitor.usageSummary('ollama').requests).toBe(0);
    for (let r = await it.next(); r.done !== true; r = await it.next()) out.push(JSON.stringify(r.value));
    expect(out).toEqual(await collectJson(bareStream));
    expect(monitor.usageSummary('ollama')).toMatchObject({ requests: 1, inputTokens: 26, outputTokens: 282, costUsd: 0 });
    await monitor.close();
  });

  it('meters generate as a text completion, streamed or not', async () => {
    const { monitor, reader, bare, wrapped } = setup();
    const [a, b] = await Promise.all([bare.generate(generate()), wrapped.generate(generate())]);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    const s = { ...generate(), stream: true as const };
    expect(await collectJson(await wrapped.generate(s))).toEqual(await collectJson(await bare.generate(s)));
    expect(monitor.usageSummary('ollama')).toMatchObject({ requests: 2, inputTokens: 26 + 26, outputTokens: 290 + 259 });
    const [p] = sums(await reader.metrics(), INSTRUMENT.requests);
    expect(p).toMatchObject({ value: 2, attributes: { service_type: 'llm', operation: 'text_completion', model: 'llama3.2' } });
    await monitor.close();
  });

  it('meters embed, and the legacy embeddings (which report no usage) as unknown rather than free', async () => {
    const { monitor, reader, bare, wrapped } = setup();
    const req = { model: 'all-minilm', input: 'Why is the sky blue?' };
    const [a, b] = await Promise.all([bare.embed(req), wrapped.embed(req)]);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    const legacy = { model: 'all-minilm', prompt: 'Here is an article about llamas...' };
    const [c, d] = await Promise.all([bare.embeddings(legacy), wrapped.embeddings(legacy)]);
    expect(JSON.stringify(d)).toBe(JSON.stringify(c));
    expect(monitor.usageSummary('ollama')).toMatchObject({ requests: 2, inputTokens: 8, totalTokens: 8, costUsd: 0, unpricedRequests: 1 });
    const data = await reader.metrics();
    expect(sums(data, INSTRUMENT.requests)).toEqual([
      expect.objectContaining({ value: 2, attributes: expect.objectContaining({ service_type: 'embedding', operation: 'embeddings' }) }),
    ]);
    await monitor.close();
  });

  it('records a stream the caller abandons (break) as partial', async () => {
    const { monitor, wrapped, records } = setup();
    for await (const _ of await wrapped.chat({ ...chat(), stream: true })) break;
    expect(monitor.usageSummary('ollama')).toMatchObject({ requests: 1, errors: 0, inputTokens: null, unpricedRequests: 1 });
    expect(records[0]?.metadata).toMatchObject({ partial: true, usage: 'missing' });
    await monitor.close();
  });

  it('records a stream aborted with abort() while read as partial; the caller gets the AbortError the bare client throws', async () => {
    const { monitor, bare, wrapped, records } = setup();
    const read = async (c: Ollama) => {
      server.next = { ndjson: fixture('ollama-chat-stream.ndjson'), cutAfterBytes: firstLine('ollama-chat-stream.ndjson') };
      const stream = await c.chat({ ...chat(), stream: true });
      const seen: unknown[] = [];
      try {
        for await (const chunk of stream) {
          seen.push(chunk);
          stream.abort();
        }
      } catch (error) {
        return { seen, error };
      }
      return { seen, error: undefined };
    };
    const a = await read(bare);
    const b = await read(wrapped);
    expect(b.seen).toEqual(a.seen);
    expect(b.seen).toHaveLength(1);
    expect((b.error as Error).name).toBe('AbortError');
    expect((b.error as Error).constructor).toBe((a.error as Error).constructor);
    expect((b.error as Error).message).toBe((a.error as Error).message);
    expect(monitor.usageSummary('ollama')).toMatchObject({ requests: 1, errors: 1 });
    expect(records[0]).toMatchObject({ errorType: 'abort', metadata: { partial: true } });
    await monitor.close();
  });

  it('records a stream aborted before it is read, by its abort() or the client’s, as partial', async () => {
    const { monitor, wrapped, records } = setup();
    server.next = { ndjson: fixture('ollama-chat-stream.ndjson'), cutAfterBytes: firstLine('ollama-chat-stream.ndjson') };
    (await wrapped.chat({ ...chat(), stream: true })).abort();
    server.next = { ndjson: fixture('ollama-generate-stream.ndjson'), cutAfterBytes: firstLine('ollama-generate-stream.ndjson') };
    const stream = await wrapped.generate({ ...generate(), stream: true });
    wrapped.abort();
    await expect(collectJson(stream)).rejects.toThrow();
    expect(monitor.usageSummary('ollama').requests).toBe(2);
    expect(records.map((r) => r.metadata)).toEqual([
      expect.objectContaining({ partial: true }),
      expect.objectContaining({ partial: true }),
    ]);
    await monitor.close();
  });

  it('records a stream that reports an error midway; the caller gets the same error', async () => {
    const { monitor, bare, wrapped, records } = setup();
    server.next = { ndjson: fixture('ollama-stream-error.ndjson') };
    const bareError = await collectJson(await bare.generate({ ...generate(), stream: true })).catch((e: unknown) => e);
    server.next = { ndjson: fixture('ollama-stream-error.ndjson') };
    const error = await collectJson(await wrapped.generate({ ...generate(), stream: true })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe('an error was encountered while running the model');
    expect((error as Error).message).toBe((bareError as Error).message);
    expect(monitor.usageSummary('ollama')).toMatchObject({ requests: 1, errors: 1 });
    expect(records[0]).toMatchObject({ model: 'gemma4', metadata: { partial: true } });
    await monitor.close();
  });

  it.each([429, 500])('records HTTP %i as an error and rethrows the SDK error unchanged', async (status) => {
    const { monitor, reader, bare, wrapped } = setup();
    server.next = { status, json: fixtureJson('ollama-error.json') };
    const bareError = await bare.chat(chat()).catch((e: unknown) => e);
    server.next = { status, json: fixtureJson('ollama-error.json') };
    const error = await wrapped.chat(chat()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).constructor).toBe((bareError as Error).constructor);
    expect((error as Error).message).toBe('the model failed to generate a response');
    expect(error).toMatchObject({ name: 'ResponseError', status_code: status });
    expect(monitor.usageSummary('ollama')).toMatchObject({ requests: 1, errors: 1 });
    const data = await reader.metrics();
    expect(sums(data, INSTRUMENT.requests)).toEqual([
      expect.objectContaining({ value: 1, attributes: expect.objectContaining({ status: 'error', model: 'llama3.2', operation: 'chat' }) }),
    ]);
    // The client's ResponseError carries its status as `status_code`: the error type is the status.
    expect(histograms(data, INSTRUMENT.operationDuration)[0]?.attributes).toMatchObject({ 'error.type': String(status) });
    await monitor.close();
  });

  it('leaves a client with chat(), generate() and embed() but no model management (not Ollama) untouched', async () => {
    const { monitor, log } = setup();
    const chatFn = async () => ({});
    const lookalike = { chat: chatFn, generate: chatFn, embed: chatFn };
    monitor.instrument(lookalike);
    expect(lookalike.chat).toBe(chatFn);
    expect(log.lines.join('\n')).toContain('not a client tokenmeter knows');
    await monitor.close();
  });
});
