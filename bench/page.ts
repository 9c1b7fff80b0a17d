/**
 * The built-in page's load: every data request the page makes when it opens (test/helpers/page.ts
 * pageLoadRequests, which the browser test checks against the page), sent at once over keep-alive
 * HTTP with six connections (a browser's limit per host) to `tokenmeter serve` in a child process,
 * timed until the last answer is read. Over the bench's 10M-record ledger (bench/ledger.ts
 * ledgerOf), beside the same over a 1M-record one and the same report calls in process over the
 * 10M one (no HTTP, no JSON), in interleaved rounds. Mean over many loads, median beside it.
 */
import type { ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { TokenMonitor } from '../src/index.ts';
import { pageLoadRequests } from '../test/helpers/page.ts';
import { startServe } from '../test/helpers/serve.ts';
import type { Result } from './harness.ts';
import { ledgerOf } from './ledger.ts';

const small = process.env.TOKENMETER_BENCH_SMALL === '1';
const LOADS = small ? 10 : 60;
const WARMUP = 3;

/** Budgets the status request reports (seeded from the ledger's rollups when the server starts). */
const BUDGETS = [
  { scope: 'global', limit_usd: 5000 },
  { scope: 'provider', id: 'openai', limit_usd: 200, billing_cycle: 'daily' },
  { scope: 'agent', id: 'planner', limit_usd: 2000, billing_cycle: 'rolling', rolling_days: 7 },
  { scope: 'user', id: 'user-7', limit_usd: 5, billing_cycle: 'daily' },
];

function get(agent: Agent, url: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`${url}: ${res.statusCode} ${Buffer.concat(chunks)}`));
        else resolve(Buffer.concat(chunks));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** One page load over HTTP: ms until every answer is read. */
async function httpLoad(agent: Agent, url: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  await Promise.all(pageLoadRequests().map((p) => get(agent, `${url}${p}`)));
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** The same reports through the monitor's methods in this process. */
async function inProcessLoad(m: TokenMonitor): Promise<number> {
  const now = Date.now();
  const cardsSince = pageLoadRequests(now)[1]?.replace(/.*since=([^&]*).*/, '$1') as string;
  const t0 = process.hrtime.bigint();
  await Promise.all([
    m.overview({ days: 30, split: 'provider' }),
    m.summary({ since: cardsSince, by: 'day' }),
    m.records({ days: 30, errors: true, limit: 10 }),
    Promise.resolve(m.status()),
    m.alerts({ limit: 20 }),
    Promise.resolve(m.alertmanagerAlerts({ since: now - 7 * 86_400_000, limit: 20 })),
  ]);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;
const ms2 = (v: number) => Math.round(v * 100) / 100;

export async function benchPage(): Promise<Result[]> {
  const now = Date.now();
  const sizes = small ? [1_000_000] : [1_000_000, 10_000_000];
  const servers: { label: string; dir: string; proc: ChildProcess; url: string; agent: Agent; times: number[] }[] = [];
  let monitor: TokenMonitor | undefined;
  const inProcess: number[] = [];
  try {
    for (const size of sizes) {
      const { store, dir } = await ledgerOf(size, now);
      store.closeSync();
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ budgets: BUDGETS }));
      const { proc, url } = await startServe(['--dir', dir]);
      const agent = new Agent({ keepAlive: true, maxSockets: 6 });
      // The answers are the ledger's: the whole month is in the summary.
      const s = JSON.parse(String(await get(agent, `${url}/v1/summary?days=31`))) as { total: { requests: number } };
      if (s.total.requests !== size) throw new Error(`bench: the page's server sees ${s.total.requests} of ${size} records`);
      servers.push({ label: `${size / 1_000_000}m`, dir, proc, url, agent, times: [] });
    }
    const biggest = servers[servers.length - 1];
    monitor = new TokenMonitor({ dir: biggest?.dir as string, metrics: false });
    for (let i = 0; i < WARMUP + LOADS; i++) {
      for (const s of servers) {
        const t = await httpLoad(s.agent, s.url);
        if (i >= WARMUP) s.times.push(t);
      }
      const t = await inProcessLoad(monitor);
      if (i >= WARMUP) inProcess.push(t);
    }
  } finally {
    await monitor?.close();
    for (const s of servers) {
      s.agent.destroy();
      s.proc.kill('SIGTERM');
      await new Promise((resolve) => (s.proc.exitCode === null ? s.proc.once('close', resolve) : resolve(null)));
      rmSync(s.dir, { recursive: true, force: true });
    }
  }
  const base = servers[0] as (typeof servers)[number];
  const top = servers[servers.length - 1] as (typeof servers)[number];
  const label = top.label;
  const out: Result[] = [];
  for (const [suffix, f] of [
    ['', mean],
    ['-p50', median],
  ] as const) {
    const value = ms2(f(top.times));
    out.push(
      top === base
        ? { name: `page-load-${label}${suffix}`, value, unit: 'ms' }
        : {
            name: `page-load-${label}${suffix}`,
            value,
            unit: 'ms',
            baseline: `page-load-${base.label}${suffix}`,
            baselineValue: ms2(f(base.times)),
            ratio: Math.round((value / f(base.times)) * 1000) / 1000,
          },
      {
        name: `page-load-${label}-in-process${suffix}`,
        value: ms2(f(inProcess)),
        unit: 'ms',
        baseline: `page-load-${label}${suffix}`,
        baselineValue: value,
        ratio: Math.round((f(inProcess) / f(top.times)) * 1000) / 1000,
      },
    );
    if (top !== base) out.push({ name: `page-load-${base.label}${suffix}`, value: ms2(f(base.times)), unit: 'ms' });
  }
  return out;
}
