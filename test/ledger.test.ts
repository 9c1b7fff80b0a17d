import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { INSTRUMENT, type Logger, TokenMonitor } from '../src/index.ts';
import { readerFor, sums } from './helpers/otel.ts';

const run = promisify(execFile);
const CHILD = join(import.meta.dirname, 'helpers', 'ledger-child.ts');
const ROOT = process.getuid?.() === 0;

function nobodyCanRun(): boolean {
  const r = spawnSync(process.execPath, ['-e', `require('node:fs').accessSync(${JSON.stringify(CHILD)}, 4)`], { uid: 65534, gid: 65534 });
  return r.status === 0;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tm-ledger-e2e-'));
  chmodSync(dir, 0o777);
  return dir;
}

function rows(dir: string, sql = 'SELECT COUNT(*) AS n FROM records'): unknown {
  const db = new Database(join(dir, 'ledger.db'), { readonly: true });
  try {
    return db.prepare(sql).get();
  } finally {
    db.close();
  }
}

/** Runs the ledger child; as root, as the unprivileged user `nobody`, so that file modes apply. */
function child(args: string[], asNobody = false): ChildProcess {
  return spawn(process.execPath, [CHILD, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(asNobody && ROOT ? { uid: 65534, gid: 65534 } : {}),
  });
}

async function output(p: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  p.stdout?.on('data', (c: Buffer) => {
    stdout += c;
  });
  p.stderr?.on('data', (c: Buffer) => {
    stderr += c;
  });
  const [code, signal] = (await new Promise((resolve) => p.on('close', (c, s) => resolve([c, s])))) as [
    number | null,
    NodeJS.Signals | null,
  ];
  return { code, signal, stdout, stderr };
}

function memoryLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const add = (level: string) => (m: string) => lines.push(`${level} ${m}`);
  return { lines, debug: add('debug'), info: add('info'), warn: add('warn'), error: add('error') };
}

describe('the usage ledger', () => {
  it('keeps every record across a restart and answers summaries, reports and per-user and per-thread questions', async () => {
    const dir = tempDir();
    const day = 86_400_000;
    const now = Date.now();
    const a = new TokenMonitor({ dir, metrics: false, loadConfig: false });
    const calls = [
      {
        provider: 'openai',
        model: 'gpt-4o',
        inputTokens: 1000,
        outputTokens: 500,
        cachedInputTokens: 200,
        userId: 'u1',
        threadId: 't1',
        agent: 'planner',
      },
      { provider: 'openai', model: 'gpt-4o-mini', inputTokens: 2000, outputTokens: 100, userId: 'u1', threadId: 't1', agent: 'writer' },
      {
        provider: 'anthropic',
        model: 'claude-sonnet-4-20250514',
        inputTokens: 3000,
        outputTokens: 700,
        userId: 'u2',
        threadId: 't2',
        agent: 'writer',
      },
      { provider: 'openai', model: 'house-model', inputTokens: 10, outputTokens: 10, userId: 'u2', threadId: 't2' },
      { provider: 'openai', model: 'gpt-4o', inputTokens: 50, outputTokens: 5, userId: 'u1', threadId: 't0', timestamp: now - 40 * day },
    ];
    const costs = calls.map((c) => a.record(c).costUsd);
    await a.close();

    const b = new TokenMonitor({ dir, metrics: false, loadConfig: false });
    const s = await b.summary({ days: 30 });
    expect(s.by).toBe('provider');
    expect(s.rows.map((r) => [r.key, r.requests])).toEqual([
      ['anthropic', 1],
      ['openai', 3],
    ]);
    const openai = s.rows.find((r) => r.key === 'openai');
    expect(openai).toMatchObject({ inputTokens: 3010, outputTokens: 610, cachedInputTokens: 200, totalTokens: 3620, unpricedRequests: 1 });
    expect(openai?.costUsd).toBeCloseTo((costs[0] ?? 0) + (costs[1] ?? 0), 12);
    expect(s.total.costUsd).toBeCloseTo((costs[0] ?? 0) + (costs[1] ?? 0) + (costs[2] ?? 0), 12);
    expect(s.rows.reduce((x, r) => x + r.share, 0)).toBeCloseTo(1, 5);
    // The 40-day-old call counts only in a range that reaches it.
    expect((await b.summary({ days: 60 })).total.requests).toBe(5);

    const byModel = await b.summary({ days: 30, provider: 'openai', by: 'model' });
    expect(byModel.rows.map((r) => r.key)).toEqual(['gpt-4o', 'gpt-4o-mini', 'house-model']);

    const [p] = await b.providerSummaries({ days: 30, provider: 'anthropic' });
    expect(p?.byServiceType.llm?.requests).toBe(1);
    expect(Object.keys(p?.byModel ?? {})).toEqual(['claude-sonnet-4-20250514']);

    const u1 = await b.userUsage('u1', { days: 30 });
    expect(u1.totals.requests).toBe(2);
    expect(u1.byModel.map((r) => r.key).sort()).toEqual(['gpt-4o', 'gpt-4o-mini']);
    expect(u1.byAgent.map((r) => [r.key, r.requests]).sort()).toEqual([
      ['planner', 1],
      ['writer', 1],
    ]);
    expect(u1.daily).toHaveLength(1);
    expect(u1.daily[0]?.costUsd).toBeCloseTo((costs[0] ?? 0) + (costs[1] ?? 0), 12);

    const t2 = await b.threadUsage('t2', { days: 30 });
    expect(t2.totals).toMatchObject({ requests: 2, inputTokens: 3010, unpricedRequests: 1 });

    const recs = await b.records({ userId: 'u2', limit: 10 });
    expect(recs.map((r) => r.model)).toEqual(['house-model', 'claude-sonnet-4-20250514']);
    expect(recs[0]).toMatchObject({ provider: 'openai', threadId: 't2', costUsd: null });

    const report = await b.report({ days: 7 });
    expect(report.totals.requests).toBe(4);
    expect(report.byProvider.map((x) => x.provider)).toEqual(['anthropic', 'openai']);
    await b.close();
  });

  it('writes each record before record() returns with durability sync', async () => {
    const dir = tempDir();
    const m = new TokenMonitor({ dir, metrics: false, loadConfig: false, ledger: { durability: 'sync' } });
    m.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 1, outputTokens: 1 });
    expect(rows(dir)).toEqual({ n: 1 });
    m.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 1, outputTokens: 1 });
    expect(rows(dir)).toEqual({ n: 2 });
    await m.close();
  });

  it('batches writes off the hot path and makes them durable on flush()', async () => {
    const dir = tempDir();
    const m = new TokenMonitor({ dir, metrics: false, loadConfig: false, ledger: { flushIntervalMs: 60_000 } });
    for (let i = 0; i < 10; i++) m.record({ provider: 'openai', model: 'gpt-4o', inputTokens: i, outputTokens: 1 });
    expect(rows(dir)).toEqual({ n: 0 });
    expect(m.health().ledger?.pending).toBe(10);
    await m.flush();
    expect(rows(dir)).toEqual({ n: 10 });
    expect(m.health()).toMatchObject({ ok: true, ledger: { pending: 0, written: 10 } });
    await m.close();
  });

  it('reports an unwritable storage dir, keeps the records in memory, and writes them all once it can', async () => {
    const base = tempDir();
    const dir = join(base, 'store');
    writeFileSync(dir, 'not a directory');
    const log = memoryLog();
    const m = new TokenMonitor({ dir, metrics: { prometheus: false }, loadConfig: false, logger: log });
    const reader = readerFor(m.metricProducer);
    for (let i = 0; i < 25; i++)
      expect(m.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 10, outputTokens: 1 }).logged).toBe(true);
    await m.flush();
    const h = m.health();
    expect(h.ok).toBe(false);
    expect(h.ledger).toMatchObject({ pending: 25, written: 0, dropped: 0 });
    expect(h.ledger?.lastError).toMatch(/store/);
    expect(log.lines.some((l) => l.startsWith('error') && l.includes(join(base, 'store')))).toBe(true);
    const internal = sums(await reader.metrics(), INSTRUMENT.internalErrors);
    expect(internal.find((p) => p.attributes.component === 'ledger')?.value).toBeGreaterThanOrEqual(1);

    rmSync(dir);
    mkdirSync(dir);
    await m.flush();
    expect(m.health()).toMatchObject({ ok: true, ledger: { pending: 0, written: 25 } });
    expect(rows(dir)).toEqual({ n: 25 });
    expect(log.lines.some((l) => l.includes('writable again'))).toBe(true);
    await m.close();
  });

  // As root, file modes bind only another user: the child runs as `nobody`, which needs to read this
  // checkout (a clone under a private home dir cannot be; then only a non-root run checks this).
  it.runIf(!ROOT || nobodyCanRun())('reports a read-only ledger file and loses nothing held in memory', async () => {
    const dir = tempDir();
    const first = await output(child([dir, 'report-health', '3', 'first'], true));
    expect(first.code, first.stderr).toBe(0);
    chmodSync(join(dir, 'ledger.db'), 0o444);
    chmodSync(dir, 0o555);
    const second = await output(child([dir, 'report-health', '7', 'second'], true));
    chmodSync(dir, 0o777);
    // The process ends normally: the error is reported, not thrown into its calls.
    expect(second.code, second.stderr).toBe(0);
    const health = JSON.parse(second.stdout) as { ok: boolean; ledger: { pending: number; lastError: string } };
    expect(health.ok).toBe(false);
    expect(health.ledger.pending).toBe(7);
    expect(health.ledger.lastError).toMatch(/readonly|read-only|permission|unable to open/i);
    expect(second.stderr).toMatch(/ledger/);
    expect(rows(dir)).toEqual({ n: 3 });
  });

  it('shares one ledger file between four processes writing 25,000 records each, losing none', async () => {
    const dir = tempDir();
    const procs = ['a', 'b', 'c', 'd'].map((tag) => output(child([dir, 'flush-each-1000', '25000', tag])));
    const results = await Promise.all(procs);
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    expect(results.map((r) => r.stderr).join('')).not.toMatch(/locked|busy/i);
    expect(rows(dir)).toEqual({ n: 100_000 });
    expect(rows(dir, 'SELECT COUNT(DISTINCT thread_id) AS n FROM records')).toEqual({ n: 100_000 });
    const m = new TokenMonitor({ dir, metrics: false, loadConfig: false });
    const byAgent = await m.summary({ since: 0, by: 'agent' });
    expect(byAgent.rows.map((r) => [r.key, r.requests]).sort()).toEqual([
      ['a', 25_000],
      ['b', 25_000],
      ['c', 25_000],
      ['d', 25_000],
    ]);
    await m.close();
  });

  it('leaves a readable ledger holding every flushed record when the writer is killed with SIGKILL', async () => {
    const dir = tempDir();
    const p = child([dir, 'flush-each-1000', '1000000', 'k']);
    let flushed = 0;
    await new Promise<void>((resolve) => {
      p.stdout?.on('data', (c: Buffer) => {
        const m = /flushed (\d+)\n(?![\s\S]*flushed)/.exec(String(c));
        if (m) flushed = Number(m[1]);
        if (flushed >= 20_000) {
          p.kill('SIGKILL');
          resolve();
        }
      });
    });
    await new Promise((resolve) => p.on('close', resolve));
    const db = new Database(join(dir, 'ledger.db'));
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const n = (db.prepare('SELECT COUNT(*) AS n FROM records').get() as { n: number }).n;
    db.close();
    expect(n).toBeGreaterThanOrEqual(flushed);
    const m = new TokenMonitor({ dir, metrics: false, loadConfig: false });
    expect((await m.summary({ since: 0 })).total.requests).toBe(n);
    await m.close();
  });

  it('writes what is queued when the process ends on its own, or on SIGTERM or SIGINT', async () => {
    const ended = tempDir();
    const r = await output(child([ended, 'no-flush-exit', '500', 'e']));
    expect(r.code, r.stderr).toBe(0);
    expect(rows(ended)).toEqual({ n: 500 });

    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const dir = tempDir();
      const p = child([dir, 'no-flush-wait', '700', 's']);
      await new Promise<void>((resolve) => p.stdout?.once('data', () => resolve()));
      p.kill(signal);
      const end = await output(p);
      // The signal's default action is kept: the process ends by it.
      expect(end.signal).toBe(signal);
      expect(rows(dir)).toEqual({ n: 700 });
    }
  });

  it('refuses bad report arguments with the field and value named', async () => {
    const m = new TokenMonitor({ dir: tempDir(), metrics: false, loadConfig: false });
    await expect(m.summary({ days: -3 })).rejects.toThrow(/Invalid days: -3/);
    await expect(m.summary({ since: 'last tuesday' })).rejects.toThrow(/Invalid since: "last tuesday"/);
    await expect(m.summary({ by: 'color' as never })).rejects.toThrow(/Invalid by: "color"/);
    await m.close();
  });

  it('keeps no ledger with ledger: false', async () => {
    const dir = tempDir();
    const m = new TokenMonitor({ dir, metrics: false, loadConfig: false, ledger: false });
    m.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 1 });
    await expect(m.summary()).rejects.toThrow(/keeps no ledger/);
    expect(m.health().ledger).toBeNull();
    await m.close();
    await expect(run('ls', [dir])).resolves.toMatchObject({ stdout: '' });
  });
});
