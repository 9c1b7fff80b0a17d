import { mkdtempSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TokenMonitor } from '../monitor.ts';
import { type ApiServer, startApiServer } from './api.ts';

const monitors: TokenMonitor[] = [];
const servers: ApiServer[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await s.close();
  for (const m of monitors.splice(0)) await m.close();
});

async function start(monitor: TokenMonitor = new TokenMonitor({ ledger: false, metrics: false, loadConfig: false }), options = {}) {
  monitors.push(monitor);
  const server = await startApiServer(monitor, { port: 0, ...options });
  servers.push(server);
  return server;
}

/** A raw connection to the server; resolves once connected. */
function open(url: string): Promise<Socket & { closedAt?: number }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s: Socket & { closedAt?: number } = connect(Number(u.port), u.hostname, () => resolve(s));
    s.on('error', () => {});
    s.once('error', reject);
    s.on('close', () => {
      s.closedAt = Date.now();
    });
    sockets.push(s);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('startApiServer against slow and greedy clients', () => {
  it('closes a connection that trickles its headers past headersTimeout, and serves others meanwhile', async () => {
    const server = await start(undefined, { headersTimeout: 300, requestTimeout: 600 });
    const slow = await open(server.url);
    const start0 = Date.now();
    const request = 'GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ';
    let i = 0;
    // One header byte every 20 ms, forever: a connection that is never idle but never done.
    const drip = setInterval(() => {
      if (!slow.destroyed) slow.write(request[i++ % request.length] as string);
    }, 20);
    try {
      while (slow.closedAt === undefined && Date.now() - start0 < 5_000) {
        expect((await fetch(`${server.url}/v1/status`)).status).toBe(200);
        await sleep(50);
      }
    } finally {
      clearInterval(drip);
    }
    expect(slow.closedAt).toBeDefined();
    expect((slow.closedAt as number) - start0).toBeLessThan(2_000);
    // One that sends nothing at all goes the same way.
    const silent = await open(server.url);
    silent.resume();
    await sleep(1_500);
    expect(silent.closedAt).toBeDefined();
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });

  it('closes connections past maxConnections and serves again once they go', async () => {
    const server = await start(undefined, { maxConnections: 2 });
    const a = await open(server.url);
    const b = await open(server.url);
    const c = await open(server.url);
    await sleep(200);
    expect(c.closedAt).toBeDefined();
    expect(a.closedAt).toBeUndefined();
    expect(b.closedAt).toBeUndefined();
    a.destroy();
    b.destroy();
    await sleep(100);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });

  it('refuses options that cannot work, naming them', async () => {
    const m = new TokenMonitor({ ledger: false, metrics: false, loadConfig: false });
    monitors.push(m);
    await expect(startApiServer(m, { port: 0, headersTimeout: 0 })).rejects.toThrow(/headersTimeout/);
    await expect(startApiServer(m, { port: 0, headersTimeout: 5000, requestTimeout: 1000 })).rejects.toThrow(/headersTimeout/);
    await expect(startApiServer(m, { port: 0, corsOrigins: ['app.example.com'] })).rejects.toThrow(/corsOrigins/);
    await expect(startApiServer(m, { port: 0, host: '0.0.0.0' })).rejects.toThrow(/--allow-open/);
  });
});

describe('startApiServer against large bodies', () => {
  it('answers 413 to a body over maxBodyBytes, declared or streamed, and goes on serving', async () => {
    const server = await start(undefined, { maxBodyBytes: 1000 });
    const big = JSON.stringify([{ provider: 'openai', model: 'gpt-4o', userId: 'u'.repeat(2000) }]);
    const declared = await fetch(`${server.url}/v1/usage`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big });
    expect(declared.status).toBe(413);
    const chunks = [big.slice(0, 600), big.slice(600), big];
    const streamed = await fetch(`${server.url}/v1/usage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new ReadableStream({
        pull(c) {
          const next = chunks.shift();
          if (next === undefined) c.close();
          else c.enqueue(new TextEncoder().encode(next));
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(await streamed.json()).toMatchObject({ error: { type: 'too_large' } });
    const ok = await fetch(`${server.url}/v1/usage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ provider: 'openai', model: 'gpt-4o', inputTokens: 3 }),
    });
    expect(ok.status).toBe(201);
  });
});

describe('startApiServer against deep bodies', () => {
  it('answers 400 to a body nested a million levels deep and goes on serving', async () => {
    const server = await start(undefined, { maxBodyBytes: 4 * 1024 * 1024 });
    const post = (body: string) =>
      fetch(`${server.url}/v1/usage`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const deep = await post(`{"provider":"openai","model":"gpt-4o","metadata":{"a":${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}}}`);
    expect(deep.status).toBe(400);
    expect(await deep.json()).toMatchObject({ error: { type: 'too_deep' } });
    expect((await post('{"provider":"openai","model":"gpt-4o","metadata":{"a":[[[1]]]}}')).status).toBe(201);
  });
});

describe('startApiServer when an answer cannot be written', () => {
  /** A monitor whose budget status cannot be written as JSON, or throws what cannot even be read. */
  class Broken extends TokenMonitor {
    override status(): never {
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      return [cyclic] as never;
    }
    override alerts(): never {
      throw Object.defineProperty(new Error(), 'message', {
        get() {
          throw new Error('no message either');
        },
      });
    }
  }

  it('answers 500 and goes on serving', async () => {
    const server = await start(new Broken({ ledger: false, metrics: false, loadConfig: false }));
    for (const path of ['/v1/status', '/v1/alerts', '/v1/status']) {
      const r = await fetch(`${server.url}${path}`);
      expect(r.status, path).toBe(500);
      expect(await r.json()).toMatchObject({ error: { type: 'internal_error' } });
    }
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });
});

describe('monitor.validate and recordValidated (what ingest records through)', () => {
  it('records what validate() returned, once, and nothing else', () => {
    const m = new TokenMonitor({ ledger: false, metrics: false, loadConfig: false });
    monitors.push(m);
    const u = m.validate({ provider: 'openai', model: 'gpt-4o', inputTokens: 1000, apiKey: 'sk-test-abcdefghijklmnop' });
    expect(u.apiKeyId).not.toContain('sk-test');
    expect(m.recordValidated(u).logged).toBe(true);
    expect(() => m.recordValidated(u)).toThrow(/validate\(\)/);
    expect(() => m.recordValidated({ ...u })).toThrow(/validate\(\)/);
    expect(m.usageSummary('openai').requests).toBe(1);
    expect(() => m.validate({ provider: 'openai', model: 'gpt-4o', inputTokens: -1 })).toThrow(/inputTokens/);
  });

  it('POST /v1/usage validates each record once: checked by validate(), recorded by recordValidated(), never through record()', async () => {
    const m = new TokenMonitor({ ledger: false, metrics: false, loadConfig: false });
    const server = await start(m);
    const validate = vi.spyOn(m, 'validate');
    const recordValidated = vi.spyOn(m, 'recordValidated');
    const record = vi.spyOn(m, 'record');
    const body = [1, 2, 3].map((i) => ({ provider: 'openai', model: 'gpt-4o', input_tokens: 100 * i, outputTokens: 10 }));
    const r = await fetch(`${server.url}/v1/usage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(r.status).toBe(201);
    expect(validate).toHaveBeenCalledTimes(3);
    expect(recordValidated).toHaveBeenCalledTimes(3);
    expect(record).not.toHaveBeenCalled();
    expect(m.usageSummary('openai')).toMatchObject({ requests: 3, inputTokens: 600 });
  });
});

describe('POST /v1/usage while the ledger is behind', () => {
  it('answers 503 with Retry-After past maxLedgerBacklog, keeps what it took, and takes the retry once the ledger caught up', async () => {
    const monitor = new TokenMonitor({
      dir: mkdtempSync(join(tmpdir(), 'tm-backlog-')),
      metrics: false,
      loadConfig: false,
      logLevel: 'silent',
    });
    const server = await start(monitor, { maxLedgerBacklog: 5 });
    const records = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ provider: 'openai', model: 'gpt-4o', inputTokens: 10 + i, outputTokens: 1 }));
    const post = (body: unknown) =>
      fetch(`${server.url}/v1/usage`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post(records(5))).status).toBe(201);
    const behind = await post(records(3));
    expect(behind.status).toBe(503);
    expect(behind.headers.get('retry-after')).toBe('1');
    expect(await behind.json()).toMatchObject({ error: { type: 'ledger_behind' } });
    await monitor.flush();
    expect((await post(records(3))).status).toBe(201);
    await monitor.flush();
    expect(await monitor.records({})).toHaveLength(8);
    expect(monitor.health().ledger).toMatchObject({ written: 8, dropped: 0 });
  });
});

describe('the page’s routes', () => {
  it('answers usage by day split by a field, failed calls only, and 400s naming a bad parameter', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-api-daily-'));
    const server = await start(new TokenMonitor({ dir, metrics: false, loadConfig: false }));
    const t = Date.now() - 86_400_000;
    const post = (body: unknown) =>
      fetch(`${server.url}/v1/usage`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(
      (
        await post([
          { provider: 'openai', model: 'gpt-4o', inputTokens: 1000, timestamp: t },
          { provider: 'anthropic', model: 'claude-sonnet-4-20250514', inputTokens: 1000, timestamp: t + 1 },
          { provider: 'openai', model: 'gpt-4o', inputTokens: 0, errorType: 'rate_limit', errorMessage: '429', timestamp: t + 2 },
        ])
      ).status,
    ).toBe(201);
    const daily = (await (await fetch(`${server.url}/v1/daily?days=2&by=provider`)).json()) as {
      by: string;
      days: string[];
      series: { key: string; requests: number[] }[];
    };
    expect(daily.by).toBe('provider');
    expect(daily.days).toHaveLength(3);
    expect(daily.series.map((s) => [s.key, s.requests.reduce((a, b) => a + b)])).toEqual([
      ['anthropic', 1],
      ['openai', 2],
    ]);
    const failed = (await (await fetch(`${server.url}/v1/records?errors=true`)).json()) as { error: boolean; errorType: string }[];
    expect(failed.map((r) => [r.error, r.errorType])).toEqual([[true, 'rate_limit']]);
    expect((await (await fetch(`${server.url}/v1/records?errors=false`)).json()) as unknown[]).toHaveLength(3);
    for (const [path, field] of [
      ['/v1/daily?by=day', 'by'],
      ['/v1/daily?limit=3', 'limit'],
      ['/v1/records?errors=yes', 'errors'],
    ]) {
      const r = await fetch(`${server.url}${path}`);
      expect(r.status, path).toBe(400);
      expect(((await r.json()) as { error: { field: string } }).error.field, path).toBe(field);
    }
  });
});
