/**
 * REST ingest: `tokenmeter serve` in a child process (its own event loop, as in production) over a
 * temp dir with the SQLite ledger, fed `POST /v1/usage` batches of 100 records by 4 concurrent
 * keep-alive clients; beside it, in the same run, `monitor.record()` of the same records into the
 * same kind of ledger in this process. Both are records/s until the ledger holds them all (the
 * server's `/health` shows nothing pending; the monitor is flushed). Rounds are interleaved and
 * each figure is the mean over its rounds (medians alongside); the ledger's rows are counted
 * after each server round against what was posted. `rest-ingest-cpu` is the server process's CPU
 * time per record beside record()'s in process.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { TokenMonitor } from '../src/index.ts';
import type { UsageInput } from '../src/usage.ts';
import { startServe, CLI as THIS_CLI } from '../test/helpers/serve.ts';
import { asInput, workload } from '../test/helpers/workload.ts';
import type { Result } from './harness.ts';

// TOKENMETER_BENCH_SERVE_CLI: another checkout's src/cli/index.ts, to measure its server beside this baseline.
const CLI = process.env.TOKENMETER_BENCH_SERVE_CLI ?? THIS_CLI;
const BATCH = 100;
const CLIENTS = 4;
const small = process.env.TOKENMETER_BENCH_SMALL === '1';
const ROUNDS = small ? 1 : 3;
const WARMUP_MS = small ? 1_500 : 3_000;
const WINDOW_MS = small ? 3_000 : 10_000;

/**
 * Realistic calls: three models of two providers, 200 users, threads, agents, keys, some errors,
 * some metadata. With no timestamp, as an app posts usage as it happens: the server stamps each on
 * receipt. (The same few hundred bodies are posted again and again; had they kept the workload's
 * timestamps, every round after the first would insert each row beside one of its millisecond in
 * the middle of the table, which no live client does: 33,535 records/s against 37,573 in process
 * at 5be58f1's parent, where stamping on receipt gave 50,291 against 55,772.)
 */
function calls(n: number): UsageInput[] {
  const out: UsageInput[] = [];
  let i = 0;
  for (const r of workload(n, Date.now() - 86_400_000, 50)) {
    const c = asInput(r);
    delete c.timestamp;
    if (r.error) {
      c.errorType = r.errorType ?? 'error';
      c.errorMessage = r.errorMessage ?? '';
    }
    if (i++ % 10 === 0) c.metadata = { doc: `doc-${i % 37}.pdf`, step: i % 5 };
    out.push(c);
  }
  return out;
}

function post(agent: Agent, url: URL, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } },
      (res) => {
        res.on('data', () => {});
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function getJson(url: string): Promise<unknown> {
  return (await fetch(url)).json();
}

/** Posts batches from `CLIENTS` concurrent loops until `until()` is true; resolves to the records posted. */
async function drive(agent: Agent, url: URL, bodies: Buffer[], until: () => boolean): Promise<number> {
  let next = 0;
  let posted = 0;
  const client = async () => {
    while (!until()) {
      const body = bodies[next++ % bodies.length] as Buffer;
      let status = await post(agent, url, body);
      // The ledger is behind (503, Retry-After: 1): as a client should, wait and post it again.
      while (status === 503 && !until()) {
        await new Promise((r) => setTimeout(r, 1000));
        status = await post(agent, url, body);
      }
      if (status === 503) break;
      if (status !== 201) throw new Error(`POST /v1/usage answered ${status}`);
      posted += BATCH;
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, client));
  return posted;
}

/** Waits until the server's ledger has nothing pending. */
async function drained(url: string): Promise<void> {
  for (;;) {
    const h = (await getJson(`${url}/health`)) as { ledger: { pending: number } };
    if (h.ledger.pending === 0) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** One server round: records/s over the window until written, and how many records the ledger lacks. */
/** CPU seconds a process has used (user + system), from /proc; undefined where there is none. */
function cpuSeconds(pid: number | undefined): number | undefined {
  try {
    // Fields 14 and 15 after the command name (which may hold spaces, hence from the last ')').
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(')').pop()?.trim().split(' ') ?? [];
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return undefined;
  }
}

async function restRound(bodies: Buffer[]): Promise<{ rate: number; lost: number; bytesPerAnswer: number; cpuUs: number | undefined }> {
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-rest-'));
  const { proc, url } = await startServe(['--dir', dir], { cli: CLI });
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  const target = new URL(`${url}/v1/usage`);
  let total = 0;
  try {
    const warmEnd = Date.now() + WARMUP_MS;
    total += await drive(agent, target, bodies, () => Date.now() >= warmEnd);
    await drained(url);
    const cpu0 = cpuSeconds(proc.pid);
    const t0 = process.hrtime.bigint();
    const end = Date.now() + WINDOW_MS;
    const posted = await drive(agent, target, bodies, () => Date.now() >= end);
    await drained(url);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu1 = cpuSeconds(proc.pid);
    const cpuUs = cpu0 === undefined || cpu1 === undefined ? undefined : ((cpu1 - cpu0) * 1e6) / posted;
    total += posted;
    // The size of one answer, for the report.
    const answer = await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodies[0] as Buffer });
    const bytesPerAnswer = (await answer.arrayBuffer()).byteLength;
    total += BATCH;
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('close', r));
    const db = new Database(join(dir, 'ledger.db'), { readonly: true });
    const rows = (db.prepare('SELECT count(*) AS n FROM records').get() as { n: number }).n;
    db.close();
    return { rate: posted / s, lost: total - rows, bytesPerAnswer, cpuUs };
  } finally {
    agent.destroy();
    if (proc.exitCode === null) proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The in-process baseline: record() of the same batches with the same ledger (as `serve` opens it), the loop turning after each batch, flushed. */
async function inProcessRound(batches: UsageInput[][], n: number): Promise<{ rate: number; cpuUs: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-inproc-'));
  const m = new TokenMonitor({ dir, metrics: { prometheus: { serve: false } }, logLevel: 'error' });
  const run = async (count: number) => {
    for (let k = 0; k < count; k++) {
      for (const c of batches[k % batches.length] as UsageInput[]) m.record(c);
      await turn();
    }
    await m.flush();
  };
  await run(Math.ceil(n / BATCH / 5));
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await run(Math.ceil(n / BATCH));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  await m.close();
  rmSync(dir, { recursive: true, force: true });
  return { rate: n / s, cpuUs: (cpu.user + cpu.system) / n };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;

export async function benchRestIngest(): Promise<Result[]> {
  const all = calls(BATCH * 200);
  const batches: UsageInput[][] = [];
  for (let i = 0; i < all.length; i += BATCH) batches.push(all.slice(i, i + BATCH));
  const bodies = batches.map((b) => Buffer.from(JSON.stringify(b)));
  const rest: number[] = [];
  const local: number[] = [];
  const restCpu: number[] = [];
  const localCpu: number[] = [];
  let lost = 0;
  let bytesPerAnswer = 0;
  for (let k = 0; k < ROUNDS; k++) {
    const r = await restRound(bodies);
    rest.push(r.rate);
    lost += r.lost;
    bytesPerAnswer = r.bytesPerAnswer;
    // As many records in process as the server took in its window, so both write ledgers of one size.
    const l = await inProcessRound(batches, Math.max(50_000, Math.round((r.rate * WINDOW_MS) / 1000)));
    local.push(l.rate);
    localCpu.push(l.cpuUs);
    if (r.cpuUs !== undefined) restCpu.push(r.cpuUs);
  }
  const value = Math.round(mean(rest));
  const baselineValue = Math.round(mean(local));
  return [
    {
      name: 'rest-ingest',
      value,
      unit: 'records/s',
      baseline: 'rest-ingest-in-process',
      baselineValue,
      ratio: Math.round((value / baselineValue) * 1000) / 1000,
    },
    { name: 'rest-ingest-in-process', value: baselineValue, unit: 'records/s' },
    {
      name: 'rest-ingest-median',
      value: Math.round(median(rest)),
      unit: 'records/s',
      baseline: 'rest-ingest-in-process-median',
      baselineValue: Math.round(median(local)),
      ratio: Math.round((median(rest) / median(local)) * 1000) / 1000,
    },
    { name: 'rest-ingest-lost', value: lost, unit: 'records' },
    // CPU time per record: the server process's against record()'s (a ratio a busy machine moves less than throughput).
    ...(restCpu.length === 0
      ? []
      : [
          {
            name: 'rest-ingest-cpu',
            value: Math.round(mean(restCpu) * 100) / 100,
            unit: 'cpu-us/record',
            baseline: 'rest-ingest-in-process-cpu',
            baselineValue: Math.round(mean(localCpu) * 100) / 100,
            ratio: Math.round((mean(restCpu) / mean(localCpu)) * 1000) / 1000,
          },
        ]),
    { name: 'rest-ingest-answer-bytes', value: bytesPerAnswer, unit: 'bytes' },
  ];
}
