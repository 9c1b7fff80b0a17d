/**
 * The PostgreSQL ledger, on a throwaway server this run starts (test/helpers/postgres.ts; fsync off,
 * as in the tests: what is measured is tokenmeter's part, not the disk's):
 * - pg-ingest: records/s through record() into `ledger: { url }` from one process, until flushed,
 *   beside the same rows through plain `pg` multi-row INSERTs (1,000 rows a statement, 20 plain
 *   columns, no rollups) in the same run: the ratio is what the ledger's rollups and batching cost.
 * - pg-summary-30d-10m: the 30-day summary per provider (bench/ledger.ts's figure) over 10M records
 *   of bench/ledger.ts's generator, loaded with COPY (minutes; the rollups built from the rows once).
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import pg from 'pg';
import { TokenMonitor } from '../src/index.ts';
import { PostgresStore } from '../src/ledger/postgres.ts';
import { providerSummaries } from '../src/reports/reports.ts';
import type { UsageInput, UsageRecord } from '../src/usage.ts';
import { type PostgresServer, startPostgres } from '../test/helpers/postgres.ts';
import { asInput, workload } from '../test/helpers/workload.ts';
import type { Result } from './harness.ts';
import { rawRow } from './ledger.ts';

const DAY = 86_400_000;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1] as number;
}

/** records/s through record() into a fresh PostgreSQL ledger, the event loop turning every 1,000 calls, until flushed. */
async function ingest(server: PostgresServer, calls: UsageInput[]): Promise<number> {
  const url = await server.database();
  const m = new TokenMonitor({ ledger: { url }, metrics: false, loadConfig: false });
  // The schema first: migrating is start-up, not ingest.
  await m.records({ limit: 1 });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls.length; i++) {
    m.record(calls[i] as UsageInput);
    if (i % 1000 === 999) await turn();
  }
  await m.flush();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (m.health().ledger?.pending !== 0) throw new Error('pg-ingest: records left unwritten');
  await m.close();
  return calls.length / s;
}

/** rows/s of the same records as 20 plain columns through `pg` multi-row INSERTs of 1,000 rows. */
async function rawInsert(server: PostgresServer, records: UsageRecord[]): Promise<number> {
  const client = new pg.Client({ connectionString: await server.database() });
  await client.connect();
  await client.query(`CREATE TABLE usage (timestamp bigint, provider text, service_type text, model text, operation text, input_tokens bigint,
    output_tokens bigint, cached_input_tokens bigint, cache_write_tokens bigint, reasoning_tokens bigint, total_tokens bigint,
    cost_usd double precision, api_key_id text, user_id text, thread_id text, agent text, duration_ms double precision, error boolean,
    error_message text, metadata text)`);
  const per = 1000;
  const sql = `INSERT INTO usage VALUES ${Array.from({ length: per }, (_, r) => `(${Array.from({ length: 20 }, (_, c) => `$${r * 20 + c + 1}`).join(', ')})`).join(', ')}`;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i + per <= records.length; i += per) {
    const values: unknown[] = [];
    for (const r of records.slice(i, i + per)) {
      values.push(...rawRow(r, r.error));
    }
    await client.query({ name: 'raw', text: sql, values });
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  await client.end();
  return records.length / s;
}

const csv = (v: unknown): string => {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/**
 * A PostgreSQL ledger of `n` records of the workload over the 30 days before `now`: the schema by
 * the store, the rows by COPY from CSV files of a million rows each (read by the server, which the
 * bench runs as its superuser), then the three rollups summed from the rows, as the writer keeps them.
 */
async function ledgerOf(server: PostgresServer, n: number, now: number): Promise<PostgresStore> {
  const url = await server.database();
  const store = new PostgresStore(url);
  await store.count({});
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-pg-'));
  chmodSync(dir, 0o755);
  const cols = `ts, provider, service_type, model, operation, input_tokens, output_tokens, cached_input_tokens, total_tokens,
    cost_pico, api_key_id, user_id, thread_id, agent, duration_us, error`;
  const step = (30 * DAY) / n;
  let lines: string[] = [];
  const flush = async () => {
    const file = join(dir, 'chunk.csv');
    writeFileSync(file, lines.join(''));
    chmodSync(file, 0o644);
    lines = [];
    await client.query(`COPY records (${cols}) FROM '${file}' WITH (FORMAT csv)`);
  };
  for (const r of workload(n, now - 30 * DAY, step)) {
    lines.push(
      `${[
        r.timestamp,
        r.provider,
        r.serviceType,
        r.model,
        r.operation,
        r.inputTokens,
        r.outputTokens,
        r.cachedInputTokens,
        r.totalTokens,
        r.costPicoUsd,
        r.apiKeyId,
        r.userId,
        r.threadId,
        r.agent,
        r.durationMs === null ? null : Math.round(r.durationMs * 1000),
        r.error,
      ]
        .map(csv)
        .join(',')}\n`,
    );
    if (lines.length === 1_000_000) await flush();
  }
  if (lines.length > 0) await flush();
  rmSync(dir, { recursive: true, force: true });
  const sums = `COUNT(*), COUNT(*) FILTER (WHERE error), COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0),
    COALESCE(SUM(cached_input_tokens), 0), COALESCE(SUM(cache_write_tokens), 0), COALESCE(SUM(reasoning_tokens), 0),
    COALESCE(SUM(total_tokens), 0), COALESCE(SUM(cost_pico), 0), COUNT(*) FILTER (WHERE cost_pico IS NULL)`;
  await client.query(`INSERT INTO rollup_hour SELECT ts / 3600000, provider, service_type, model, operation, COALESCE(agent, ''),
    COALESCE(api_key_id, ''), ${sums} FROM records GROUP BY 1, 2, 3, 4, 5, 6, 7`);
  await client.query(`INSERT INTO rollup_user_day SELECT user_id, ts / 86400000, provider, service_type, model, COALESCE(agent, ''),
    ${sums} FROM records WHERE user_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6`);
  await client.query(`INSERT INTO rollup_user_hour SELECT ts / 3600000, user_id, provider, service_type, model, COALESCE(agent, ''),
    ${sums} FROM records WHERE user_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6`);
  await client.query('VACUUM ANALYZE');
  await client.end();
  return store;
}

/** Median and mean ms of the 30-day summary per provider, by service type and model, over 15 calls whose `now` moves back a minute each. */
async function summaryMs(store: PostgresStore, now: number): Promise<{ median: number; mean: number }> {
  const times: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t0 = process.hrtime.bigint();
    const s = await providerSummaries(store, { days: 30 }, now - i * 60_000);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (s.length === 0) throw new Error('empty summary');
  }
  const r = (v: number) => Math.round(v * 100) / 100;
  return { median: r(median(times)), mean: r(times.reduce((a, b) => a + b, 0) / times.length) };
}

export async function benchPostgres(wanted: (name: string) => boolean = () => true): Promise<Result[]> {
  const out: Result[] = [];
  const server = await startPostgres();
  try {
    if (wanted('pg-ingest') || wanted('pg-raw-insert')) {
      const n = 200_000;
      const calls = [...workload(n, Date.now() - DAY, 50)].map(asInput);
      const records = [...workload(n, Date.now() - DAY, 50)];
      // Interleaved pairs, median of each: a busy moment hits both alike.
      const ing: number[] = [];
      const raw: number[] = [];
      for (let k = 0; k < 3; k++) {
        raw.push(await rawInsert(server, records));
        ing.push(await ingest(server, calls));
      }
      const [ingestRate, rawRate] = [Math.round(median(ing)), Math.round(median(raw))];
      out.push(
        {
          name: 'pg-ingest',
          value: ingestRate,
          unit: 'records/s',
          baseline: 'pg-raw-insert',
          baselineValue: rawRate,
          ratio: Math.round((ingestRate / rawRate) * 1000) / 1000,
        },
        { name: 'pg-raw-insert', value: rawRate, unit: 'rows/s' },
      );
    }
    if (wanted('pg-summary-30d-10m')) {
      const size = process.env.TOKENMETER_BENCH_SMALL === '1' ? 1_000_000 : 10_000_000;
      const now = Date.now();
      const t0 = Date.now();
      const store = await ledgerOf(server, size, now);
      const loadS = Math.round((Date.now() - t0) / 100) / 10;
      const { median: p50, mean } = await summaryMs(store, now);
      const name = size === 10_000_000 ? 'pg-summary-30d-10m' : 'pg-summary-30d-1m';
      out.push(
        { name, value: p50, unit: 'ms', baseline: 'target', baselineValue: 50, ratio: Math.round((p50 / 50) * 1000) / 1000 },
        { name: `${name}-mean`, value: mean, unit: 'ms' },
        { name: `${name}-load-copy`, value: loadS, unit: 's' },
      );
      await store.close();
    }
  } finally {
    await server.remove();
  }
  return out;
}
