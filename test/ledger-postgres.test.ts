import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenMonitor, type TokenMonitorOptions } from '../src/index.ts';
import { PostgresStore } from '../src/ledger/postgres.ts';
import { PG_MIGRATIONS } from '../src/ledger/postgres-schema.ts';
import type { Dimension, LedgerFilter } from '../src/ledger/types.ts';
import { expected, randomRecords } from './helpers/ledger-records.ts';
import { type PostgresServer, startPostgres } from './helpers/postgres.ts';

const CHILD = join(import.meta.dirname, 'helpers', 'pg-child.ts');
const EXIT_CHILD = join(import.meta.dirname, 'helpers', 'pg-exit-child.ts');
const CLI = join(import.meta.dirname, '..', 'src', 'cli', 'index.ts');

/** Runs the CLI as a child process. */
function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
let server: PostgresServer;

beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.remove();
});

/** Runs pg-child.ts; resolves with its output lines once it ends. `onLine` sees each line as it comes. */
function child(url: string, count: number, tag: string, onLine: (line: string) => void = () => {}): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [CHILD, url, String(count), tag], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let err = '';
    let buf = '';
    c.stdout.on('data', (d: Buffer) => {
      buf += String(d);
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        onLine(line);
      }
    });
    c.stderr.on('data', (d: Buffer) => {
      err += String(d);
    });
    c.once('exit', (code) => (code === 0 ? resolve(lines) : reject(new Error(`child ${tag} exited ${code}: ${err}`))));
  });
}

async function countBy(url: string): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query<{ agent: string; n: number; threads: number }>(
      'SELECT agent, COUNT(*)::int AS n, COUNT(DISTINCT thread_id)::int AS threads FROM records GROUP BY agent ORDER BY agent',
    );
    const out: Record<string, number> = {};
    for (const row of r.rows) {
      out[row.agent] = row.n;
      // Each record once: no thread id twice (records with thread ids).
      if (row.threads > 0) expect(row.threads).toBe(row.n);
    }
    return out;
  } finally {
    await client.end();
  }
}

/** Records in the database at `url` (0 when the ledger was never created). */
async function recordCount(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const t = await client.query("SELECT to_regclass('records') AS t");
    if (t.rows[0].t === null) return 0;
    return Number((await client.query('SELECT COUNT(*) AS n FROM records')).rows[0].n);
  } finally {
    await client.end();
  }
}

describe('PostgreSQL ledger at process exit', () => {
  it('writes what is queued when the app ends without closing the monitor (the event loop runs out)', async () => {
    const url = await server.database();
    const r = spawnSync(process.execPath, [EXIT_CHILD, url, '2500', 'end'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(await recordCount(url)).toBe(2500);
  });

  it('writes what is queued before SIGTERM ends the process', async () => {
    const url = await server.database();
    const c = spawn(process.execPath, [EXIT_CHILD, url, '2500', 'signal'], { stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((resolve) => c.stdout.on('data', (d: Buffer) => String(d).includes('ready') && resolve()));
    const exited = new Promise<string | null>((resolve) => c.once('exit', (_code, signal) => resolve(signal)));
    c.kill('SIGTERM');
    expect(await exited).toBe('SIGTERM');
    expect(await recordCount(url)).toBe(2500);
  });

  it('says how many records process.exit() lost, rather than losing them silently', async () => {
    const url = await server.database();
    const r = spawnSync(process.execPath, [EXIT_CHILD, url, '300', 'exit'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/exited with 300 records not written to the ledger postgres:.*monitor\.close\(\)/);
    expect(await recordCount(url)).toBe(0);
  });
});

describe('PostgreSQL ledger', () => {
  it('keeps every record of four processes writing 25,000 each into one database at once, rollups included', async () => {
    const url = await server.database();
    const outs = await Promise.all(['a', 'b', 'c', 'd'].map((tag) => child(url, 25_000, tag)));
    for (const out of outs)
      expect(JSON.parse(out.at(-1) as string)).toMatchObject({ ok: true, ledger: { ok: true, pending: 0, written: 25_000, dropped: 0 } });
    expect(await countBy(url)).toEqual({ a: 25_000, b: 25_000, c: 25_000, d: 25_000 });
    // The rollups, upserted by four writers into the same buckets, lost no update.
    const m = new TokenMonitor({ ledger: { url }, metrics: false, loadConfig: false, logLevel: 'error' });
    const s = await m.summary({ since: Date.UTC(2026, 10, 1), until: Date.UTC(2026, 10, 2), by: 'agent' });
    expect(Object.fromEntries(s.rows.map((r) => [r.key, r.requests]))).toEqual({ a: 25_000, b: 25_000, c: 25_000, d: 25_000 });
    const users = await m.summary({ since: Date.UTC(2026, 10, 1), until: Date.UTC(2026, 10, 2), by: 'userId' });
    expect(users.rows.reduce((n, r) => n + r.requests, 0)).toBe(100_000);
    await m.close();
  });

  it('loses nothing when the database is stopped and started again mid-run; health() says so meanwhile', async () => {
    const url = await server.database();
    // The schema first, so that the restart falls in the writes.
    const first = new TokenMonitor({ ledger: { url }, metrics: false, loadConfig: false, logLevel: 'error' });
    await first.records({ limit: 1 });
    await first.close();
    let restarted: Promise<void> | undefined;
    const run = child(url, 60_000, 'r', (line) => {
      if (line === 'recorded 10000' && restarted === undefined) {
        restarted = (async () => {
          await server.stop();
          await new Promise((resolve) => setTimeout(resolve, 2000));
          await server.start();
        })();
      }
    });
    const out = await run;
    await restarted;
    const health = JSON.parse(out.at(-1) as string);
    expect(health).toMatchObject({ ok: true, ledger: { pending: 0, written: 60_000, dropped: 0 } });
    // The outage was seen (health().ok false meanwhile), and every record written once it ended.
    expect(out).toContain('saw the ledger failing');
    expect(await countBy(url)).toEqual({ r: 60_000 });
  });

  it("seeds a budget from the window's spending in the database, without blocking record()", async () => {
    const url = await server.database();
    const a = new TokenMonitor({ ledger: { url }, metrics: false, loadConfig: false, logLevel: 'error' });
    for (let i = 0; i < 10; i++) a.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 1000, outputTokens: 100, userId: 'u1' });
    await a.close();
    const b = new TokenMonitor({
      ledger: { url },
      metrics: false,
      loadConfig: false,
      logLevel: 'error',
      budgets: [{ scope: 'user', scopeId: 'u1', limit: 100_000, unit: 'tokens' }],
    });
    // Recorded before the ledger answered: counted once, beside the 11,000 tokens already there.
    b.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 500, outputTokens: 0, userId: 'u1' });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await b.flush();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(b.status().find((s) => s.scope === 'user')?.used).toBe(11_500);
    await b.close();
  });

  it('keeps budget alerts once across instances and restarts; monitor.alerts() and tokenmeter alerts --ledger read them back', async () => {
    const url = await server.database();
    const options: TokenMonitorOptions = {
      ledger: { url },
      metrics: false,
      loadConfig: false,
      logLevel: 'error',
      budgets: [{ scope: 'global', limit: 1 }],
    };
    // Two instances on one database, both crossing warning with their own records: kept once.
    const a = new TokenMonitor(options);
    const b = new TokenMonitor(options);
    await Promise.all([a.flush(), b.flush()]);
    expect(
      a.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 0, outputTokens: 0, costUsd: 0.85 }).alerts.map((x) => x.level),
    ).toEqual(['warning']);
    expect(
      b.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 0, outputTokens: 0, costUsd: 0.9 }).alerts.map((x) => x.level),
    ).toEqual(['warning']);
    // One call past critical and the limit at once: both raised.
    expect(
      a.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 0, outputTokens: 0, costUsd: 0.2 }).alerts.map((x) => x.level),
    ).toEqual(['critical', 'exceeded']);
    await Promise.all([a.close(), b.close()]);
    // A restart: the history is in the database.
    const c = new TokenMonitor(options);
    const history = await c.alerts();
    expect(history.map((x) => x.level)).toEqual(['exceeded', 'critical', 'warning']);
    expect(history[2]).toMatchObject({
      budget: { scope: 'global', scopeId: 'all', window: 'monthly', unit: 'usd' },
      limit: 1,
      threshold: 0.8,
    });
    await c.close();
    const r = cli(['alerts', '--ledger', url, '--json']);
    expect(r.code, r.err).toBe(0);
    expect((JSON.parse(r.out) as { alerts: unknown[] }).alerts).toEqual(JSON.parse(JSON.stringify(history)));
  });

  it('migrate copies a SQLite ledger over once (a second run adds nothing), checks the count, and the CLI reads the same answers from both', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-pg-migrate-'));
    const m = new TokenMonitor({ dir, metrics: false, loadConfig: false, logLevel: 'error' });
    const t0 = Date.UTC(2026, 10, 1);
    for (let i = 0; i < 12_345; i++) {
      m.record({
        provider: ['openai', 'anthropic', 'gemini'][i % 3] as string,
        model: ['gpt-4o', 'claude-sonnet-4-5', 'gemini-2.5-flash', 'no-such-model'][i % 4] as string,
        inputTokens: 100 + (i % 977),
        outputTokens: 10 + (i % 313),
        ...(i % 5 === 0 ? {} : { userId: `u${i % 11}` }),
        agent: i % 2 === 0 ? 'planner' : 'writer',
        timestamp: t0 + i * 61_000,
        ...(i % 100 === 0 ? { metadata: { run_id: 'run-1' } } : {}),
      });
    }
    await m.close();
    const url = await server.database();
    const file = join(dir, 'ledger.db');
    const first = cli(['migrate', '--from', file, '--to', url, '--json']);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    expect(JSON.parse(first.out)).toMatchObject({ copied: 12_345, sourceRecords: 12_345, copiedRecords: 12_345, ok: true });
    const again = cli(['migrate', '--from', file, '--to', url]);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/Copied 0 records/);
    expect(again.out).toMatch(/Count check: 12,345 records in the file, 12,345 of them in PostgreSQL/);
    expect(await countBy(url)).toEqual({ planner: 6173, writer: 6172 });
    // The same reports from either ledger, to the cent: --ledger and $TOKENMETER_LEDGER_URL read PostgreSQL.
    const range = ['--since', '2026-11-01', '--until', '2026-11-10'];
    for (const by of ['provider', 'model', 'user', 'day', 'agent']) {
      const sqlite = cli(['summary', '--dir', dir, '--by', by, ...range, '--json']);
      const pg = cli(['summary', '--ledger', url, '--by', by, ...range, '--json']);
      expect(pg.err).toBe('');
      expect(JSON.parse(pg.out), by).toEqual(JSON.parse(sqlite.out));
    }
    // Records alike but for their ids (each store numbers its own).
    const noIds = (out: string) => (JSON.parse(out) as { id?: number }[]).map(({ id: _, ...r }) => r);
    const fromEnv = cli(['records', '-n', '5', '--json'], { TOKENMETER_LEDGER_URL: url });
    expect(noIds(fromEnv.out)).toEqual(noIds(cli(['records', '--dir', dir, '-n', '5', '--json']).out));
    const runs = cli(['session-report', '--ledger', url, '--run', 'run-1', '--json']);
    expect(JSON.parse(runs.out)).toEqual(JSON.parse(cli(['session-report', '--dir', dir, '--run', 'run-1', '--json']).out));
  });
  it('migrates a database of the second schema in place: old rows have no cost split (never 0), their unknown counts counted from the rows', async () => {
    const url = await server.database();
    const start = Date.UTC(2026, 9, 1);
    // Records as schema 2 kept them: no split of their cost.
    const old = randomRecords(500, 31, start, 2 * 86_400_000).map((x) => ({ ...x, inputCostUsd: null, outputCostUsd: null }));
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    // Its rollups as its writer kept them: the sums of the rows, with no count of the unknown ones.
    const sums = `COUNT(*), COUNT(*) FILTER (WHERE error), COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0),
      COALESCE(SUM(cached_input_tokens), 0), COALESCE(SUM(cache_write_tokens), 0), COALESCE(SUM(reasoning_tokens), 0),
      COALESCE(SUM(total_tokens), 0), COALESCE(SUM(cost_pico), 0), COUNT(*) FILTER (WHERE cost_pico IS NULL)`;
    try {
      for (const m of PG_MIGRATIONS.slice(0, 2)) await client.query(m);
      await client.query('CREATE TABLE tokenmeter_schema (version integer NOT NULL)');
      await client.query('INSERT INTO tokenmeter_schema VALUES (2)');
      const cols = ['ts', 'provider', 'service_type', 'model', 'operation', 'input_tokens', 'output_tokens', 'cached_input_tokens'];
      cols.push('total_tokens', 'cost_pico', 'api_key_id', 'user_id', 'thread_id', 'agent', 'error');
      for (const x of old) {
        const v: unknown[] = [
          x.timestamp,
          x.provider,
          x.serviceType,
          x.model,
          x.operation,
          x.inputTokens,
          x.outputTokens,
          x.cachedInputTokens,
        ];
        v.push(x.totalTokens, x.costPicoUsd, x.apiKeyId, x.userId, x.threadId, x.agent, x.error);
        await client.query(`INSERT INTO records (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`, v);
      }
      await client.query(`INSERT INTO rollup_hour SELECT ts / 3600000, provider, service_type, model, operation, COALESCE(agent, ''),
        COALESCE(api_key_id, ''), ${sums} FROM records GROUP BY 1, 2, 3, 4, 5, 6, 7`);
      await client.query(`INSERT INTO rollup_user_day SELECT user_id, ts / 86400000, provider, service_type, model, COALESCE(agent, ''),
        ${sums} FROM records WHERE user_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6`);
      await client.query(`INSERT INTO rollup_user_hour SELECT ts / 3600000, user_id, provider, service_type, model, COALESCE(agent, ''),
        ${sums} FROM records WHERE user_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6`);
    } finally {
      await client.end();
    }
    const store = new PostgresStore(url);
    try {
      const fresh = randomRecords(300, 32, start, 2 * 86_400_000);
      await store.write(fresh);
      const records = [...old, ...fresh];
      const cases: [LedgerFilter, Dimension[]][] = [
        [{}, []],
        [{}, ['model']],
        [{ userId: 'u2' }, ['agent']],
        [{ since: start + 5 * 3_600_000 + 17, until: start + 86_400_000 + 3 * 3_600_000 }, ['userId']],
      ];
      for (const [filter, by] of cases) {
        const want = expected(records, filter, by);
        const got = await store.aggregate(filter, by);
        expect(got.length).toBe(want.size);
        for (const row of got) {
          const w = want.get(JSON.stringify(by.map((d) => row.key[d] ?? null)));
          expect({
            requests: row.requests,
            costPicoUsd: row.costPicoUsd,
            inputCostPicoUsd: row.inputCostPicoUsd,
            outputCostPicoUsd: row.outputCostPicoUsd,
            outputUnknown: row.unknownCounts.outputTokens,
          }).toEqual({
            requests: w?.requests,
            costPicoUsd: w?.costPicoUsd,
            inputCostPicoUsd: w?.inputCostPicoUsd,
            outputCostPicoUsd: w?.outputCostPicoUsd,
            outputUnknown: w?.outputUnknown,
          });
        }
      }
      // The rows of before (the first ids) have no split: null, never 0.
      const before = (await store.records({})).filter((r) => (r as { id: number }).id <= old.length);
      expect(before).toHaveLength(old.length);
      for (const r of before) expect([r.inputCostUsd, r.outputCostUsd]).toEqual([null, null]);
      expect(old.some((x) => x.outputTokens === null)).toBe(true);
    } finally {
      await store.close();
    }
  });
});
