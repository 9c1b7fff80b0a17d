// A process that records usage into a PostgreSQL ledger, for the multi-process and restart tests.
// argv: <url> <count> <tag>: records <count> records (agent <tag>, threadId <tag>-<i>) as fast as it
// can, yielding every 500; prints "recorded <n>" every 5,000, then closes (writing what waits) and
// prints health() as JSON.
import { TokenMonitor } from '../../src/index.ts';

const [url = '', countArg, tag = 'p'] = process.argv.slice(2);
const count = Number(countArg);
const monitor = new TokenMonitor({ ledger: { url }, metrics: false, loadConfig: false, logLevel: 'error' });
const t0 = Date.UTC(2026, 10, 1);
for (let i = 1; i <= count; i++) {
  monitor.record({
    provider: 'openai',
    model: 'gpt-4o-mini',
    inputTokens: 100 + (i % 50),
    outputTokens: 20,
    agent: tag,
    userId: `u${i % 7}`,
    threadId: `${tag}-${i}`,
    timestamp: t0 + i,
  });
  if (i % 500 === 0) await new Promise((resolve) => setImmediate(resolve));
  if (i % 5000 === 0) process.stdout.write(`recorded ${i}\n`);
}
// An app that keeps running: the queue drains once the database answers (retries back off up to 30 s).
const deadline = Date.now() + 90_000;
let sawFailure = false;
while ((monitor.health().ledger?.pending ?? 0) > 0 && Date.now() < deadline) {
  if (!monitor.health().ok) sawFailure = true;
  await new Promise((resolve) => setTimeout(resolve, 100));
}
if (sawFailure) process.stdout.write('saw the ledger failing\n');
await monitor.flush();
const health = monitor.health();
await monitor.close();
process.stdout.write(`${JSON.stringify(health)}\n`);
