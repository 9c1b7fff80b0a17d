// A process that records usage into a PostgreSQL ledger and then ends without closing the monitor,
// for the exit tests. argv: <url> <count> <how>: `end` lets the event loop run out, `exit` calls
// process.exit(0), `signal` prints "ready" and waits to be stopped by SIGTERM.
import { TokenMonitor } from '../../src/index.ts';

const [url = '', countArg, how = 'end'] = process.argv.slice(2);
const monitor = new TokenMonitor({ ledger: { url }, metrics: false, loadConfig: false, logLevel: 'error' });
for (let i = 0; i < Number(countArg); i++)
  monitor.record({ provider: 'openai', model: 'gpt-4o-mini', inputTokens: 10, outputTokens: 2, timestamp: Date.UTC(2026, 10, 1) + i });
if (how === 'exit') process.exit(0);
if (how === 'signal') {
  setInterval(() => {}, 1000);
  process.stdout.write('ready\n');
}
