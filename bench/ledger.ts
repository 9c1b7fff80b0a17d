/**
 * The ledger: ingest through `record()` (batched durability) beside the same rows through one
 * prepared better-sqlite3 statement in 1,000-row transactions; bursts of records sharing one
 * millisecond beside as many spread out; a 30-day summary by provider and model, and one user's,
 * thread's, key's, agent's and run's usage, over 1M and 10M records; bytes on disk per record;
 * record() in a long loop with the ledger on beside the same loop without one, each in a fresh
 * process (bench/record-loop.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { advise } from '../src/advice/advise.ts';
import { TokenMonitor } from '../src/index.ts';
import { SqliteStore } from '../src/ledger/sqlite.ts';
import { PriceBook } from '../src/pricing/price-book.ts';
import type { ReportQuery } from '../src/reports/query.ts';
import { providerSummaries, subjectUsage, summary } from '../src/reports/reports.ts';
import type { UsageInput, UsageRecord } from '../src/usage.ts';
import { asInput, workload } from '../test/helpers/workload.ts';
import type { Result } from './harness.ts';

const DAY = 86_400_000;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1] as number;
}

function inputs(n: number, start: number): UsageInput[] {
  return [...workload(n, start, 50)].map(asInput);
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] as number;
}

const ms2 = (v: number) => Math.round(v * 100) / 100;

/**
 * records/s through record(), the event loop turning every 1,000 calls as an app's would, until
 * flushed. Set up first, outside the time, as the raw baseline's table and statement are: one
 * record written before (an hour before the others), so the writer thread has started and the
 * ledger file is created with its schema, a cost an app pays once, not per record.
 */
async function ingest(calls: UsageInput[]): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-ingest-'));
  const m = new TokenMonitor({ dir, metrics: false, loadConfig: false });
  const first = calls[0] as UsageInput;
  m.record({ ...first, timestamp: Number(first.timestamp) - 3_600_000 });
  await m.flush();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls.length; i++) {
    m.record(calls[i] as UsageInput);
    if (i % 1000 === 999) await turn();
  }
  await m.flush();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  await m.close();
  rmSync(dir, { recursive: true, force: true });
  return calls.length / s;
}

/**
 * records/s of bursts that share one millisecond (a REST batch, an import of records with one old
 * timestamp), beside the same records a millisecond apart: the ratio stays near 1 when ids are
 * handed out in linear time, whatever the burst's size.
 */
async function sameMs(out: Result[]): Promise<void> {
  const t = Date.now() - DAY;
  for (const size of [2_000, 8_000, 32_000]) {
    const burst = inputs(size, t).map((c) => ({ ...c, timestamp: t }));
    const spread = inputs(size, t).map((c, i) => ({ ...c, timestamp: t + i }));
    const a: number[] = [];
    const b: number[] = [];
    for (let k = 0; k < 3; k++) {
      b.push(await ingest(spread));
      a.push(await ingest(burst));
    }
    const [burstRate, spreadRate] = [Math.round(median(a)), Math.round(median(b))];
    const k = `${size / 1000}k`;
    out.push({
      name: `ledger-ingest-same-ms-${k}`,
      value: burstRate,
      unit: 'records/s',
      baseline: `ledger-ingest-spread-${k}`,
      baselineValue: spreadRate,
      ratio: Math.round((burstRate / spreadRate) * 1000) / 1000,
    });
  }
}

/** rows/s of the same records as 20 plain columns through one prepared statement, 1,000 rows a transaction. */
/** A record as the raw-insert baselines' flat table holds it (20 columns; metadata left null). */
export function rawRow(r: UsageRecord, error: unknown): unknown[] {
  return [
    r.timestamp,
    r.provider,
    r.serviceType,
    r.model,
    r.operation,
    r.inputTokens,
    r.outputTokens,
    r.cachedInputTokens,
    r.cacheWriteTokens,
    r.reasoningTokens,
    r.totalTokens,
    r.costUsd,
    r.apiKeyId,
    r.userId,
    r.threadId,
    r.agent,
    r.durationMs,
    error,
    r.errorMessage,
    null,
  ];
}

function rawInsert(records: UsageRecord[]): number {
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-raw-'));
  const db = new Database(join(dir, 'raw.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`CREATE TABLE usage (timestamp INTEGER, provider TEXT, service_type TEXT, model TEXT, operation TEXT, input_tokens INTEGER,
    output_tokens INTEGER, cached_input_tokens INTEGER, cache_write_tokens INTEGER, reasoning_tokens INTEGER, total_tokens INTEGER,
    cost_usd REAL, api_key_id TEXT, user_id TEXT, thread_id TEXT, agent TEXT, duration_ms REAL, error INTEGER, error_message TEXT, metadata TEXT)`);
  const insert = db.prepare('INSERT INTO usage VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  const tx = db.transaction((rows: UsageRecord[]) => {
    for (const r of rows) {
      insert.run(...rawRow(r, r.error ? 1 : 0));
    }
  });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < records.length; i += 1000) tx(records.slice(i, i + 1000));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return records.length / s;
}

/** A ledger of `n` records spread over the 30 days before `now`, written in 10,000-record batches. */
export async function ledgerOf(n: number, now: number): Promise<{ store: SqliteStore; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-ledger-'));
  const store = new SqliteStore(join(dir, 'ledger.db'));
  const step = (30 * DAY) / n;
  let batch: UsageRecord[] = [];
  for (const r of workload(n, now - 30 * DAY, step)) {
    batch.push(r);
    if (batch.length === 10_000) {
      store.writeSync?.(batch);
      batch = [];
    }
  }
  store.writeSync?.(batch);
  return { store, dir };
}

/** The bytes a record takes in each table and index of the ledger (SQLite's dbstat), the largest first. */
function bytesByPart(file: string, size: number): Result[] {
  const db = new Database(file, { readonly: true });
  const rows = db.prepare('SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC').all() as {
    name: string;
    bytes: number;
  }[];
  db.close();
  return rows
    .filter((r) => r.bytes / size >= 0.1)
    .map((r) => ({ name: `ledger-bytes-per-record-${r.name}`, value: Math.round((r.bytes / size) * 10) / 10, unit: 'bytes' }));
}

/** Median ms of the 30-day summary per provider, by service type and model (what `summary` and `report` read). */
async function summaryMs(store: SqliteStore, now: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t0 = process.hrtime.bigint();
    const s = await providerSummaries(store, { days: 30 }, now - i * 60_000);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (s.length === 0) throw new Error('empty summary');
  }
  return Math.round(median(times) * 100) / 100;
}

/**
 * `advise` over the last 30 days (rollups, the last week's rate, the hours, and a bounded scan of
 * 20,000 records): median and mean ms of 7 runs whose `now` moves back a minute each, beside the
 * 30-day summary measured on the same ledger in the same run.
 */
async function adviseMs(store: SqliteStore, size: number, now: number, baseline: string, baselineMs: number): Promise<Result[]> {
  const prices = new PriceBook();
  const price = (provider: string, model: string) => prices.resolve(provider, model);
  const first = await advise(store, price, { days: 30 }, now);
  if (first.thin !== null || first.scanned.complete) throw new Error(`bench: advice over ${size} records read them all or none`);
  const t = await timesMs(7, now, (_, at) => advise(store, price, { days: 30 }, at));
  const label = `advise-30d-${size / 1_000_000}m`;
  const p50 = ms2(percentile(t, 0.5));
  return [
    { name: label, value: p50, unit: 'ms', baseline, baselineValue: baselineMs, ratio: Math.round((p50 / baselineMs) * 1000) / 1000 },
    { name: `${label}-mean`, value: ms2(t.reduce((a, b) => a + b, 0) / t.length), unit: 'ms' },
    { name: `${label}-scanned`, value: first.scanned.calls, unit: 'records' },
  ];
}

/** ms of each call of `query`, over `n` calls whose `now` moves back a minute and 7 ms each time (so the ragged ends move). */
async function timesMs(n: number, now: number, query: (i: number, now: number) => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await query(i, now - i * 60_007);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return times;
}

/**
 * One subject's 30-day usage (what `userUsage` / `threadUsage` and the REST API read: by model, by
 * agent, by day), by user, thread, key, agent and run, over a ledger of `size` records: p50, p95
 * and mean in ms, each beside the same figure at 1M (`base`) when that was measured.
 */
async function subjectUsageMs(store: SqliteStore, size: number, now: number, base: Map<string, number>, out: Result[]): Promise<void> {
  const label = `${size / 1_000_000}m`;
  // A run of 40 calls an hour ago (sessions tag theirs with metadata.run_id); nothing else in the workload has metadata.
  const runAt = now - 3_600_000;
  store.writeSync?.(
    [...workload(40, runAt, 1000)].map((r, i) => ({ ...r, userId: null, threadId: null, metadata: { run_id: 'run-bench', step: i } })),
  );
  const subjects: [string, (i: number) => ReportQuery][] = [
    ['user-usage-30d', (i) => ({ userId: `user-${(i * 37) % 200}` })],
    // Threads of eight calls: one from each part of the month.
    ['thread-usage-30d', (i) => ({ threadId: `thread-${Math.floor(((i * 7919) % 1000) * (size / 8000))}` })],
    ['key-usage-30d', (i) => ({ apiKeyId: i % 2 === 0 ? 'k1-aaaa-0f4a5b3d' : 'k2-bbbb-1a2b3c4d' })],
    ['agent-usage-30d', (i) => ({ agent: ['planner', 'writer', 'critic'][i % 3] as string })],
    ['run-usage-30d', () => ({ runId: 'run-bench' })],
  ];
  for (const [name, q] of subjects) {
    await timesMs(3, now, (i, at) => subjectUsage(store, { ...q(i), days: 30 }, at));
    const t = await timesMs(name.startsWith('run') ? 20 : 60, now, (i, at) => subjectUsage(store, { ...q(i), days: 30 }, at));
    const figures: [string, number][] = [
      ['', ms2(percentile(t, 0.95))],
      ['-p50', ms2(percentile(t, 0.5))],
      ['-mean', ms2(t.reduce((a, b) => a + b, 0) / t.length)],
    ];
    for (const [suffix, value] of figures) {
      const full = `${name}-${label}${suffix}`;
      const generic = `${name}${suffix}`;
      if (size === 1_000_000) base.set(generic, value);
      const b = base.get(generic);
      out.push(
        b === undefined || size === 1_000_000
          ? { name: full, value, unit: 'ms' }
          : {
              name: full,
              value,
              unit: 'ms',
              baseline: `${name}-1m${suffix}`,
              baselineValue: b,
              ratio: Math.round((value / b) * 1000) / 1000,
            },
      );
    }
  }
}

/** Which parts run: `wanted(name)` says whether a result of that name was asked for (all of them by default). */
interface Loop {
  loopNs: number;
  totalNs: number;
  mainCpuMs: number;
  otherCpuMs: number;
  written: number;
  dropped: number;
}

function loop(ledger: 'ledger' | 'ledger-no-thread' | 'none', n: number, style: 'tight' | 'yield'): Loop {
  const out = execFileSync(process.execPath, [join(import.meta.dirname, 'record-loop.ts'), ledger, String(n), style], { encoding: 'utf8' });
  return JSON.parse(out) as Loop;
}

/**
 * Mean ns per record() over 200,000 calls, flush at the end included, with the SQLite ledger on
 * (in a loop that never yields, and in one that yields every 1,000 calls; and with `thread: false`,
 * yielding) beside `ledger: false`;
 * median of three fresh processes each, interleaved. And where the ledger's CPU time goes: the
 * share of it (CPU time above the baseline's) spent on the main thread, the rest on other threads.
 */
export function benchRecordLoop(): Result[] {
  const n = 200_000;
  const runs: Record<string, Loop[]> = { tight: [], yield: [], noThread: [], none: [] };
  for (let k = 0; k < 3; k++) {
    runs.none?.push(loop('none', n, 'tight'));
    runs.tight?.push(loop('ledger', n, 'tight'));
    runs.yield?.push(loop('ledger', n, 'yield'));
    runs.noThread?.push(loop('ledger-no-thread', n, 'yield'));
  }
  for (const r of [...(runs.tight ?? []), ...(runs.yield ?? []), ...(runs.noThread ?? [])])
    if (r.written !== n + 20_000 || r.dropped !== 0) throw new Error(`bench: the ledger kept ${r.written} of ${n + 20_000} records`);
  const med = (k: string, f: (l: Loop) => number) => median((runs[k] ?? []).map(f));
  const base = med('none', (l) => l.totalNs);
  const out: Result[] = [{ name: 'record-loop-no-ledger', value: Math.round(base), unit: 'ns/record' }];
  for (const [name, k] of [
    ['record-loop-with-ledger', 'tight'],
    ['record-loop-with-ledger-yielding', 'yield'],
    // ledger: { thread: false }: the same writes from a timer on the main thread (the simpler design).
    ['record-loop-with-ledger-no-thread-yielding', 'noThread'],
  ] as const) {
    const total = med(k, (l) => l.totalNs);
    const returns = med(k, (l) => l.loopNs);
    const mainExtra = med(k, (l) => l.mainCpuMs) - med('none', (l) => l.mainCpuMs);
    const allExtra = med(k, (l) => l.mainCpuMs + l.otherCpuMs) - med('none', (l) => l.mainCpuMs + l.otherCpuMs);
    out.push(
      {
        name,
        value: Math.round(total),
        unit: 'ns/record',
        baseline: 'record-loop-no-ledger',
        baselineValue: Math.round(base),
        ratio: Math.round((total / base) * 1000) / 1000,
      },
      // The loop alone, without the flush at the end: what the caller's thread waits in record().
      {
        name: `${name}-loop-only`,
        value: Math.round(returns),
        unit: 'ns/record',
        baseline: 'record-loop-no-ledger',
        baselineValue: Math.round(base),
        ratio: Math.round((returns / base) * 1000) / 1000,
      },
      { name: `${name}-main-thread-cpu-share`, value: Math.round((mainExtra / allExtra) * 1000) / 1000, unit: 'share of ledger CPU' },
    );
  }
  return out;
}

export async function benchLedger(wanted: (name: string) => boolean = () => true): Promise<Result[]> {
  const out: Result[] = [];
  if (wanted('ledger-ingest') || wanted('sqlite-raw-insert')) {
    const n = 200_000;
    const calls = inputs(n, Date.now() - DAY);
    const records = [...workload(n, Date.now() - DAY, 50)];
    // Interleaved pairs, median of each: a busy moment hits both alike.
    const ing: number[] = [];
    const raw: number[] = [];
    for (let k = 0; k < 3; k++) {
      raw.push(rawInsert(records));
      ing.push(await ingest(calls));
    }
    const ingestRate = Math.round(median(ing));
    const rawRate = Math.round(median(raw));
    out.push(
      {
        name: 'ledger-ingest',
        value: ingestRate,
        unit: 'records/s',
        baseline: 'sqlite-raw-insert',
        baselineValue: rawRate,
        ratio: Math.round((ingestRate / rawRate) * 1000) / 1000,
      },
      { name: 'sqlite-raw-insert', value: rawRate, unit: 'rows/s' },
    );
  }
  if (wanted('ledger-ingest-same-ms')) await sameMs(out);

  const now = Date.now();
  const base = new Map<string, number>();
  const others = ['summary-30d', 'summary-by-user-30d', 'ledger-bytes-per-record', 'usage-30d'].some(wanted);
  const queries = others || wanted('advise-30d');
  for (const [name, size] of [
    ['summary-30d-1m', 1_000_000],
    ['summary-30d-10m', 10_000_000],
  ] as const) {
    if (!queries || (process.env.TOKENMETER_BENCH_SMALL === '1' && size > 1_000_000)) continue;
    const { store, dir } = await ledgerOf(size, now);
    const summaryValue = await summaryMs(store, now);
    out.push({ name, value: summaryValue, unit: 'ms' });
    if (wanted('advise-30d')) out.push(...(await adviseMs(store, size, now, name, summaryValue)));
    if (!others) {
      store.closeSync();
      rmSync(dir, { recursive: true, force: true });
      continue;
    }
    // Grouped by user (`summary --by user`, per-user budgets' status): 200 groups and the records without a user.
    const byUser = await timesMs(10, now, (_, at) => summary(store, { days: 30, by: 'userId' }, at));
    out.push({ name: `summary-by-user-30d-${size / 1_000_000}m`, value: ms2(median(byUser)), unit: 'ms' });
    if (size === 1_000_000) {
      out.push({ name: 'ledger-bytes-per-record', value: Math.round((store.pageBytes() / size) * 10) / 10, unit: 'bytes' });
      out.push(...bytesByPart(join(dir, 'ledger.db'), size));
    }
    await subjectUsageMs(store, size, now, base, out);
    store.closeSync();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
