import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Alert, TokenMonitor } from '../src/index.ts';
import { CLI, startServe } from './helpers/serve.ts';

/** Budget alerts kept in a real SQLite ledger, read back after restarts by the library, `tokenmeter serve` and the CLI. */

const dirs: string[] = [];
const stops: (() => void)[] = [];

afterEach(() => {
  for (const stop of stops.splice(0)) stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tm-budget-alerts-'));
  dirs.push(d);
  return d;
}

type Level = { scope: string; scopeId: string; level: string; used: number; limit: number; percentUsed: number };
type AlertsAnswer = { budgets: Level[]; alerts: Alert[] };

const cli = (dir: string, args: string[]) => spawnSync(process.execPath, [CLI, 'alerts', '--dir', dir, ...args], { encoding: 'utf8' });
const call = { provider: 'openai', model: 'gpt-4o', inputTokens: 0, outputTokens: 0 };
const short = (a: Alert) => `${a.budget.scope}:${a.budget.scopeId}:${a.level}`;

describe('budget alerts in the ledger', () => {
  it('raise every threshold a call jumps past, survive restarts, and read the same from the library, GET /v1/alerts and tokenmeter alerts', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({
        budgets: [
          { scope: 'global', limit_usd: 10 },
          { scope: 'user', id: 'u9', limit_usd: 1 },
        ],
      }),
    );
    // The first process: the global budget goes from 69% to 102% in one call (warning, critical
    // and exceeded, each raised), u9's to 85%.
    const a = new TokenMonitor({ dir, metrics: false, logLevel: 'silent' });
    expect(a.record({ ...call, costUsd: 6.9 }).alerts).toEqual([]);
    expect(a.record({ ...call, costUsd: 3.3 }).alerts.map((x) => x.level)).toEqual(['warning', 'critical', 'exceeded']);
    const raised = a.record({ ...call, costUsd: 0.85, userId: 'u9' }).alerts;
    expect(raised.map(short)).toEqual(['user:u9:warning']);
    const history = await a.alerts();
    expect(history.map(short)).toEqual(['user:u9:warning', 'global:all:exceeded', 'global:all:critical', 'global:all:warning']);
    await a.close();

    // A new monitor on the same ledger: the history is still there, and nothing is raised again.
    const b = new TokenMonitor({ dir, metrics: false, logLevel: 'silent' });
    expect(b.record({ ...call, costUsd: 0.01 }).alerts).toEqual([]);
    expect(await b.alerts()).toEqual(history);
    expect((await b.alerts({ limit: 2 })).map(short)).toEqual(['user:u9:warning', 'global:all:exceeded']);
    expect(await b.alerts({ since: Date.now() + 60_000, until: Date.now() + 120_000 })).toEqual([]);
    expect(await b.alerts({ days: 1 })).toEqual(history);
    await expect(b.alerts({ limit: 0 })).rejects.toThrow(/Invalid limit: 0/);
    await expect(b.alerts({ level: 'warning' } as never)).rejects.toThrow(/level/);
    await b.close();

    // `tokenmeter serve` on the same dir: the levels now and the history, as the library read it.
    const s1 = await startServe(['--dir', dir]);
    stops.push(() => s1.proc.kill('SIGKILL'));
    const get = async (url: string, path: string) => {
      const res = await fetch(`${url}${path}`);
      expect(res.status, path).toBe(200);
      return (await res.json()) as AlertsAnswer;
    };
    const first = await get(s1.url, '/v1/alerts');
    expect(first.budgets.map((x) => `${x.scope}:${x.scopeId}:${x.level}:${x.percentUsed}`)).toEqual([
      'global:all:exceeded:110.6',
      'user:u9:warning:85',
    ]);
    expect(first.alerts).toEqual(JSON.parse(JSON.stringify(history)));
    expect(first.alerts[0]).toMatchObject({ level: 'warning', used: 0.85, limit: 1, percentUsed: 85, threshold: 0.8 });
    // u9 goes on through serve's ingest: critical and exceeded, raised by this process.
    const posted = await fetch(`${s1.url}/v1/usage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ provider: 'openai', model: 'gpt-4o', inputTokens: 0, outputTokens: 0, costUsd: 0.2, userId: 'u9' }),
    });
    expect(posted.status).toBe(201);
    expect(((await posted.json()) as { alerts: Alert[] }).alerts.map(short)).toEqual(['user:u9:critical', 'user:u9:exceeded']);
    const second = await get(s1.url, '/v1/alerts');
    expect(second.alerts.map(short).slice(0, 2)).toEqual(['user:u9:exceeded', 'user:u9:critical']);
    expect(second.alerts).toHaveLength(6);
    expect((await get(s1.url, '/v1/alerts?limit=1')).alerts.map(short)).toEqual(['user:u9:exceeded']);
    const since = second.alerts[1]?.at as string;
    expect((await get(s1.url, `/v1/alerts?since=${since}`)).alerts.map(short)).toEqual(['user:u9:exceeded', 'user:u9:critical']);
    expect((await get(s1.url, '/v1/alerts?days=1')).alerts).toHaveLength(6);
    const bad = await fetch(`${s1.url}/v1/alerts?level=warning`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { field: 'level' } });
    // A stop and a start: the same answer (what serve raised was written when it stopped).
    s1.proc.kill('SIGTERM');
    await new Promise((resolve) => s1.proc.once('exit', resolve));
    const s2 = await startServe(['--dir', dir]);
    stops.push(() => s2.proc.kill('SIGKILL'));
    const again = await get(s2.url, '/v1/alerts');
    expect(again.alerts).toEqual(second.alerts);
    expect(again.budgets.map((x) => `${x.scopeId}:${x.level}`)).toEqual(['all:exceeded', 'u9:exceeded']);

    // The CLI reads the same from the ledger and config.json.
    const json = cli(dir, ['--json']);
    expect(json.status).toBe(0);
    const fromCli = JSON.parse(json.stdout) as AlertsAnswer;
    expect(fromCli.alerts).toEqual(again.alerts);
    expect(fromCli.budgets.map((x) => `${x.scopeId}:${x.level}:${x.used}:${x.limit}`)).toEqual(
      again.budgets.map((x) => `${x.scopeId}:${x.level}:${x.used}:${x.limit}`),
    );
    const text = cli(dir, ['--limit', '2']).stdout;
    expect(text).toContain('Budgets now:');
    expect(text).toMatch(/Budget alerts raised, newest first \(2, the newest 2: --limit for more\):/);
    expect(text).toMatch(/│ \d{4}-\d\d-\d\d \d\d:\d\d UTC │ exceeded │ user u9 +│ monthly usd +│ +\$1\.05\d* │ +\$1\.00\d* │/);
    const future = cli(dir, ['--since', '2999-01-01']);
    expect(future.stdout).toContain('No budget alert raised since 2999-01-01 00:00 UTC.');
  }, 60_000);

  it('keeps an alert once when two processes sharing the ledger both raise it', async () => {
    const dir = tempDir();
    const budgets = [{ scope: 'global' as const, limit: 1 }];
    // Both start before either has spent: each counts its own records and crosses warning.
    const one = new TokenMonitor({ dir, metrics: false, logLevel: 'silent', loadConfig: false, budgets });
    const two = new TokenMonitor({ dir, metrics: false, logLevel: 'silent', loadConfig: false, budgets });
    expect(one.record({ ...call, costUsd: 0.85 }).alerts.map((x) => x.level)).toEqual(['warning']);
    expect(two.record({ ...call, costUsd: 0.82 }).alerts.map((x) => x.level)).toEqual(['warning']);
    await Promise.all([one.flush(), two.flush()]);
    const kept = await one.alerts();
    expect(kept.map(short)).toEqual(['global:all:warning']);
    expect(await two.alerts()).toEqual(kept);
    await Promise.all([one.close(), two.close()]);
  });

  it('without a ledger, alerts() is what this process raised, newest first', async () => {
    const m = new TokenMonitor({ ledger: false, metrics: false, logLevel: 'silent', loadConfig: false });
    m.setBudget({ scope: 'user', scopeId: '*', limit: 1 });
    m.record({ ...call, costUsd: 0.9, userId: 'ann' });
    m.record({ ...call, costUsd: 1.2, userId: 'bob' });
    expect((await m.alerts()).map(short)).toEqual(['user:bob:exceeded', 'user:bob:critical', 'user:bob:warning', 'user:ann:warning']);
    expect((await m.alerts({ limit: 1 })).map(short)).toEqual(['user:bob:exceeded']);
    await m.close();
  });
});
