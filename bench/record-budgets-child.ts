/**
 * One monitor in a fresh process, as an app has (no other monitor's calls in the same JIT code):
 * `node bench/record-budgets-child.ts plain|budgeted` prints the mean ns per `record()` over
 * BATCHES batches of BATCH calls after WARMUP calls. `budgeted`: the five enforced budgets of
 * bench/budgets.ts; `plain`: a session without a budget (records are tagged with its run all the same).
 */
import { BUDGET_BENCH_CALLS, budgetBenchMonitor } from './budgets-setup.ts';

const WARMUP = 100_000;
const BATCH = 10_000;
const BATCHES = 60;

const mode = process.argv[2];
if (mode !== 'plain' && mode !== 'budgeted') throw new Error(`usage: record-budgets-child.ts plain|budgeted (got ${mode})`);
const { monitor, run } = budgetBenchMonitor(mode === 'budgeted');
const calls = BUDGET_BENCH_CALLS;
let i = 0;
const batch = (n: number) =>
  run.run(() => {
    for (let k = 0; k < n; k++) monitor.record(calls[i++ & 7] as (typeof calls)[number]);
  });
batch(WARMUP);
const t0 = process.hrtime.bigint();
for (let b = 0; b < BATCHES; b++) batch(BATCH);
const ns = Number(process.hrtime.bigint() - t0) / (BATCH * BATCHES);
if (monitor.usageSummary('openai').requests !== WARMUP + BATCH * BATCHES) throw new Error('bench: not every call was recorded');
await monitor.close();
process.stdout.write(`${ns}\n`);
