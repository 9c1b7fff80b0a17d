/**
 * The oldest SDK majors tokenmeter's peer ranges admit, metered as the current ones are: the same
 * calls through each client, against the same recorded payloads, must leave the same records, and
 * each instrumented client must hand its caller what the bare one does. The old clients are
 * installed under aliases (package.json: openai-v6, anthropic-sdk-v0-50, google-genai-v1).
 * openai 5 is checked by hand only: its optional peer zod@3 conflicts with this project's zod 4.
 */

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import AnthropicNow from '@anthropic-ai/sdk';
import { GoogleGenAI as GoogleNow } from '@google/genai';
import AnthropicOld from 'anthropic-sdk-v0-50';
import { GoogleGenAI as GoogleOld } from 'google-genai-v1';
import OpenAINow from 'openai';
import OpenAIOld from 'openai-v6';
import { describe, expect, it } from 'vitest';
import { TokenMonitor } from '../src/index.ts';
import type { UsageRecord } from '../src/usage.ts';
import { fixture, fixtureJson, type ReceivedRequest, type Reply } from './helpers/replay-server.ts';
import { useReplay } from './helpers/use-replay.ts';

function route(req: ReceivedRequest): Reply {
  const body = req.body as { stream?: boolean; stream_options?: { include_usage?: boolean } } | undefined;
  // OpenAI
  if (req.path.endsWith('/embeddings')) return { json: fixtureJson('openai-embeddings.json') };
  if (req.path.endsWith('/responses'))
    return body?.stream ? { sse: fixture('openai-responses-stream.sse') } : { json: fixtureJson('openai-responses.json') };
  if (req.path.endsWith('/chat/completions')) {
    if (!body?.stream) return { json: fixtureJson('openai-chat-cached.json') };
    return { sse: fixture(body.stream_options?.include_usage ? 'openai-chat-stream.sse' : 'openai-chat-stream-no-usage.sse') };
  }
  // Anthropic
  if (req.path.endsWith('/v1/messages'))
    return body?.stream ? { sse: fixture('anthropic-stream.sse') } : { json: fixtureJson('anthropic-message-cache.json') };
  // Gemini API
  if (req.path.includes(':streamGenerateContent')) return { sse: fixture('gemini-stream.sse') };
  if (req.path.includes(':generateContent')) return { json: fixtureJson('gemini-thinking.json') };
  if (req.path.includes(':embedContent') || req.path.includes(':batchEmbedContents')) {
    const one = fixtureJson<{ embedding: unknown }>('gemini-embed.json');
    return { json: req.path.includes(':batch') ? { embeddings: [one.embedding] } : one };
  }
  return { status: 404, json: { error: { message: `no route for ${req.path}` } } };
}

const server = useReplay(route);

/** A monitor with a ledger of its own. */
function monitor(): TokenMonitor {
  const dir = mkdtempSync(join(tmpdir(), 'tokenmeter-floors-'));
  return new TokenMonitor({ dir, loadConfig: false, metrics: { prometheus: false }, logLevel: 'silent' });
}

/** What a record says of a call, without when it happened, how long it took, or its row id. */
function usageOf(records: (UsageRecord & { id?: number })[]): Partial<UsageRecord>[] {
  return records.map(({ timestamp: _t, durationMs: _d, id: _i, ...rest }) => rest);
}

async function collect(stream: AsyncIterable<unknown>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of stream) out.push(JSON.stringify(e));
  return out;
}

/**
 * Runs `calls` through a bare and an instrumented client of one class; returns what the caller got
 * from each and what the monitor recorded.
 */
async function run<C extends object>(make: () => C, calls: (c: C) => Promise<unknown[]>) {
  const m = monitor();
  const bare = await calls(make());
  const wrapped = await calls(m.instrument(make()));
  const records = usageOf(await m.records({ limit: 1000 }));
  await m.close();
  return { bare, wrapped, records };
}

/** The same calls through the current and the oldest client: same results to the caller, same records. */
async function expectAlike<A extends object, B extends object>(
  now: () => A,
  old: () => B,
  calls: (c: A | B) => Promise<unknown[]>,
  requests: number,
) {
  const a = await run(now, calls);
  const b = await run(old, calls);
  expect(b.wrapped).toEqual(b.bare);
  expect(a.wrapped).toEqual(a.bare);
  expect(a.records).toHaveLength(requests);
  expect(b.records).toEqual(a.records);
  expect(b.records.every((r) => r.totalTokens !== null && (r.totalTokens ?? 0) > 0 && r.costUsd !== null)).toBe(true);
}

const KEY = 'sk-proj-testkeytestkeytestkey-wxyz';

describe('the oldest supported SDK majors are metered as the current ones', () => {
  it('openai 6: chat, streamed chat, parse(), Responses (streamed or not), embeddings', async () => {
    const make =
      <T>(C: new (o: object) => T) =>
      () =>
        new C({ apiKey: KEY, baseURL: `${server.url}/v1`, maxRetries: 0 });
    const chat = { model: 'gpt-4o', messages: [{ role: 'user' as const, content: 'Hello' }] };
    await expectAlike(
      make(OpenAINow),
      make(OpenAIOld),
      async (client) => {
        const c = client as OpenAINow;
        return [
          await c.chat.completions.create(chat),
          await collect(await c.chat.completions.create({ ...chat, stream: true })),
          await c.chat.completions.parse(chat),
          await c.responses.create({ model: 'gpt-4.1', input: 'hi' }),
          await collect(await c.responses.create({ model: 'gpt-4.1', input: 'hi', stream: true })),
          await c.embeddings.create({ model: 'text-embedding-3-small', input: 'hi' }),
        ];
      },
      6,
    );
  });

  it('openai 6: a 429 is recorded as a failed call and the SDK error reaches the caller', async () => {
    const m = monitor();
    const c = m.instrument(new OpenAIOld({ apiKey: KEY, baseURL: `${server.url}/v1`, maxRetries: 0 }));
    server.next = { status: 429, json: { error: { message: 'Rate limit reached', type: 'requests', param: null, code: null } } };
    await expect(c.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] })).rejects.toBeInstanceOf(
      OpenAIOld.RateLimitError,
    );
    expect(m.usageSummary('openai')).toMatchObject({ requests: 1, errors: 1 });
    await m.close();
  });

  it('@anthropic-ai/sdk 0.50: messages.create, a raw stream and the messages.stream() helper', async () => {
    const make =
      <T>(C: new (o: object) => T) =>
      () =>
        new C({ apiKey: 'sk-ant-api03-testkeytestkey-wxyz', baseURL: server.url, maxRetries: 0 });
    const params = { model: 'claude-sonnet-4-5', max_tokens: 1024, messages: [{ role: 'user' as const, content: 'Hello' }] };
    await expectAlike(
      make(AnthropicNow),
      make(AnthropicOld),
      async (client) => {
        const c = client as AnthropicNow;
        return [
          await c.messages.create(params),
          await collect(await c.messages.create({ ...params, stream: true })),
          await c.messages.stream(params).finalMessage(),
        ];
      },
      3,
    );
  });

  it('@google/genai 1: generateContent, generateContentStream and embedContent', async () => {
    const make =
      <T>(C: new (o: object) => T) =>
      () =>
        new C({ apiKey: 'AIzaTestKeyTestKeyTestKey0123456789', httpOptions: { baseUrl: server.url } });
    const m = monitor();
    await expectAlike(
      make(GoogleNow),
      make(GoogleOld),
      async (client) => {
        const c = client as GoogleNow;
        return [
          JSON.stringify(await c.models.generateContent({ model: 'gemini-2.5-flash', contents: 'Hi' })),
          await collect(await c.models.generateContentStream({ model: 'gemini-2.0-flash', contents: 'Hi' })),
        ];
      },
      2,
    );
    // Embeddings report no usage on the Gemini API: recorded as a call with its tokens unknown.
    const c = m.instrument(make(GoogleOld)());
    await c.models.embedContent({ model: 'gemini-embedding-001', contents: 'Hi' });
    expect(m.usageSummary('gemini')).toMatchObject({ requests: 1, inputTokens: null });
    const [rec] = await m.records();
    expect(rec).toMatchObject({ serviceType: 'embedding', inputTokens: null, costUsd: null });
    await m.close();
  });
});
