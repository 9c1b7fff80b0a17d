/**
 * One fresh process of the `record-loop-*` benchmarks (bench/ledger.ts runs it):
 *   node bench/record-loop.ts <ledger|ledger-no-thread|none> <count> <tight|yield>
 * records `count` calls in a loop (`tight`: never yielding; `yield`: letting the event loop turn
 * every 1,000 calls, as an app's would), then awaits flush(), and prints one JSON line: the mean
 * ns per record() over the loop and with the flush, and the CPU time of the main thread beside
 * that of the process's other threads (the ledger's writer thread, GC and libuv helpers).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import { TokenMonitor } from '../src/index.ts';
import type { UsageInput } from '../src/usage.ts';
import { asInput, workload } from '../test/helpers/workload.ts';

const [mode = 'ledger', countArg = '200000', loop = 'tight'] = process.argv.slice(2);
const n = Number(countArg);
const dir = mkdtempSync(join(tmpdir(), 'tm-bench-loop-'));
const calls: UsageInput[] = [];
for (const r of workload(n + 20_000, Date.now() - 86_400_000, 50)) calls.push(asInput(r));
const ledger = mode === 'none' ? { ledger: false as const } : mode === 'ledger-no-thread' ? { ledger: { thread: false } } : {};
const m = new TokenMonitor({ dir, metrics: false, loadConfig: false, ...ledger });
// Warm-up: the same code paths, then flushed, outside the measurement.
for (let i = 0; i < 20_000; i++) m.record(calls[n + i] as UsageInput);
await m.flush();

const cpu0 = process.cpuUsage();
const main0 = process.threadCpuUsage();
const t0 = process.hrtime.bigint();
for (let i = 0; i < n; i++) {
  m.record(calls[i] as UsageInput);
  if (loop === 'yield' && i % 1000 === 999) await turn();
}
const t1 = process.hrtime.bigint();
await m.flush();
const t2 = process.hrtime.bigint();
const main = process.threadCpuUsage(main0);
const cpu = process.cpuUsage(cpu0);
const health = m.health();
await m.close();
rmSync(dir, { recursive: true, force: true });
const mainUs = main.user + main.system;
const allUs = cpu.user + cpu.system;
process.stdout.write(
  `${JSON.stringify({
    loopNs: Number(t1 - t0) / n,
    totalNs: Number(t2 - t0) / n,
    mainCpuMs: mainUs / 1000,
    otherCpuMs: (allUs - mainUs) / 1000,
    written: health.ledger?.written ?? 0,
    dropped: health.ledger?.dropped ?? 0,
  })}\n`,
);
