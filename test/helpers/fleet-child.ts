// One app process of a fleet, for test/fleet-metrics.test.ts: a TokenMonitor with its own
// Prometheus endpoint (port 0) that records a steady load, `factor` times the base spend, every 250 ms.
// argv: <instance id> <factor> <with anthropic: 0|1>
// Prints {"url": ...} once listening; on stdin "stop" it stops recording and prints its totals
// as JSON ({"costUsd", "calls", "budgetUsed"}); on "exit" it closes and exits.
import { createInterface } from 'node:readline';
import { TokenMonitor } from '../../src/index.ts';

const [instance = 'a', factorArg = '1', anthropicArg = '0'] = process.argv.slice(2);
const factor = Number(factorArg);
const monitor = new TokenMonitor({
  loadConfig: false,
  ledger: false,
  logLevel: 'error',
  env: { OTEL_SERVICE_NAME: 'checkout' },
  metrics: { prometheus: { port: 0 }, serviceInstanceId: instance, labels: { userId: true } },
  // The same budget in every process (per process today: each reports its own spend).
  budgets: [{ scope: 'global', limit: 1000, unit: 'usd', cycle: { kind: 'daily' } }],
});
await monitor.ready();

let costUsd = 0;
let calls = 0;
let n = 0;
const tick = () => {
  n++;
  for (let i = 0; i < factor; i++) {
    const user = ['alice', 'bob'][(n + i) % 2] as string;
    const r = monitor.record({
      provider: 'openai',
      model: 'gpt-4o',
      inputTokens: 1000,
      outputTokens: 200,
      durationMs: 500,
      error: (n + i) % 4 === 0,
      userId: user,
    });
    costUsd += r.costUsd ?? 0;
    calls++;
    if (anthropicArg === '1') {
      const e = monitor.record({
        provider: 'anthropic',
        model: 'claude-sonnet-4-5',
        inputTokens: 3000,
        outputTokens: 400,
        durationMs: 900,
        error: n % 3 === 0,
        userId: user,
      });
      costUsd += e.costUsd ?? 0;
      calls++;
    }
    monitor.record({ provider: 'acme', model: 'tokenmeter-test-unpriced-model', inputTokens: 10, durationMs: 100, userId: user });
    calls++;
  }
};
tick();
const timer = setInterval(tick, 250);
process.stdout.write(`${JSON.stringify({ url: monitor.metricsUrl })}\n`);

for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'stop') {
    clearInterval(timer);
    const budget = monitor.status().find((b) => b.scope === 'global');
    process.stdout.write(`${JSON.stringify({ costUsd, calls, budgetUsed: budget?.used })}\n`);
  } else if (line === 'exit') {
    clearInterval(timer);
    await monitor.close();
    process.exit(0);
  }
}
