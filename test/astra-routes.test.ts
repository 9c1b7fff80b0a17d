import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServe } from './helpers/serve.ts';

// ASTRA's usage API (../shared/seeds/002_…, "API Endpoints") as its dashboards call it, on
// `tokenmeter serve`: each answer is checked against the ledger file itself, read with SQL.
let proc: ChildProcess;
let url: string;
const dir = mkdtempSync(join(tmpdir(), 'tm-astra-'));
const TOKEN = 'astra-token';
const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
const DAY = 86_400_000;
const now = Date.now();

/** ASTRA's usage guide's `TokenUsageResponse` fields, in its order. */
const STATS_FIELDS = [
  'total_requests',
  'total_input_tokens',
  'total_output_tokens',
  'total_tokens',
  'total_cost',
  'cost_by_model',
  'tokens_by_model',
  'requests_by_agent',
  'cost_trend',
];
/** Its `GET /token-usage/all` record fields. */
const RECORD_FIELDS = [
  'id',
  'user_id',
  'thread_id',
  'timestamp',
  'model',
  'agent_name',
  'operation_type',
  'input_tokens',
  'output_tokens',
  'total_tokens',
  'input_cost',
  'output_cost',
  'total_cost',
];

const USER = 'user@example.com';
// Posted as an app in another language does, with snake_case names; over 40 days, so that the
// 7- and 30-day ranges leave some out; one model without a price, calls without agent or user.
const calls = [
  {
    days: 0.01,
    model: 'gpt-4o',
    user_id: USER,
    thread_id: 'conversation-123',
    agent: 'domain_agent',
    input_tokens: 245,
    output_tokens: 512,
  },
  {
    days: 0.02,
    model: 'gpt-4o-mini',
    user_id: USER,
    thread_id: 'conversation-123',
    agent: 'research_agent',
    input_tokens: 1000,
    output_tokens: 300,
  },
  {
    days: 1.5,
    model: 'gpt-4o',
    user_id: USER,
    thread_id: 'conversation-456',
    agent: 'domain_agent',
    input_tokens: 4000,
    output_tokens: 900,
  },
  { days: 2.5, model: 'gpt-4o', user_id: 'u2', thread_id: 'conversation-789', input_tokens: 50, output_tokens: 20 },
  {
    days: 3.5,
    provider: 'acme',
    model: 'acme-local-1',
    user_id: USER,
    thread_id: 'conversation-123',
    agent: 'domain_agent',
    input_tokens: 70,
    output_tokens: 7,
  },
  { days: 3.6, model: 'gpt-4o-mini', user_id: USER, agent: 'research_agent', input_tokens: 12, output_tokens: null },
  {
    days: 9,
    model: 'gpt-4o-mini',
    user_id: USER,
    thread_id: 'conversation-123',
    agent: 'domain_agent',
    input_tokens: 800,
    output_tokens: 100,
  },
  { days: 12, model: 'gpt-4o', thread_id: 'conversation-456', agent: 'research_agent', input_tokens: 60, output_tokens: 6 },
  {
    days: 40,
    model: 'gpt-4o',
    user_id: USER,
    thread_id: 'conversation-123',
    agent: 'domain_agent',
    input_tokens: 9000,
    output_tokens: 9000,
  },
].map(({ days, provider, ...c }) => ({ provider: provider ?? 'openai', timestamp: new Date(now - days * DAY).toISOString(), ...c }));

interface Row {
  id: number;
  timestamp: string;
  model: string;
  operation: string;
  user_id: string | null;
  thread_id: string | null;
  agent: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  total_tokens: number | null;
  cost_usd: number | null;
  input_cost_usd: number | null;
  output_cost_usd: number | null;
}
let rows: Row[];

beforeAll(async () => {
  ({ proc, url } = await startServe(['--dir', dir, '--token', TOKEN]));
  const r = await fetch(`${url}/v1/usage`, { method: 'POST', headers: auth, body: JSON.stringify(calls) });
  expect(r.status).toBe(201);
  // The ledger's truth, from its file: what the answers are checked against.
  const db = new Database(join(dir, 'ledger.db'), { readonly: true, fileMustExist: true });
  try {
    for (let i = 0; i < 200; i++) {
      rows = db.prepare('SELECT * FROM usage_records ORDER BY id DESC').all() as Row[];
      if (rows.length === calls.length) break;
      await new Promise((res) => setTimeout(res, 25));
    }
  } finally {
    db.close();
  }
  expect(rows).toHaveLength(calls.length);
});
afterAll(async () => {
  if (proc.exitCode === null) {
    proc.kill('SIGTERM');
    await new Promise((resolve) => proc.on('close', resolve));
  }
});

const get = (path: string, headers: Record<string, string> = auth) => fetch(`${url}${path}`, { headers });
const json = async (path: string) => {
  const r = await get(path);
  expect(r.status, `${path}: ${r.status}`).toBe(200);
  return (await r.json()) as Record<string, unknown>;
};
const within = (days: number) => (r: Row) => Date.parse(r.timestamp) >= now - days * DAY;
const cost = (n: number) => expect.closeTo(n, 12);

/** ASTRA's statistics of a set of rows, computed here from the ledger's rows. */
function statsOf(rs: Row[]) {
  const sum = (f: (r: Row) => number | null) => rs.reduce((a, r) => a + (f(r) ?? 0), 0);
  const group = (key: (r: Row) => string, value: (r: Row) => number) => {
    const out: Record<string, number> = {};
    for (const r of rs) out[key(r)] = (out[key(r)] ?? 0) + value(r);
    return out;
  };
  const costByModel = group(
    (r) => r.model,
    (r) => r.cost_usd ?? 0,
  );
  const costByDay = group(
    (r) => r.timestamp.slice(0, 10),
    (r) => r.cost_usd ?? 0,
  );
  return {
    total_requests: rs.length,
    total_input_tokens: sum((r) => r.input_tokens),
    total_output_tokens: sum((r) => r.output_tokens),
    total_tokens: sum((r) => r.total_tokens),
    total_cost: cost(sum((r) => r.cost_usd)),
    cost_by_model: Object.fromEntries(Object.entries(costByModel).map(([k, v]) => [k, cost(v)])),
    tokens_by_model: group(
      (r) => r.model,
      (r) => r.total_tokens ?? 0,
    ),
    requests_by_agent: group(
      (r) => r.agent ?? 'unknown',
      () => 1,
    ),
    cost_trend: Object.keys(costByDay)
      .sort()
      .map((date) => ({ date, cost: cost(costByDay[date] as number) })),
  };
}

describe("ASTRA's /token-usage routes on tokenmeter serve", () => {
  it("answers a user's usage in ASTRA's shape, over the last 30 days unless days says otherwise", async () => {
    const body = await json(`/token-usage/user/${encodeURIComponent(USER)}?days=30`);
    expect(Object.keys(body)).toEqual(STATS_FIELDS);
    const mine = rows.filter((r) => r.user_id === USER);
    expect(body).toEqual(statsOf(mine.filter(within(30))));
    // The records seeded: a user with calls of three models, an unpriced one adding no cost.
    expect(body.total_requests).toBe(6);
    expect(Object.keys(body.cost_by_model as object).sort()).toEqual(['acme-local-1', 'gpt-4o', 'gpt-4o-mini']);
    expect((body.cost_by_model as Record<string, number>)['acme-local-1']).toBe(0);
    expect(body.total_cost).toBeGreaterThan(0);
    // The default range is ASTRA's 30 days; `@` unescaped reaches the same user.
    expect(await json(`/token-usage/user/${USER}`)).toEqual(body);
    expect(await json(`/token-usage/user/${encodeURIComponent(USER)}?days=3`)).toEqual(statsOf(mine.filter(within(3))));
    expect(await json(`/token-usage/user/${encodeURIComponent(USER)}?days=365`)).toEqual(statsOf(mine));
    // A user without records: zeros and empty maps, not a 404.
    expect(await json('/token-usage/user/nobody')).toEqual(statsOf([]));
  });

  it("answers a thread's usage over its whole life, or the last days asked", async () => {
    const body = await json('/token-usage/thread/conversation-123');
    expect(Object.keys(body)).toEqual(STATS_FIELDS);
    const thread = rows.filter((r) => r.thread_id === 'conversation-123');
    expect(body).toEqual(statsOf(thread));
    expect(body.total_requests).toBe(5);
    expect(await json('/token-usage/thread/conversation-123?days=7')).toEqual(statsOf(thread.filter(within(7))));
    // Calls without an agent are counted under "unknown", so the agents add up to the requests.
    const other = await json('/token-usage/thread/conversation-789');
    expect(other.requests_by_agent).toEqual({ unknown: 1 });
  });

  it('lists the newest records of the last 7 days by default, at most limit', async () => {
    const list = (await (await get('/token-usage/all')).json()) as Record<string, unknown>[];
    const expected = rows.filter(within(7));
    expect(list).toHaveLength(expected.length);
    for (const r of list) expect(Object.keys(r)).toEqual(RECORD_FIELDS);
    expect(list).toEqual(
      expected.map((r) => ({
        id: String(r.id),
        user_id: r.user_id,
        thread_id: r.thread_id,
        timestamp: r.timestamp,
        model: r.model,
        agent_name: r.agent,
        operation_type: r.operation,
        input_tokens: r.input_tokens,
        output_tokens: r.output_tokens,
        total_tokens: r.total_tokens,
        input_cost: r.input_cost_usd === null ? null : cost(r.input_cost_usd),
        output_cost: r.output_cost_usd === null ? null : cost(r.output_cost_usd),
        total_cost: r.cost_usd === null ? null : cost(r.cost_usd),
      })),
    );
    // ASTRA's own example record: gpt-4o, 245 in × $2.50 and 512 out × $10 per 1M.
    expect(list.find((r) => r.input_tokens === 245)).toMatchObject({ input_cost: 0.0006125, output_cost: 0.00512, total_cost: 0.0057325 });
    expect(list.find((r) => r.model === 'acme-local-1')).toMatchObject({ input_cost: null, output_cost: null });
    // Unknown stays unknown: no price is a null cost, an unreported count a null, never 0.
    expect(list.find((r) => r.model === 'acme-local-1')?.total_cost).toBeNull();
    expect(list.find((r) => r.input_tokens === 12)).toMatchObject({ output_tokens: null, thread_id: null, agent_name: 'research_agent' });
    const two = (await (await get('/token-usage/all?days=30&limit=2')).json()) as { id: string }[];
    expect(two.map((r) => r.id)).toEqual(rows.slice(0, 2).map((r) => String(r.id)));
    const month = (await (await get('/token-usage/all?days=30&limit=100')).json()) as unknown[];
    expect(month).toHaveLength(rows.filter(within(30)).length);
  });

  it("answers each model's usage in the same shape as a user's", async () => {
    const body = await json('/token-usage/by-model?days=30');
    const recent = rows.filter(within(30));
    const models = [...new Set(recent.map((r) => r.model))].sort();
    expect(Object.keys(body).sort()).toEqual(models);
    for (const m of models) {
      expect(Object.keys(body[m] as object)).toEqual(STATS_FIELDS);
      expect(body[m], m).toEqual(statsOf(recent.filter((r) => r.model === m)));
    }
    // By default the last 30 days, as ASTRA's: the 40-day-old call is not in it.
    expect(await json('/token-usage/by-model')).toEqual(body);
    expect(((await json('/token-usage/by-model?days=60')) as Record<string, { total_requests: number }>)['gpt-4o']?.total_requests).toBe(
      rows.filter((r) => r.model === 'gpt-4o').length,
    );
  });

  it('needs the token and refuses bad parameters with a 400 naming the parameter and value', async () => {
    for (const path of ['/token-usage/all', '/token-usage/by-model', '/token-usage/user/u2', '/token-usage/thread/t']) {
      expect((await get(path, {})).status, path).toBe(401);
    }
    const cases: [string, string, string | number][] = [
      ['/token-usage/user/u2?days=abc', 'days', 'abc'],
      ['/token-usage/user/u2?days=0', 'days', '0'],
      ['/token-usage/thread/t?limit=5', 'limit', '5'],
      ['/token-usage/all?limit=0', 'limit', '0'],
      ['/token-usage/all?limit=10001', 'limit', '10001'],
      ['/token-usage/all?days=7&days=8', 'days', '8'],
      ['/token-usage/by-model?color=red', 'color', 'red'],
      ['/token-usage/user/%E0%A4%A', 'user_id', '%E0%A4%A'],
    ];
    for (const [path, field, value] of cases) {
      const r = await get(path);
      expect(r.status, path).toBe(400);
      const e = ((await r.json()) as { error: { type: string; field: string; value: unknown; message: string } }).error;
      expect(e, path).toMatchObject({ type: 'validation_error', field, value });
      expect(e.message).toContain(field);
    }
    expect((await get('/token-usage/user/')).status).toBe(404);
    expect((await get('/token-usage/user/a/b')).status).toBe(404);
  });
});
