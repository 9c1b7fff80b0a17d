/**
 * A key of no known shape, echoed back by an upstream 401 (as OpenAI's "Incorrect API key
 * provided: ..." does), must be kept nowhere: not in the ledger's bytes, the exports, the log, the
 * metrics or health(). The official clients, each with its own key, against the replay server
 * answering every request with a 401 in its provider's shape that quotes the key the request
 * carried, as given and in the encodings a message may carry it in.
 */

import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import { Mistral } from '@mistralai/mistralai';
import { CohereClientV2 } from 'cohere-ai';
import Groq from 'groq-sdk';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { VoyageAIClient } from 'voyageai';
import { TokenMonitor } from '../src/index.ts';
import { memoryLogger } from './helpers/otel.ts';
import type { ReceivedRequest, Reply } from './helpers/replay-server.ts';
import { useReplay } from './helpers/use-replay.ts';

const KEY = 'zz9-plain-secret-0123456789abcdef';
// Every character a regular expression gives a meaning to, and those JSON and URLs escape.
const HOSTILE_KEY = 'zz9.(plain)+secret*?[0-9]{3}|$^\\"/%&=';

/** The key a request carried, in whichever header its SDK sends it. */
function keyOf(req: ReceivedRequest): string {
  const h = req.headers;
  const auth = String(h.authorization ?? '').replace(/^Bearer /, '');
  return String(h['x-api-key'] ?? h['x-goog-api-key'] ?? auth);
}

/** The forms of `key` the server quotes: as given, percent-encoded, in a Basic header, JSON-escaped. */
function forms(key: string): string[] {
  return [key, encodeURIComponent(key), Buffer.from(`api:${key}`).toString('base64'), JSON.stringify(key)];
}

/** A 401 in each provider's shape, quoting the key as OpenAI's does (and in its encodings). */
function route(req: ReceivedRequest): Reply {
  const [raw, percent, basic, json] = forms(keyOf(req));
  const message = `Incorrect API key provided: ${raw}. Sent as ?key=${percent}, Basic ${basic} and ${json}.`;
  const provider = req.path.split('/')[1];
  const body: Record<string, unknown> = {
    openai: { error: { message, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } },
    groq: { error: { message, type: 'invalid_request_error', code: 'invalid_api_key' } },
    anthropic: { type: 'error', error: { type: 'authentication_error', message } },
    google: { error: { code: 401, message, status: 'UNAUTHENTICATED' } },
    mistral: { message, request_id: 'req-1' },
    cohere: { message },
    voyage: { detail: message },
    ollama: { error: message },
  };
  return { status: 401, json: body[provider ?? ''] ?? { error: { message } } };
}

const server = useReplay(route);

interface Client {
  name: string;
  call(monitor: TokenMonitor, key: string): Promise<unknown>;
}

const hi = [{ role: 'user' as const, content: 'Hi' }];
const CLIENTS: Client[] = [
  {
    name: 'openai',
    call: (m, apiKey) =>
      m
        .instrument(new OpenAI({ apiKey, baseURL: `${server.url}/openai/v1`, maxRetries: 0 }))
        .chat.completions.create({ model: 'gpt-4o', messages: hi }),
  },
  {
    name: 'openai (a key function)',
    call: (m, key) =>
      m
        .instrument(new OpenAI({ apiKey: async () => key, baseURL: `${server.url}/openai/v1`, maxRetries: 0 }))
        .chat.completions.create({ model: 'gpt-4o', messages: hi }),
  },
  {
    name: 'groq-sdk',
    call: (m, apiKey) =>
      m
        .instrument(new Groq({ apiKey, baseURL: `${server.url}/groq`, maxRetries: 0 }))
        .chat.completions.create({ model: 'llama-3.3-70b-versatile', messages: hi }),
  },
  {
    name: '@anthropic-ai/sdk',
    call: (m, apiKey) =>
      m
        .instrument(new Anthropic({ apiKey, baseURL: `${server.url}/anthropic`, maxRetries: 0 }))
        .messages.create({ model: 'claude-haiku-4-5', max_tokens: 16, messages: hi }),
  },
  {
    name: '@anthropic-ai/sdk (a Bearer authToken)',
    call: (m, authToken) =>
      m
        .instrument(new Anthropic({ authToken, apiKey: null, baseURL: `${server.url}/anthropic`, maxRetries: 0 }))
        .messages.create({ model: 'claude-haiku-4-5', max_tokens: 16, messages: hi }),
  },
  {
    name: '@google/genai',
    call: (m, apiKey) =>
      m
        .instrument(new GoogleGenAI({ apiKey, httpOptions: { baseUrl: `${server.url}/google` } }))
        .models.generateContent({ model: 'gemini-2.5-flash', contents: 'Hi' }),
  },
  {
    name: '@mistralai/mistralai',
    call: (m, apiKey) =>
      m
        .instrument(new Mistral({ apiKey, serverURL: `${server.url}/mistral`, retryConfig: { strategy: 'none' } }))
        .chat.complete({ model: 'mistral-small-latest', messages: hi }),
  },
  {
    name: 'cohere-ai',
    call: (m, token) =>
      m
        .instrument(new CohereClientV2({ token, environment: `${server.url}/cohere`, maxRetries: 0 }))
        .chat({ model: 'command-a-03-2025', messages: hi }),
  },
  {
    name: 'voyageai',
    call: (m, apiKey) =>
      m
        .instrument(new VoyageAIClient({ apiKey, baseUrl: `${server.url}/voyage`, maxRetries: 0 }))
        .embed({ model: 'voyage-3.5', input: 'Hi' }),
  },
  {
    name: 'ollama (a Bearer key in its headers)',
    call: (m, key) =>
      m
        .instrument(new Ollama({ host: `${server.url}/ollama`, headers: { Authorization: `Bearer ${key}` } }))
        .chat({ model: 'llama3.2', messages: hi }),
  },
  {
    name: 'ollama (a Headers object)',
    call: (m, key) =>
      m
        .instrument(new Ollama({ host: `${server.url}/ollama`, headers: new Headers({ authorization: `Bearer ${key}` }) }))
        .chat({ model: 'llama3.2', messages: hi }),
  },
];

/** Everything a monitor kept or showed: its ledger's files (the database, its WAL), exports, log, metrics, health. */
async function everythingKept(m: TokenMonitor, dir: string, log: string[]): Promise<string> {
  await m.flush();
  const parts: string[] = [];
  await m.exportRecords(join(dir, 'export.csv'));
  await m.exportRecords(join(dir, 'export.json'));
  await m.ready();
  parts.push(await (await fetch(m.metricsUrl ?? '')).text());
  parts.push(JSON.stringify(m.health()), JSON.stringify(await m.records()));
  // The files while the ledger is open (its WAL not yet checkpointed), then once it is closed.
  parts.push(...files(dir));
  await m.close();
  parts.push(...files(dir), ...log);
  return parts.join('\n');
}

/** The raw bytes of every file under `dir`, as text. */
function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((f) => f.isFile())
    .map((f) => readFileSync(join(f.parentPath, f.name), 'latin1'));
}

function monitor() {
  const dir = mkdtempSync(join(tmpdir(), 'tokenmeter-secrets-'));
  const log = memoryLogger();
  const m = new TokenMonitor({ dir, loadConfig: false, logger: log, logLevel: 'debug', metrics: { prometheus: { port: 0 } } });
  return { m, dir, log: log.lines };
}

describe('a key of no known shape, echoed by a 401, is kept nowhere', () => {
  it.each(CLIENTS)('$name', async (client) => {
    for (const key of [KEY, HOSTILE_KEY]) {
      const { m, dir, log } = monitor();
      const error = await client.call(m, key).then(
        () => undefined,
        (e: unknown) => e,
      );
      // The caller's error is the SDK's own, the key in it untouched.
      expect(error).toBeInstanceOf(Error);
      const [record] = await m.records();
      expect(record).toMatchObject({ error: true, errorType: '401' });
      // The key was seen: the record has its id (its last 4 characters and an HMAC).
      expect(record?.apiKeyId).toMatch(new RegExp(`^${key.slice(-4).replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&')}-[0-9a-f]{8}$`));
      // The key was there, in the message kept, and is gone from it.
      expect(record?.errorMessage).toContain('[redacted]');
      const kept = await everythingKept(m, dir, log);
      for (const form of forms(key)) expect(kept).not.toContain(form);
      // The log was written to: a debug line at least.
      expect(log.length).toBeGreaterThan(0);
    }
  });

  it('track(): a message recorded without its key is redacted of the keys of the clients the monitor meters', async () => {
    for (const key of [KEY, HOSTILE_KEY]) {
      const { m, dir, log } = monitor();
      m.instrument(new OpenAI({ apiKey: key, baseURL: `${server.url}/openai/v1`, maxRetries: 0 }));
      const gateway = m.track(
        async () => {
          throw new Error(`401 Incorrect API key provided: ${key}`);
        },
        { provider: 'openai', model: 'gpt-4o' },
      );
      await expect(gateway()).rejects.toThrow(key);
      const [record] = await m.records();
      expect(record?.errorMessage).toBe('401 Incorrect API key provided: [redacted]');
      const kept = await everythingKept(m, dir, log);
      for (const form of forms(key)) expect(kept).not.toContain(form);
    }
  });

  it('record({ apiKey, errorMessage }): the key given is redacted from the message given with it', async () => {
    for (const key of [KEY, HOSTILE_KEY]) {
      const { m, dir, log } = monitor();
      const [raw, percent, basic, json] = forms(key);
      m.record({
        provider: 'openai',
        model: 'gpt-4o',
        apiKey: key,
        errorMessage: `401 Incorrect API key provided: ${raw} (${percent}, Basic ${basic}, ${json})`,
        metadata: { upstream: `https://api.example.com/v1?key=${percent}` },
      });
      const [record] = await m.records();
      // Basic's credentials redacted in two: what encodes `api:` (as a Basic value), then the key's part.
      expect(record?.errorMessage).toBe(
        '401 Incorrect API key provided: [redacted] ([redacted], Basic [redacted][redacted], "[redacted]")',
      );
      expect(record?.metadata).toEqual({ upstream: 'https://api.example.com/v1?key=[redacted]' });
      const kept = await everythingKept(m, dir, log);
      for (const form of forms(key)) expect(kept).not.toContain(form);
    }
  });
});
