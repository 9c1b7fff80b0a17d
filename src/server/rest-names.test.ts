import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenMonitor } from '../monitor.ts';
import { type ApiServer, startApiServer } from './api.ts';

// The REST API's clients are in other languages: a record may use the exports' snake_case names
// or the library's camelCase ones, and any other key is a 400 naming it.
const monitors: TokenMonitor[] = [];
const servers: ApiServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  for (const m of monitors.splice(0)) await m.close();
});

async function start(config?: unknown): Promise<{ m: TokenMonitor; url: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'tm-rest-names-'));
  if (config !== undefined) {
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  }
  const m = new TokenMonitor({ dir, metrics: false });
  monitors.push(m);
  const server = await startApiServer(m, { port: 0 });
  servers.push(server);
  return { m, url: server.url };
}

const post = (url: string, path: string, body: unknown) =>
  fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('POST /v1/usage field names', () => {
  it('takes the exports’ snake_case names and records what they say', async () => {
    const { m, url } = await start();
    const r = await post(url, '/v1/usage', {
      provider: 'openai',
      model: 'gpt-4o',
      service_type: 'llm',
      input_tokens: 1000,
      output_tokens: 500,
      cached_input_tokens: 200,
      user_id: 'u9',
      thread_id: 't9',
      api_key_id: 'wxyz',
      duration_ms: 840,
      error_message: null,
    });
    expect(r.status).toBe(201);
    expect(await r.json()).toMatchObject({ recorded: 1, unpriced: 0, costUsd: 0.00725 });
    const [rec] = await m.records({ days: 1 });
    expect(rec).toMatchObject({
      inputTokens: 1000,
      outputTokens: 500,
      cachedInputTokens: 200,
      userId: 'u9',
      threadId: 't9',
      apiKeyId: 'wxyz',
      durationMs: 840,
      costUsd: 0.00725,
    });
  });

  it('takes back the records of a JSON export, as exported', async () => {
    const { m, url } = await start();
    m.record({
      provider: 'anthropic',
      model: 'claude-sonnet-4-20250514',
      inputTokens: 2000,
      outputTokens: 100,
      userId: 'u2',
      metadata: { doc: 'a' },
    });
    const file = join(mkdtempSync(join(tmpdir(), 'tm-rest-export-')), 'out.json');
    await m.exportRecords(file, { days: 1 });
    const exported = (JSON.parse(readFileSync(file, 'utf8')) as { records: Record<string, unknown>[] }).records;
    const r = await post(url, '/v1/usage', exported);
    expect(r.status).toBe(201);
    const records = await m.records({ days: 1 });
    expect(records).toHaveLength(2);
    // All but the ledger's own id: the record posted back is the record exported.
    const { id: _i1, ...again } = records[0] as unknown as Record<string, unknown>;
    const { id: _i2, ...first } = records[1] as unknown as Record<string, unknown>;
    expect(again).toEqual(first);
  });

  it('answers 400 to an unknown key, naming it and the key meant in the client’s spelling; nothing is recorded', async () => {
    const { m, url } = await start();
    const cases: [unknown, string, string][] = [
      [{ provider: 'openai', model: 'gpt-4o', input_token: 10 }, 'input_token', 'did you mean input_tokens?'],
      [{ provider: 'openai', model: 'gpt-4o', inputToken: 10 }, 'inputToken', 'did you mean inputTokens?'],
      [{ provider: 'openai', model: 'gpt-4o', prompt_tokens: 10 }, 'prompt_tokens', 'did you mean input_tokens?'],
      [{ provider: 'openai', model: 'gpt-4o', agent_name: 'a' }, 'agent_name', 'did you mean agent?'],
      [{ provider: 'openai', model: 'gpt-4o', colour: 'red' }, 'colour', 'Unknown key colour in a usage record'],
    ];
    for (const [body, field, said] of cases) {
      const r = await post(url, '/v1/usage', body);
      expect(r.status).toBe(400);
      const e = (await r.json()) as { error: { type: string; field: string; message: string } };
      expect(e.error).toMatchObject({ type: 'validation_error', field });
      expect(e.error.message).toContain(said);
    }
    // In a batch: the item is named, and the good item before it is not recorded either.
    const batch = await post(url, '/v1/usage', [
      { provider: 'openai', model: 'gpt-4o', inputTokens: 1 },
      { provider: 'openai', model: 'gpt-4o', user: 'u1' },
    ]);
    expect(await batch.json()).toMatchObject({ error: { field: '[1].user' } });
    expect(await m.records({ days: 1 })).toEqual([]);
  });

  it('answers 400 to a field given in both spellings, and names a bad value as the client spelled it', async () => {
    const { m, url } = await start();
    const twice = await post(url, '/v1/usage', { provider: 'openai', model: 'gpt-4o', inputTokens: 10, input_tokens: 10 });
    expect(twice.status).toBe(400);
    expect(await twice.json()).toMatchObject({ error: { field: 'input_tokens', value: 10 } });
    const bad = await post(url, '/v1/usage', [{ provider: 'openai', model: 'gpt-4o', output_tokens: -5 }]);
    expect(await bad.json()).toMatchObject({ error: { field: '[0].output_tokens', value: -5 } });
    expect(await m.records({ days: 1 })).toEqual([]);
  });

  it('leaves metadata’s keys as the client gave them', async () => {
    const { m, url } = await start();
    const r = await post(url, '/v1/usage', {
      provider: 'openai',
      model: 'gpt-4o',
      input_tokens: 1,
      metadata: { input_tokens: 'x', anyKey: 1 },
    });
    expect(r.status).toBe(201);
    expect((await m.records({ days: 1 }))[0]?.metadata).toEqual({ input_tokens: 'x', anyKey: 1 });
  });
});

describe('POST /v1/check context names', () => {
  const config = { budgets: [{ scope: 'user', id: 'u1', limit_usd: 0.01, enforce: true }] };
  const ask = { provider: 'openai', model: 'gpt-4o', max_tokens: 200, messages: [{ role: 'user', content: 'hi' }] };

  it('checks against the budget of user_id as of userId', { timeout: 60_000 }, async () => {
    const { m, url } = await start(config);
    m.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 1000, outputTokens: 800, userId: 'u1' });
    expect((await post(url, '/v1/check', { ...ask, userId: 'u1' })).status).toBe(402);
    expect((await post(url, '/v1/check', { ...ask, user_id: 'u1' })).status).toBe(402);
    expect((await post(url, '/v1/check', { ...ask, user_id: 'u2' })).status).toBe(200);
  });

  it('answers 400 to a near miss of a context field or both spellings; the request’s own keys pass', async () => {
    const { url } = await start(config);
    const near = await post(url, '/v1/check', { ...ask, UserID: 'u1' });
    expect(near.status).toBe(400);
    expect(await near.json()).toMatchObject({
      error: { field: 'UserID', message: 'Unknown key UserID in a check request: did you mean userId?' },
    });
    const both = await post(url, '/v1/check', { ...ask, userId: 'u1', user_id: 'u1' });
    expect(await both.json()).toMatchObject({ error: { field: 'user_id' } });
    const typed = await post(url, '/v1/check', { ...ask, user_id: 7 });
    expect(await typed.json()).toMatchObject({ error: { field: 'user_id', value: 7 } });
    // OpenAI's own `user` field is the request's, not a context field.
    expect((await post(url, '/v1/check', { ...ask, user: 'end-user-1', temperature: 0.2 })).status).toBe(200);
  });
});
