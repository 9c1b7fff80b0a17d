/**
 * The CLI's start: `tokenmeter summary` on an empty storage dir, as installed (the built
 * dist/cli/bin.js, built first), beside `node -e 0` (Node's own start) in the same run. Fresh
 * processes, interleaved, after warm-up runs (the files in the page cache); mean and median ms of
 * the process's whole run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Result } from './harness.ts';

const ROUNDS = 30;

function runMs(args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`bench: ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;
const r2 = (v: number) => Math.round(v * 100) / 100;

export async function benchCli(): Promise<Result[]> {
  const root = join(import.meta.dirname, '..');
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' });
  const dir = mkdtempSync(join(tmpdir(), 'tm-bench-cli-'));
  const env = { ...process.env, TOKENMETER_DIR: dir };
  const cli = [join(root, 'dist', 'cli', 'bin.js'), 'summary'];
  const bare = ['-e', '0'];
  for (let i = 0; i < 3; i++) {
    runMs(cli, env);
    runMs(bare, env);
  }
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    a.push(runMs(cli, env));
    b.push(runMs(bare, env));
  }
  return [
    {
      name: 'cli-summary-empty',
      value: r2(mean(a)),
      unit: 'ms',
      baseline: 'node-start',
      baselineValue: r2(mean(b)),
      ratio: r2(mean(a) / mean(b)),
    },
    {
      name: 'cli-summary-empty-median',
      value: r2(median(a)),
      unit: 'ms',
      baseline: 'node-start-median',
      baselineValue: r2(median(b)),
      ratio: r2(median(a) / median(b)),
    },
    { name: 'node-start', value: r2(mean(b)), unit: 'ms' },
  ];
}
