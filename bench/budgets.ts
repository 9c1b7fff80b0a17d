/**
 * Budgets on the hot path: `record()` with five active budgets (provider, user, key, team, run)
 * and enforcement on, beside `record()` without budgets, same calls, each inside a session of its
 * monitor (the baseline's without a budget); the same budgets' own work (`BudgetTracker.spend`)
 * outside record(); the pair again as users pay it (`-fresh`: each monitor alone in fresh processes,
 * means over long batches); and the time an enforced instrumented call spends deciding (`admit` and `settle`).
 */

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { BudgetTracker } from '../src/budgets/tracker.ts';
import { type CountTokens, loadTiktoken } from '../src/instrument/estimate.ts';
import { holdTokenizerLoaded, preloadHoldTokenizer } from '../src/instrument/exact-counts.ts';
import { estimateInputTokens } from '../src/instrument/hold-estimate.ts';
import type { UsageInput, UsageRecord } from '../src/usage.ts';
import { BUDGET_BENCH_CALLS, BUDGET_BENCH_KEY, BUDGET_BENCH_LIMIT, budgetBenchMonitor } from './budgets-setup.ts';
import { measureNs, type Result, round, withBaseline } from './harness.ts';

const KEY = BUDGET_BENCH_KEY;
const calls = BUDGET_BENCH_CALLS;

export async function benchBudgets(): Promise<Result[]> {
  const { monitor: plain, run: plainRun } = budgetBenchMonitor(false);
  const { monitor: budgeted, run } = budgetBenchMonitor(true);
  const big = BUDGET_BENCH_LIMIT;
  const body = {
    model: 'gpt-4o',
    max_tokens: 500,
    messages: [{ role: 'user', content: 'Summarise the attached report in three bullet points.' }],
  };
  const context = { userId: 'u1', agent: 'planner', runId: run.id };

  // Enforcement loads js-tiktoken on the tokenizer thread (hold-estimate.ts): measured once it is
  // loaded, as a process runs after its first seconds. Loading does not keep the process alive: this does.
  const alive = setInterval(() => {}, 1000);
  const count = await loadTiktoken('o200k_base');
  await preloadHoldTokenizer();
  clearInterval(alive);
  if (count === undefined || !holdTokenizerLoaded()) throw new Error('bench: js-tiktoken is not installed');
  // The same five budgets in a BudgetTracker of their own, counting the records record() makes:
  // what the budget logic costs on its own, beside what it adds inside record(). Nothing reads
  // the states meanwhile, so these records wait to be added (budgets/pending-spend.ts), as most
  // do in an app that is scraped every few seconds.
  const tracker = new BudgetTracker(() => new Map());
  tracker.add({ scope: 'provider', scopeId: 'openai', limit: big, unit: 'usd', limitType: 'monthly_limit', enforce: true });
  tracker.add({ scope: 'user', scopeId: '*', limit: big, enforce: true });
  tracker.add({ scope: 'api_key', scopeId: '*', limit: big, enforce: true });
  tracker.add({ scope: 'team', scopeId: 'search', members: { userIds: ['u0', 'u1', 'u2'] }, limit: big, enforce: true });
  tracker.add({ scope: 'run', scopeId: run.id, limit: big, enforce: true });
  const records = calls.map((c) => plain.record(c).record).filter((r) => r !== null);
  let i = 0;
  const results = run.run(() =>
    measureNs(
      [
        {
          name: 'record',
          run: (n) => {
            plainRun.run(() => {
              for (let k = 0; k < n; k++) plain.record(calls[i++ & 7] as UsageInput);
            });
          },
        },
        {
          name: 'record-with-budgets',
          baseline: 'record',
          run: (n) => {
            for (let k = 0; k < n; k++) budgeted.record(calls[i++ & 7] as UsageInput);
          },
        },
        {
          name: 'budget-spend-alone',
          baseline: 'record',
          run: (n) => {
            for (let k = 0; k < n; k++) tracker.spend(records[i++ & 7] as UsageRecord, run.id);
          },
        },
        {
          name: 'enforce-check',
          run: (n) => {
            for (let k = 0; k < n; k++) budgeted.settle(budgeted.admit('openai', body, context, KEY));
          },
        },
      ],
      { batch: 10_000, rounds: 30 },
    ),
  );
  // The hold's input estimate by prompt size (ns per call; a fresh string each call, as a new
  // user message is): the script estimate on the caller's path, beside what a count by js-tiktoken
  // takes (why holds only use the counts of texts seen before, counted on the tokenizer thread).
  const en = 'Summarise the attached quarterly report in three bullet points, citing figures. ';
  const zh = '请用三个要点总结所附的季度报告，并引用其中的数据。';
  const sizes: Parameters<typeof measureNs>[0] = [];
  const tokenizer: RoundTrip[] = [];
  for (const [lang, unit] of [
    ['en', en],
    ['zh', zh],
  ] as const) {
    for (const chars of [100, 1000, 10_000]) {
      const text = unit.repeat(Math.ceil(chars / unit.length)).slice(0, chars);
      const texts = Array.from({ length: 64 }, (_, k) => `${k} ${text}`.slice(0, chars));
      let j = 0;
      const name = `enforce-estimate-${lang}-${chars}`;
      sizes.push({
        name,
        run: (n) => {
          for (let k = 0; k < n; k++) estimateInputTokens('openai', 'gpt-4o', { messages: [{ role: 'user', content: texts[j++ & 63] }] });
        },
      });
      // js-tiktoken is far slower, for Chinese above all: fewer calls of it.
      if (lang === 'en' || chars <= 1000) tokenizer.push({ name: `enforce-tiktoken-${lang}-${chars}`, baseline: name, texts });
    }
  }
  // Each figure beside the estimate's own, measured in the same run; js-tiktoken in small batches.
  const estimates = measureNs(sizes, { batch: 500, rounds: 20 });
  const values = new Map(estimates.map((e) => [e.name, e.value]));
  const tokenized = (await roundTrips(count, tokenizer, { batch: 4, rounds: 8 })).map((r) => withBaseline(r, r.baseline, values));
  const bySize = [...estimates, ...tokenized];
  const status = budgeted.budgetStatus();
  if (status.length < 5 || status.some((s) => s.used === 0 || s.reserved !== 0)) throw new Error('bench: budgets did not count every call');
  if (tracker.states().length < 5 || tracker.states().some((s) => s.used === 0))
    throw new Error('bench: the tracker alone did not count every record');
  await Promise.all([plain.close(), budgeted.close()]);
  // Only `record` is named the same elsewhere (bench/record.ts).
  const renamed = [...results, ...bySize].map((r) =>
    r.name === 'record' ? { ...r, name: 'record-no-budgets' } : r.baseline === 'record' ? { ...r, baseline: 'record-no-budgets' } : r,
  );
  return [...renamed, ...freshProcesses(FRESH_ROUNDS)];
}

const FRESH_ROUNDS = 12;

/**
 * The same pair as users pay it: each monitor alone in a fresh process (bench/record-budgets-child.ts),
 * the mean ns per record() over long batches after a warm-up, `rounds` processes of each, in turns
 * (which goes first alternates); the figure is the mean of the rounds, the ratio that of the means.
 */
function freshProcesses(rounds: number): Result[] {
  const child = join(import.meta.dirname, 'record-budgets-child.ts');
  const ns = (mode: 'plain' | 'budgeted') => Number(execFileSync(process.execPath, [child, mode], { encoding: 'utf8' }).trim());
  const plain: number[] = [];
  const budgeted: number[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      plain.push(ns('plain'));
      budgeted.push(ns('budgeted'));
    } else {
      budgeted.push(ns('budgeted'));
      plain.push(ns('plain'));
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const values = new Map([['record-no-budgets-fresh', mean(plain)]]);
  return [
    { name: 'record-no-budgets-fresh', value: round(mean(plain)), unit: 'ns/op', rounds: plain.map(round) },
    withBaseline(
      { name: 'record-with-budgets-fresh', value: round(mean(budgeted)), unit: 'ns/op', rounds: budgeted.map(round) },
      'record-no-budgets-fresh',
      values,
    ),
  ];
}

interface RoundTrip {
  name: string;
  /** The script estimate of the same texts. */
  baseline: string;
  texts: readonly string[];
}

/**
 * js-tiktoken's count of one text as the main thread gets it, on the tokenizer thread: ns per
 * round trip (the text sent, counted there, the count back; one after another, `batch` a round,
 * the subjects interleaved, median of the rounds), and `<name>-main-cpu`: the CPU time the main
 * thread spent a round trip (copying the text, reading the answer; where Node has per-thread CPU time).
 */
async function roundTrips(
  count: CountTokens,
  subjects: RoundTrip[],
  options: { batch: number; rounds: number },
): Promise<(Result & { baseline: string })[]> {
  const cpu = () => {
    const c = process.threadCpuUsage?.();
    return c === undefined ? Number.NaN : (c.user + c.system) * 1000;
  };
  const wall = new Map<string, number[]>(subjects.map((s) => [s.name, []]));
  const main = new Map<string, number[]>(subjects.map((s) => [s.name, []]));
  let j = 0;
  for (let r = -2; r < options.rounds; r++) {
    for (const s of subjects) {
      const t0 = process.hrtime.bigint();
      const c0 = cpu();
      for (let k = 0; k < options.batch; k++) await count([s.texts[j++ & 63] as string]);
      // The first two rounds warm up.
      if (r < 0) continue;
      wall.get(s.name)?.push(Number(process.hrtime.bigint() - t0) / options.batch);
      main.get(s.name)?.push((cpu() - c0) / options.batch);
    }
  }
  const median = (xs: number[]) => {
    const v = [...xs].sort((a, b) => a - b);
    return v.length % 2 === 1 ? (v[v.length >> 1] as number) : ((v[v.length / 2 - 1] as number) + (v[v.length / 2] as number)) / 2;
  };
  return subjects.flatMap((s) => {
    const cpuNs = median(main.get(s.name) ?? []);
    return [
      { name: s.name, value: round(median(wall.get(s.name) ?? [])), unit: 'ns/op', baseline: s.baseline },
      ...(Number.isNaN(cpuNs) ? [] : [{ name: `${s.name}-main-cpu`, value: round(cpuNs), unit: 'ns/op', baseline: s.baseline }]),
    ];
  });
}
