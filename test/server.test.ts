import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExposition } from './helpers/prometheus.ts';

// `tokenmeter serve` as users run it: a child process over a storage dir, spoken to over HTTP.
const CLI = join(import.meta.dirname, '..', 'src', 'cli', 'index.ts');
let proc: ChildProcess;
let url: string;
const dir = mkdtempSync(join(tmpdir(), 'tm-serve-'));
const TOKEN = 'test-token-123';

beforeAll(async () => {
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ budgets: [{ scope: 'user', id: 'u1', limit_usd: 0.01, enforce: true }] }));
  proc = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--dir', dir, '--token', TOKEN], { stdio: ['ignore', 'pipe', 'pipe'] });
  url = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout?.on('data', (c: Buffer) => {
      out += c;
      const m = /serving (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1] as string);
    });
    proc.on('exit', (code) => reject(new Error(`serve exited with ${code}`)));
  });
});
afterAll(async () => {
  proc.kill('SIGTERM');
  await new Promise((resolve) => proc.on('close', resolve));
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
    const body = (await r.json()) as { records: { costUsd: number }[] };
    expect(body.records).toHaveLength(2);
    const bad = await post('/v1/usage', [
      { provider: 'openai', model: 'gpt-4o', inputTokens: 1 },
      { provider: 'openai', model: 'gpt-4o', inputTokens: -4 },
    ]);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { type: 'validation_error', field: '[1].inputTokens', value: -4 } });
    const summary = (await (await get('/v1/summary?days=1&by=provider')).json()) as {
      total: { requests: number; costUsd: number };
      rows: { key: string }[];
    };
    // The bad batch recorded nothing, not even its good first item.
    expect(summary.total.requests).toBe(2);
    expect(summary.total.costUsd).toBeCloseTo((body.records[0]?.costUsd ?? 0) + (body.records[1]?.costUsd ?? 0), 12);
    const user = (await (await get('/v1/users/u2?days=1')).json()) as { totals: { requests: number } };
    expect(user.totals.requests).toBe(2);
    const run = (await (await get('/v1/records?run=r9')).json()) as { provider: string }[];
    expect(run.map((x) => x.provider)).toEqual(['anthropic']);
    expect((await get('/v1/summary?by=color')).status).toBe(400);
    expect((await fetch(`${url}/v1/summary`)).status).toBe(401);
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
    const alerts = (await (await get('/v1/alerts')).json()) as { level: string }[];
    expect(alerts.map((a) => a.level)).toEqual(['exceeded']);
    const metrics = parseExposition(await (await fetch(`${url}/metrics`)).text());
    expect(metrics.find((m) => m.name === 'tokenmeter_budget_limit' && m.labels.scope_id === 'u1')?.value).toBe(0.01);
    expect(metrics.some((m) => m.name === 'tokenmeter_requests_total')).toBe(true);
    expect((await fetch(`${url}/health`)).status).toBe(200);
  });
});
