// A process that records usage into a ledger, for the multi-process, crash and signal tests.
// argv: <dir> <mode> <count> <tag>
//   flush-each-1000: record, flushing every 1,000 records and printing "flushed <n>" after each
//   no-flush-exit:   record, then let the process end on its own (no flush, no close)
//   no-flush-wait:   record, print "recorded <n>", then wait to be signalled
//   report-health:   record, flush, print health() as JSON, then close
import { TokenMonitor } from '../../src/index.ts';

const [dir = '.', mode, countArg, tag = 'p'] = process.argv.slice(2);
const count = Number(countArg);
const monitor = new TokenMonitor({ dir, metrics: false, loadConfig: false, logLevel: 'error' });
const t0 = Date.UTC(2026, 10, 1);
for (let i = 1; i <= count; i++) {
  monitor.record({
    provider: 'openai',
    model: 'gpt-4o-mini',
    inputTokens: 100 + (i % 50),
    outputTokens: 20,
    agent: tag,
    threadId: `${tag}-${i}`,
    timestamp: t0 + i,
  });
  if (mode === 'flush-each-1000' && i % 1000 === 0) {
    await monitor.flush();
    process.stdout.write(`flushed ${i}\n`);
  }
}
if (mode === 'flush-each-1000') {
  await monitor.close();
} else if (mode === 'no-flush-wait') {
  process.stdout.write(`recorded ${count}\n`);
  setInterval(() => {}, 1000);
} else if (mode === 'report-health') {
  await monitor.flush();
  process.stdout.write(`${JSON.stringify(monitor.health())}\n`);
  await monitor.close();
}
