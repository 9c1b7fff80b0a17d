import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  BedrockRuntime,
  BedrockRuntimeClient,
  type BedrockRuntimeClientConfig,
  ConverseCommand,
  type ConverseCommandOutput,
  ConverseStreamCommand,
  CountTokensCommand,
  InternalServerException,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
  type ResponseStream,
  ThrottlingException,
} from '@aws-sdk/client-bedrock-runtime';
import { EventStreamCodec } from '@smithy/core/event-streams';
import { fromUtf8, toUtf8 } from '@smithy/core/serde';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { describe, expect, it } from 'vitest';
import type { Usage } from '../src/index.ts';
import { INSTRUMENT, TokenMonitor } from '../src/index.ts';
import { histograms, readerFor, sums } from './helpers/otel.ts';
import { fixture, fixtureJson } from './helpers/replay-server.ts';
import { useReplay } from './helpers/use-replay.ts';

// Bedrock's streams are AWS event-stream frames (https://docs.aws.amazon.com/transcribe/latest/dg/event-stream.html):
// the recorded JSON payloads are framed here with the SDK's own codec.
const codec = new EventStreamCodec(toUtf8, fromUtf8);
function frames(events: { type: string; payload: unknown }[]): Uint8Array {
  return Buffer.concat(
    events.map(({ type, payload }) =>
      codec.encode({
        headers: {
          ':message-type': { type: 'string', value: 'event' },
          ':event-type': { type: 'string', value: type },
          ':content-type': { type: 'string', value: 'application/json' },
        },
        body: fromUtf8(JSON.stringify(payload)),
      }),
    ),
  );
}
/** ConverseStream: each recorded event is `{ <event type>: payload }`. */
const converseStream = (file: string) =>
  frames(fixtureJson<Record<string, unknown>[]>(file).map((e) => ({ type: Object.keys(e)[0] as string, payload: Object.values(e)[0] })));
/** InvokeModelWithResponseStream: each recorded model JSON travels base64 in a `chunk` event. */
const chunkStream = (file: string) =>
  frames(
    fixtureJson<unknown[]>(file).map((c) => ({ type: 'chunk', payload: { bytes: Buffer.from(JSON.stringify(c)).toString('base64') } })),
  );

// Headers Bedrock sends on InvokeModel for every model; values chosen for the recorded Mistral body.
const MISTRAL_COUNTS = { 'x-amzn-bedrock-input-token-count': '18', 'x-amzn-bedrock-output-token-count': '10' };

const server = useReplay((req) => {
  const path = decodeURIComponent(req.path);
  if (path.endsWith('/converse')) return { json: fixtureJson('aws-bedrock-converse-cache.json') };
  if (path.endsWith('/converse-stream')) return { eventStream: converseStream('aws-bedrock-converse-stream-titan.json') };
  if (path.endsWith('/invoke-with-response-stream')) return { eventStream: chunkStream('aws-bedrock-invoke-stream-claude.json') };
  if (path.endsWith('/invoke') && path.includes('anthropic.')) return { json: fixtureJson('anthropic-message-cache.json') };
  if (path.endsWith('/invoke')) return { json: fixtureJson('aws-bedrock-invoke-mistral.json'), headers: MISTRAL_COUNTS };
  if (path.endsWith('/count-tokens')) return { json: { inputTokens: 12 } };
  return { status: 404, json: { message: `no route for ${req.path}` }, headers: { 'x-amzn-errortype': 'ResourceNotFoundException' } };
});

function config(): BedrockRuntimeClientConfig {
  return {
    endpoint: server.url,
    region: 'us-east-1',
    // AWS's documented example keys: signed, never checked.
    credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
    maxAttempts: 1,
    // The default handler speaks HTTP/2 to Bedrock; the replay server speaks HTTP/1.1.
    requestHandler: new NodeHttpHandler(),
  };
}

function setup() {
  const monitor = new TokenMonitor({ loadConfig: false, metrics: { prometheus: false } });
  const reader = readerFor(monitor.metricProducer);
  // What tokenmeter hands the monitor, to see what metrics cannot show (a stream marked partial).
  const recorded: { usage: Usage; error?: { type: string; message: string } | undefined }[] = [];
  const meterUsage = monitor.meterUsage.bind(monitor);
  monitor.meterUsage = (usage, facts) => {
    recorded.push({ usage: { ...usage }, error: facts?.error });
    meterUsage(usage, facts);
  };
  return {
    monitor,
    reader,
    recorded,
    bare: new BedrockRuntimeClient(config()),
    wrapped: monitor.instrument(new BedrockRuntimeClient(config())),
  };
}

/** The parts of a Converse output that are data (`$metadata` differs by request id only). */
const data = (o: ConverseCommandOutput) => ({ output: o.output, usage: o.usage, stopReason: o.stopReason, metrics: o.metrics });

async function collect<T>(stream: AsyncIterable<T> | undefined): Promise<T[]> {
  const out: T[] = [];
  for await (const e of stream ?? []) out.push(e);
  return out;
}

const converse = {
  modelId: 'us.anthropic.claude-3-7-sonnet-20250219-v1:0',
  messages: [{ role: 'user' as const, content: [{ text: 'Summarise the document.' }] }],
};

describe('monitor.instrument(new BedrockRuntimeClient())', () => {
  it('meters Converse with cache reads added to input, through an inference profile id, and returns the bare output', async () => {
    const { monitor, reader, bare, wrapped } = setup();
    expect(wrapped).toBeInstanceOf(BedrockRuntimeClient);
    const a = await bare.send(new ConverseCommand(converse));
    const b = await wrapped.send(new ConverseCommand(converse));
    expect(data(b)).toEqual(data(a));
    expect(b.$metadata.httpStatusCode).toBe(200);
    // claude-3-7-sonnet on Bedrock: 15 fresh at $3, 1,800 cache reads at $0.30, 120 output at $15 per 1M
    const s = monitor.usageSummary('aws_bedrock');
    expect(s).toMatchObject({ requests: 1, errors: 0, inputTokens: 1815, cachedInputTokens: 1800, outputTokens: 120, totalTokens: 1935 });
    expect(s.costUsd).toBeCloseTo((15 * 3 + 1800 * 0.3 + 120 * 15) / 1e6, 12);
    const [p] = sums(await reader.metrics(), INSTRUMENT.requests);
    expect(p?.attributes).toMatchObject({ provider: 'aws_bedrock', model: converse.modelId, status: 'ok' });
    await monitor.close();
  });

  it('meters the aggregated BedrockRuntime, its promise and callback forms, and a model given by ARN', async () => {
    const monitor = new TokenMonitor({ loadConfig: false, metrics: { prometheus: false } });
    const client = monitor.instrument(new BedrockRuntime(config()));
    const modelId = `arn:aws:bedrock:us-east-1:123456789012:inference-profile/${converse.modelId}`;
    const a = await client.converse({ ...converse, modelId });
    expect(a.usage).toEqual({
      inputTokens: 15,
      outputTokens: 120,
      totalTokens: 1935,
      cacheReadInputTokens: 1800,
      cacheWriteInputTokens: 0,
    });
    const b = await new Promise<ConverseCommandOutput | undefined>((resolve, reject) =>
      client.converse({ ...converse, modelId }, (err?: unknown, out?: ConverseCommandOutput) => (err ? reject(err) : resolve(out))),
    );
    expect(b && data(b)).toEqual(data(a));
    server.next = {
      status: 429,
      json: fixtureJson('aws-bedrock-error-throttling.json'),
      headers: { 'x-amzn-errortype': 'ThrottlingException' },
    };
    const error = await new Promise((resolve) => client.converse(converse, {}, (err?: unknown) => resolve(err)));
    expect(error).toBeInstanceOf(ThrottlingException);
    const s = monitor.usageSummary('aws_bedrock');
    expect(s).toMatchObject({ requests: 3, errors: 1, inputTokens: 2 * 1815, outputTokens: 240 });
    expect(s.costUsd).toBeCloseTo((2 * (15 * 3 + 1800 * 0.3 + 120 * 15)) / 1e6, 12);
    await monitor.close();
  });

  it('meters ConverseStream once, at its end, with every event and the output object unchanged', async () => {
    const { monitor, bare, wrapped } = setup();
    const req = { modelId: 'amazon.titan-text-lite-v1', messages: converse.messages };
    const bareOut = await bare.send(new ConverseStreamCommand(req));
    const expected = await collect(bareOut.stream);
    const out = await wrapped.send(new ConverseStreamCommand(req));
    const stream = out.stream;
    expect(Object.keys(out).sort()).toEqual(['$metadata', 'stream']);
    expect(monitor.usageSummary('aws_bedrock').requests).toBe(0);
    const seen: unknown[] = [];
    for await (const e of out.stream ?? []) {
      seen.push(e);
      if (seen.length < expected.length) expect(monitor.usageSummary('aws_bedrock').requests).toBe(0);
    }
    expect(out.stream).toBe(stream);
    expect(seen).toEqual(expected);
    // The body is read: iterating again gets what the bare SDK gives, and meters nothing more.
    expect(await collect(out.stream)).toEqual(await collect(bareOut.stream));
    expect(seen.at(-1)).toEqual({
      metadata: { usage: { inputTokens: 8, outputTokens: 10, totalTokens: 18 }, metrics: { latencyMs: 765 } },
    });
    // amazon.titan-text-lite-v1: $0.15 in, $0.20 out per 1M
    const s = monitor.usageSummary('aws_bedrock');
    expect(s).toMatchObject({ requests: 1, inputTokens: 8, outputTokens: 10, totalTokens: 18 });
    expect(s.costUsd).toBeCloseTo((8 * 0.15 + 10 * 0.2) / 1e6, 12);
    await monitor.close();
  });

  it('records a ConverseStream the caller leaves before its usage arrives as partial, with unknown usage', async () => {
    const { monitor, reader, recorded, wrapped } = setup();
    const out = await wrapped.send(new ConverseStreamCommand({ modelId: 'amazon.titan-text-lite-v1', messages: converse.messages }));
    // messageStop ends the message; the usage follows in the metadata event, never read here.
    for await (const e of out.stream ?? []) if ('messageStop' in e) break;
    expect(recorded).toEqual([
      { usage: expect.objectContaining({ partial: true, usageSource: 'missing', model: 'amazon.titan-text-lite-v1' }) },
    ]);
    // Unknown, never shown as 0: no record of the provider reported it.
    expect(monitor.usageSummary('aws_bedrock')).toMatchObject({ requests: 1, inputTokens: null, unreported: { inputTokens: 1 } });
    // The usage never arrived: unknown, so the call is unpriced rather than free.
    expect(sums(await reader.metrics(), INSTRUMENT.unpriced)[0]?.value).toBe(1);
    await monitor.close();
  });

  it('meters InvokeModel for Claude from the Messages body, cache writes in input, body bytes unchanged', async () => {
    const { monitor, bare, wrapped } = setup();
    const req = {
      modelId: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0',
      contentType: 'application/json',
      body: JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 1024, messages: [{ role: 'user', content: 'Hello' }] }),
    };
    const a = await bare.send(new InvokeModelCommand(req));
    const b = await wrapped.send(new InvokeModelCommand(req));
    expect(b.body.transformToString()).toBe(a.body.transformToString());
    expect(b.body.transformToString()).toBe(fixture('anthropic-message-cache.json').trim());
    expect(b.contentType).toBe(a.contentType);
    // claude-sonnet-4-5 in a US profile (regional, +10%): 21 fresh at $3.30, 188,086 cache writes
    // at $4.125, 393 output at $16.50 per 1M
    const s = monitor.usageSummary('aws_bedrock');
    expect(s).toMatchObject({ requests: 1, inputTokens: 188107, outputTokens: 393 });
    expect(s.costUsd).toBeCloseTo((21 * 3.3 + 188086 * 4.125 + 393 * 16.5) / 1e6, 12);
    await monitor.close();
  });

  it('meters InvokeModel from the token-count headers when the model body has no usage (Mistral)', async () => {
    const { monitor, bare, wrapped } = setup();
    const req = { modelId: 'mistral.mistral-7b-instruct-v0:2', body: JSON.stringify({ prompt: 'Say this is a test', max_tokens: 10 }) };
    const a = await bare.send(new InvokeModelCommand(req));
    const b = await wrapped.send(new InvokeModelCommand(req));
    expect(JSON.parse(b.body.transformToString())).toEqual(JSON.parse(a.body.transformToString()));
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    // The SDK keeps no header but its request id: the counts are read on their way in.
    expect(JSON.stringify(b.$metadata)).not.toContain('token');
    // mistral-7b-instruct: $0.15 in, $0.20 out per 1M
    const s = monitor.usageSummary('aws_bedrock');
    expect(s).toMatchObject({ requests: 1, inputTokens: 18, outputTokens: 10, totalTokens: 28 });
    expect(s.costUsd).toBeCloseTo((18 * 0.15 + 10 * 0.2) / 1e6, 12);
    await monitor.close();
  });

  it('meters InvokeModelWithResponseStream for Claude once, at its end, chunk bytes unchanged', async () => {
    const { monitor, bare, wrapped } = setup();
    const req = {
      modelId: 'anthropic.claude-3-5-sonnet-20240620-v1:0',
      body: JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 12, messages: [] }),
    };
    const text = (events: ResponseStream[]) => events.map((e) => new TextDecoder().decode(e.chunk?.bytes));
    const expected = text(await collect((await bare.send(new InvokeModelWithResponseStreamCommand(req))).body));
    const out = await wrapped.send(new InvokeModelWithResponseStreamCommand(req));
    expect(monitor.usageSummary('aws_bedrock').requests).toBe(0);
    const got = text(await collect(out.body));
    expect(got).toEqual(expected);
    expect(got.map((t) => JSON.parse(t))).toEqual(fixtureJson('aws-bedrock-invoke-stream-claude.json'));
    // claude-3-5-sonnet: 22 in at $3, 12 out at $15 per 1M
    const s = monitor.usageSummary('aws_bedrock');
    expect(s).toMatchObject({ requests: 1, inputTokens: 22, outputTokens: 12 });
    expect(s.costUsd).toBeCloseTo((22 * 3 + 12 * 15) / 1e6, 12);
    await monitor.close();
  });

  it('records an InvokeModelWithResponseStream left after its first chunk as partial, with the input it reported', async () => {
    const { monitor, recorded, wrapped } = setup();
    const out = await wrapped.send(
      new InvokeModelWithResponseStreamCommand({ modelId: 'anthropic.claude-3-5-sonnet-20240620-v1:0', body: '{}' }),
    );
    for await (const _ of out.body ?? []) break;
    expect(recorded).toEqual([{ usage: expect.objectContaining({ partial: true, inputTokens: 22, outputTokens: 1 }) }]);
    expect(monitor.usageSummary('aws_bedrock')).toMatchObject({ requests: 1, inputTokens: 22, outputTokens: 1 });
    await monitor.close();
  });

  it('records a stream whose connection drops midway as partial, with its error, and the caller gets the error', async () => {
    const { monitor, recorded, wrapped } = setup();
    server.next = { eventStream: chunkStream('aws-bedrock-invoke-stream-claude.json'), cutAfterBytes: 700 };
    const out = await wrapped.send(
      new InvokeModelWithResponseStreamCommand({ modelId: 'anthropic.claude-3-5-sonnet-20240620-v1:0', body: '{}' }),
    );
    await expect(collect(out.body)).rejects.toThrow();
    expect(recorded).toEqual([
      { usage: expect.objectContaining({ partial: true, inputTokens: 22 }), error: expect.objectContaining({ type: expect.any(String) }) },
    ]);
    expect(monitor.usageSummary('aws_bedrock')).toMatchObject({ requests: 1, errors: 1 });
    await monitor.close();
  });

  it.each([
    [429, 'ThrottlingException', 'aws-bedrock-error-throttling.json', ThrottlingException],
    [500, 'InternalServerException', 'aws-bedrock-error-internal.json', InternalServerException],
  ])('records a %i %s with its status as error type, and rethrows the SDK error unchanged', async (status, name, file, type) => {
    const { monitor, reader, recorded, bare, wrapped } = setup();
    const reply = {
      status,
      json: fixtureJson(file),
      headers: { 'x-amzn-errortype': `${name}:http://internal.amazon.com/coral/com.amazon.bedrock/` },
    };
    server.next = reply;
    const expected = await bare.send(new ConverseCommand(converse)).catch((e: unknown) => e);
    server.next = reply;
    const error = await wrapped.send(new ConverseCommand(converse)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(type);
    expect(error).toMatchObject({ name, message: (expected as Error).message, $metadata: { httpStatusCode: status } });
    expect(recorded).toEqual([
      {
        usage: expect.objectContaining({ model: converse.modelId }),
        error: { type: String(status), message: (expected as Error).message },
      },
    ]);
    expect(monitor.usageSummary('aws_bedrock')).toMatchObject({ requests: 1, errors: 1 });
    const metrics = await reader.metrics();
    expect(sums(metrics, INSTRUMENT.requests)[0]?.attributes).toMatchObject({ provider: 'aws_bedrock', status: 'error' });
    expect(histograms(metrics, INSTRUMENT.operationDuration)[0]?.attributes).toMatchObject({ 'error.type': String(status) });
    await monitor.close();
  });

  it('passes other commands through unmetered, and tells commands by schema or by class name', async () => {
    const { monitor, bare, wrapped } = setup();
    const count = { modelId: converse.modelId, input: { converse: { messages: converse.messages } } };
    const a = await bare.send(new CountTokensCommand(count));
    const b = await wrapped.send(new CountTokensCommand(count));
    expect(b.inputTokens).toBe(a.inputTokens);
    expect(monitor.usageSummary('aws_bedrock').requests).toBe(0);
    // A minified build renames the class; the operation schema still names it.
    const Renamed = class extends ConverseCommand {};
    await wrapped.send(new Renamed(converse));
    // SDK versions before operation schemas: the class name tells it.
    const legacy = new ConverseCommand(converse);
    Reflect.deleteProperty(legacy, 'schema');
    await wrapped.send(legacy);
    expect(monitor.usageSummary('aws_bedrock')).toMatchObject({ requests: 2, inputTokens: 2 * 1815 });
    await monitor.close();
  });

  it('knows a subclassed client by its service id, and wrapping twice meters once', async () => {
    const monitor = new TokenMonitor({ loadConfig: false, metrics: { prometheus: false } });
    class CompanyBedrock extends BedrockRuntimeClient {}
    const client = monitor.instrument(monitor.instrument(new CompanyBedrock(config())));
    await client.send(new ConverseCommand(converse));
    expect(monitor.usageSummary('aws_bedrock')).toMatchObject({ requests: 1, inputTokens: 1815 });
    expect(client.middlewareStack.identify().filter((m) => m.startsWith('tokenmeter'))).toHaveLength(1);
    // A config without its service id: the class name tells it.
    for (const Client of [BedrockRuntimeClient, BedrockRuntime]) {
      const plain = new Client(config());
      Reflect.deleteProperty(plain.config, 'serviceId');
      await monitor.instrument(plain).send(new ConverseCommand(converse));
    }
    expect(monitor.usageSummary('aws_bedrock').requests).toBe(3);
    await monitor.close();
  });

  it('records the context given to instrument() merged with withContext(), under the provider id asked for', async () => {
    const monitor = new TokenMonitor({ loadConfig: false, metrics: { prometheus: false } });
    const contexts: unknown[] = [];
    const meterUsage = monitor.meterUsage.bind(monitor);
    monitor.meterUsage = (usage, facts) => {
      contexts.push(facts?.context);
      meterUsage(usage, facts);
    };
    const client = monitor.instrument(new BedrockRuntimeClient(config()), {
      provider: 'bedrock_eu',
      userId: 'u-1',
      metadata: { team: 'search' },
    });
    await monitor.withContext({ threadId: 't-1', metadata: { step: 'plan' } }, () => client.send(new ConverseCommand(converse)));
    expect(contexts).toEqual([{ userId: 'u-1', threadId: 't-1', metadata: { team: 'search', step: 'plan' } }]);
    expect(monitor.usageSummary('bedrock_eu')).toMatchObject({ requests: 1, inputTokens: 1815 });
    expect(monitor.usageSummary('aws_bedrock').requests).toBe(0);
    await monitor.close();
  });

  it('does not load the AWS SDK when tokenmeter is imported', () => {
    const script = `
      import { registerHooks } from 'node:module';
      const seen = [];
      registerHooks({ resolve(specifier, context, next) { seen.push(specifier); return next(specifier, context); } });
      await import(${JSON.stringify(join(import.meta.dirname, '..', 'src', 'index.ts'))});
      console.log(JSON.stringify({ wrapper: seen.includes('./aws-bedrock.ts'), aws: seen.filter((s) => /@aws-sdk|@smithy/.test(s)) }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ wrapper: true, aws: [] });
  });
});
