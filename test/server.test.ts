import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExposition } from './helpers/prometheus.ts';
import { CLI, startServe } from './helpers/serve.ts';

// `tokenmeter serve` as users run it: a child process over a storage dir, spoken to over HTTP.
let proc: ChildProcess;
let url: string;
const dir = mkdtempSync(join(tmpdir(), 'tm-serve-'));
const TOKEN = 'test-token-123';

/** Starts `tokenmeter serve` with `args`; resolves once it prints its URL. */
function serve(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ proc: ChildProcess; url: string }> {
  return startServe(args, { env });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((resolve) => child.on('close', resolve));
}

beforeAll(async () => {
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ budgets: [{ scope: 'user', id: 'u1', limit_usd: 0.01, enforce: true }] }));
  ({ proc, url } = await serve(['--dir', dir, '--token', TOKEN]));
});
afterAll(async () => {
  await stop(proc);
});

const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
const post = (path: string, body: unknown, headers: Record<string, string> = auth) =>
  fetch(`${url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
const get = (path: string) => fetch(`${url}${path}`, { headers: auth });

describe('tokenmeter serve', () => {
  it('ingests records, answers reports, and refuses bad input naming the field', async () => {
    const r = await post('/v1/usage', [
      { provider: 'openai', model: 'gpt-4o', inputTokens: 1000, outputTokens: 500, userId: 'u2' },
      {
        provider: 'anthropic',
        model: 'claude-sonnet-4-20250514',
        inputTokens: 2000,
        outputTokens: 100,
        userId: 'u2',
        metadata: { run_id: 'r9' },
      },
    ]);
    expect(r.status).toBe(201);
    const body = (await r.json()) as { recorded: number; costUsd: number; unpriced: number };
    expect(body).toMatchObject({ recorded: 2, unpriced: 0 });
    const bad = await post('/v1/usage', [
      { provider: 'openai', model: 'gpt-4o', inputTokens: 1 },
      { provider: 'openai', model: 'gpt-4o', inputTokens: -4 },
    ]);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { type: 'validation_error', field: '[1].inputTokens', value: -4 } });
    const summary = (await (await get('/v1/summary?days=1&by=provider')).json()) as {
      total: { requests: number; costUsd: number; inputCostUsd: number; outputCostUsd: number; unknownCounts: Record<string, number> };
      rows: { key: string }[];
    };
    // The bad batch recorded nothing, not even its good first item.
    expect(summary.total.requests).toBe(2);
    // The cost's sides: gpt-4o 1,000 × $2.50 in, 500 × $10 out; claude-sonnet-4 2,000 × $3 in, 100 × $15 out (per 1M).
    expect(summary.total).toMatchObject({ inputCostUsd: 0.0085, outputCostUsd: 0.0065, costUsd: 0.015 });
    expect(summary.total.unknownCounts).toMatchObject({ inputTokens: 0, outputTokens: 0, reasoningTokens: 2 });
    const recs = (await (await get('/v1/records?days=1')).json()) as { model: string; inputCostUsd: number; outputCostUsd: number }[];
    expect(recs.find((x) => x.model === 'gpt-4o')).toMatchObject({ inputCostUsd: 0.0025, outputCostUsd: 0.005 });
    expect(summary.total.costUsd).toBeCloseTo(body.costUsd, 12);
    expect(body.costUsd).toBeGreaterThan(0);
    const user = (await (await get('/v1/users/u2?days=1')).json()) as { totals: { requests: number } };
    expect(user.totals.requests).toBe(2);
    const run = (await (await get('/v1/records?run=r9')).json()) as { provider: string }[];
    expect(run.map((x) => x.provider)).toEqual(['anthropic']);
    expect((await get('/v1/summary?by=color')).status).toBe(400);
    expect((await fetch(`${url}/v1/summary`)).status).toBe(401);
  });

  it('summarises the last 30 days by default, as tokenmeter summary does', async () => {
    const old = { provider: 'openai', model: 'gpt-4o', inputTokens: 10, outputTokens: 1, userId: 'u-old' };
    await post('/v1/usage', [
      { ...old, timestamp: Date.now() - 40 * 86_400_000 },
      { ...old, timestamp: Date.now() - 20 * 86_400_000 },
    ]);
    const count = async (q: string) =>
      ((await (await get(`/v1/summary?by=userId${q}`)).json()) as { rows: { key: string; requests: number }[] }).rows.find(
        (r) => r.key === 'u-old',
      )?.requests;
    expect(await count('')).toBe(1);
    expect(await count('&days=60')).toBe(2);
    const body = (await (await get('/v1/summary')).json()) as { period: { since: string | null } };
    expect(Date.now() - Date.parse(body.period.since as string)).toBeCloseTo(30 * 86_400_000, -5);
  });

  it('answers 402 to a call an enforced budget cannot afford, and serves budget state and metrics', async () => {
    const ask = { provider: 'openai', model: 'gpt-4o', userId: 'u1', max_tokens: 200, messages: [{ role: 'user', content: 'hi' }] };
    expect((await post('/v1/check', ask)).status).toBe(200);
    await post('/v1/usage', { provider: 'openai', model: 'gpt-4o', inputTokens: 1000, outputTokens: 800, userId: 'u1' });
    const refused = await post('/v1/check', ask);
    expect(refused.status).toBe(402);
    expect(await refused.json()).toMatchObject({
      allowed: false,
      error: { type: 'budget_exceeded', budget: { scope: 'user', scopeId: 'u1' }, limit: 0.01 },
    });
    const status = (await (await get('/v1/status')).json()) as { scope: string; level: string }[];
    expect(status[0]).toMatchObject({ scope: 'user', level: 'exceeded' });
    const alerts = (await (await get('/v1/alerts')).json()) as { budgets: { level: string }[]; alerts: { level: string }[] };
    expect(alerts.budgets.map((b) => b.level)).toEqual(['exceeded']);
    expect(alerts.alerts.map((a) => a.level)).toEqual(['exceeded', 'critical', 'warning']);
    const metrics = parseExposition(await (await fetch(`${url}/metrics`)).text());
    expect(metrics.find((m) => m.name === 'tokenmeter_budget_limit' && m.labels.scope_id === 'u1')?.value).toBe(0.01);
    expect(metrics.some((m) => m.name === 'tokenmeter_requests_total')).toBe(true);
    expect((await fetch(`${url}/health`)).status).toBe(200);
  });
});

const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const raw = (path: string, body: string, headers: Record<string, string> = auth) =>
  fetch(`${url}${path}`, { method: 'POST', headers, body });
/** The ledger's request count, as the API reports it. */
const requests = async () => ((await (await get('/v1/summary?days=1')).json()) as { total: { requests: number } }).total.requests;

describe('tokenmeter serve against hostile input', () => {
  it('answers 400 to bodies nested thousands deep, in any field or route, and goes on serving', async () => {
    const deep = nested(3000);
    for (const [path, body] of [
      ['/v1/usage', `{"provider":"openai","model":"gpt-4o","inputTokens":${deep}}`],
      ['/v1/usage', `[{"provider":"openai","model":"gpt-4o","metadata":{"a":${deep}}}]`],
      ['/v1/usage', `{"provider":"openai","model":"gpt-4o","userId":${deep}}`],
      ['/v1/check', `{"provider":${deep}}`],
      ['/v1/check', `{"provider":"openai","userId":${deep}}`],
    ] as const) {
      const r = await raw(path, body);
      expect(r.status, `${path} ${body.slice(0, 60)}`).toBe(400);
      const answer = (await r.json()) as { error: { type: string; message: string } };
      expect(answer.error).toMatchObject({ type: 'too_deep' });
      expect(answer.error.message).toContain('32');
    }
    expect((await fetch(`${url}/health`)).status).toBe(200);
    expect((await post('/v1/usage', { provider: 'openai', model: 'gpt-4o', inputTokens: 1 })).status).toBe(201);
  });

  it('quotes a bad value as a short flat excerpt, never the value as sent', async () => {
    for (const [path, body, field] of [
      ['/v1/usage', { provider: 'openai', model: 'gpt-4o', inputTokens: JSON.parse(nested(30)) }, 'inputTokens'],
      ['/v1/usage', [{ provider: 'openai', model: 'gpt-4o', userId: { a: 'x'.repeat(10_000) } }], '[0].userId'],
      ['/v1/check', { provider: Array.from({ length: 5000 }, (_, i) => i) }, 'provider'],
      ['/v1/check', { provider: 'openai', userId: 'u'.repeat(100_000).split('') }, 'userId'],
    ] as const) {
      const r = await post(path, body);
      expect(r.status).toBe(400);
      const answer = (await r.json()) as { error: { field: string; value: unknown } };
      expect(answer.error.field).toBe(field);
      expect(typeof answer.error.value).toBe('string');
      expect((answer.error.value as string).length).toBeLessThanOrEqual(121);
    }
    const long = await post('/v1/usage', { provider: 'openai', model: 'm'.repeat(50_000) });
    expect(((await long.json()) as { error: { field: string; value: string } }).error.value).toMatch(/^m{120}…$/);
  });

  it('answers 400, not 500, to bad paths and query parameters, naming the parameter and value', async () => {
    for (const path of ['/v1/users/%E0%A4%A', '/v1/threads/%zz']) {
      const r = await get(path);
      expect(r.status, path).toBe(400);
      expect(await r.json()).toMatchObject({ error: { type: 'validation_error' } });
    }
    for (const [query, field, value] of [
      ['/v1/records?limit=1e21', 'limit', '1e21'],
      ['/v1/records?limit=0', 'limit', '0'],
      ['/v1/records?limit=-3', 'limit', '-3'],
      ['/v1/records?limit=10001', 'limit', '10001'],
      ['/v1/records?limit=2.5', 'limit', '2.5'],
      ['/v1/records?limt=5', 'limt', '5'],
      ['/v1/summary?limit=5', 'limit', '5'],
      ['/v1/summary?days=1&days=2', 'days', '2'],
      ['/v1/summary?days=NaN', 'days', 'NaN'],
      ['/v1/summary?days=1e400', 'days', '1e400'],
      ['/v1/summary?since=yesterday', 'since', 'yesterday'],
      ['/v1/summary?provider=', 'provider', ''],
      ['/v1/users/u2?user=u3', 'user', 'u3'],
      ['/v1/status?verbose=1', 'verbose', '1'],
      ['/v1/summary?__proto__=1', '__proto__', '1'],
      ['/v1/summary?constructor=1', 'constructor', '1'],
      ['/v1/alerts?%E0%A4%A=1', '%E0%A4%A', '%E0%A4%A=1'],
      ['/v1/records?user=%E0%A4%A', 'user', 'user=%E0%A4%A'],
    ] as const) {
      const r = await get(query);
      expect(r.status, query).toBe(400);
      expect(await r.json(), query).toMatchObject({ error: { type: 'validation_error', field, value } });
    }
    expect((await get('/v1/records?limit=10000&days=1')).status).toBe(200);
    expect((await get('/v1/users/u%202?days=1.5')).status).toBe(200);
  });

  it('takes writes only as application/json, and nothing from a web page of another origin', async () => {
    const before = await requests();
    const record = JSON.stringify({ provider: 'openai', model: 'gpt-4o', inputTokens: 1_000_000, outputTokens: 2_000_000 });
    // What a web page can send cross-origin without a preflight: text/plain, a form, no content type.
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/json; charset=latin1',
    ]) {
      const r = await raw('/v1/usage', record, { authorization: auth.authorization, 'content-type': type });
      expect(r.status, type).toBe(415);
    }
    expect((await raw('/v1/check', '{"provider":"openai"}', { authorization: auth.authorization })).status).toBe(415);
    expect((await raw('/v1/usage', record, { ...auth, 'content-type': 'Application/JSON; charset="UTF-8"' })).status).toBe(201);
    const foreign = await raw('/v1/usage', record, { ...auth, origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await fetch(`${url}/v1/usage`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect(preflight.status).toBe(403);
    // A page whose name was re-pointed at 127.0.0.1 sends its own name as Host.
    const rebound = await new Promise<number>((resolve, reject) => {
      const u = new URL(`${url}/v1/summary`);
      httpGet({ host: u.hostname, port: u.port, path: u.pathname, headers: { host: 'evil.example:8787', ...auth } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    expect(rebound).toBe(403);
    expect(await requests()).toBe(before + 1);
  });

  it('answers a batch with counts, not the records', async () => {
    const batch = Array.from({ length: 1000 }, (_, i) => ({
      provider: 'openai',
      model: i % 2 ? 'gpt-4o' : 'no-such-model',
      inputTokens: 10,
      userId: 'u9',
    }));
    const r = await post('/v1/usage', batch);
    const text = await r.text();
    expect(r.status).toBe(201);
    expect(text.length).toBeLessThan(200);
    expect(JSON.parse(text)).toMatchObject({ recorded: 1000, unpriced: 500, alerts: [] });
    const tooMany = await post(
      '/v1/usage',
      Array.from({ length: 10_001 }, () => ({ provider: 'a', model: 'b' })),
    );
    expect(tooMany.status).toBe(400);
    expect(await tooMany.json()).toMatchObject({ error: { field: 'body', value: '10001 records' } });
  });
});

describe('tokenmeter serve: exposure, browsers and slow clients', () => {
  const refused = (args: string[], env: NodeJS.ProcessEnv) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--dir', dir, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env,
      });
      let stderr = '';
      child.stderr?.on('data', (c: Buffer) => {
        stderr += c;
      });
      // One that starts after all is stopped: the assertion on the exit code then fails.
      child.stdout?.on('data', () => child.kill('SIGTERM'));
      child.on('close', (code) => resolve({ code, stderr }));
    });
  const noToken = { ...process.env, TOKENMETER_API_TOKEN: '' };

  it('refuses to listen beyond loopback without a token, unless told the API is open', async () => {
    for (const host of ['0.0.0.0', '::']) {
      const r = await refused(['--host', host], noToken);
      expect(r.code, host).toBe(2);
      expect(r.stderr).toMatch(/--token.*--allow-open/s);
    }
    const open = await serve(['--dir', dir, '--host', '0.0.0.0', '--allow-open'], noToken);
    expect(open.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
    await stop(open.proc);
    const withToken = await serve(['--dir', dir, '--host', '0.0.0.0'], { ...process.env, TOKENMETER_API_TOKEN: 't0ken' });
    const port = new URL(withToken.url).port;
    expect((await fetch(`http://127.0.0.1:${port}/v1/status`)).status).toBe(401);
    await stop(withToken.proc);
    const taken = await refused(['--port', new URL(url).port], noToken);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/^tokenmeter: cannot listen on 127\.0\.0\.1 port \d+: .*EADDRINUSE/);
    for (const host of ['localhost', '127.0.0.2', '::1']) {
      const local = await serve(['--dir', dir, '--host', host], noToken);
      await stop(local.proc);
    }
  });

  it('answers CORS preflights for the configured origins only', async () => {
    const s = await serve(['--dir', dir, '--cors-origin', 'https://app.example.com'], noToken);
    try {
      const ask = (origin: string) =>
        fetch(`${s.url}/v1/usage`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
      const ok = await ask('https://app.example.com');
      expect(ok.status).toBe(204);
      expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
      expect(ok.headers.get('access-control-allow-headers')).toContain('content-type');
      const other = await ask('https://other.example.com');
      expect(other.status).toBe(403);
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
      const read = await fetch(`${s.url}/v1/status`, { headers: { origin: 'https://app.example.com' } });
      expect(read.status).toBe(200);
      expect(read.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
      expect((await fetch(`${s.url}/v1/status`)).headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await stop(s.proc);
    }
  });

  it('closes a connection that trickles its headers past --headers-timeout, and serves others meanwhile', async () => {
    const s = await serve(['--dir', dir, '--headers-timeout', '300', '--request-timeout', '600'], noToken);
    const port = Number(new URL(s.url).port);
    const slow = connect(port, '127.0.0.1');
    slow.on('error', () => {});
    const t0 = Date.now();
    const closed = new Promise<number>((resolve) => slow.on('close', () => resolve(Date.now() - t0)));
    const head = 'GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ';
    let i = 0;
    // A header byte every 20 ms: never idle, never done.
    const drip = setInterval(() => slow.destroyed || slow.write(head[i++ % head.length] as string), 20);
    try {
      expect((await fetch(`${s.url}/v1/status`)).status).toBe(200);
      const after = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 5_000))]);
      expect(after).toBeGreaterThan(0);
      expect(after).toBeLessThan(3_000);
      expect((await fetch(`${s.url}/v1/status`)).status).toBe(200);
    } finally {
      clearInterval(drip);
      slow.destroy();
      await stop(s.proc);
    }
  });
});
