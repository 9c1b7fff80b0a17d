// A daily cost report, as ASTRA's daily_cost_report and generate_cost_report printed it: cost by
// day split by model over the last week, then each model's requests, tokens and cost over 30 days.
// Run it from a scheduler (cron, a systemd timer) over your own ledger, or ask the CLI:
// `tokenmeter summary --by day -d 7` and `tokenmeter summary --by model`.
//   node examples/daily-report.ts [--dir <dir>]      (default: a new temp dir, filled with a week of calls)
import { TokenMonitor } from '../src/index.ts';
import { cliHint, exampleDir } from './setup.ts';

const dir = exampleDir('daily-report');
const monitor = new TokenMonitor({ dir, metrics: false });

// A week of calls, recorded as an app's calls would have been (record() takes the call's time).
const DAY = 86_400_000;
const now = Date.now();
for (let daysAgo = 6; daysAgo >= 0; daysAgo--) {
  const calls = [
    ...Array.from({ length: 2 + (daysAgo % 3) }, () => ['openai', 'gpt-4o', 1_800, 450] as const),
    ...Array.from({ length: 5 }, () => ['openai', 'gpt-4o-mini', 3_000, 700] as const),
    ...(daysAgo % 2 === 0 ? [['anthropic', 'claude-sonnet-4-5', 4_200, 900] as const] : []),
  ];
  calls.forEach(([provider, model, input, output], i) => {
    const at = now - daysAgo * DAY - (i + 1) * 600_000; // ten minutes apart, before now
    monitor.record({ provider, model, inputTokens: input + i * 10, outputTokens: output, operation: 'chat', timestamp: at });
  });
}

// Cost by day (UTC), one column per model.
const week = await monitor.daily({ days: 7, by: 'model' });
const models = week.series.map((s) => s.key ?? '(none)');
console.log('Daily cost, last 7 days (UTC)');
console.log(['day       ', ...models.map((m) => m.padStart(18)), '     total'].join(' '));
week.days.forEach((day, i) => {
  const costs = week.series.map((s) => s.costUsd[i] ?? 0);
  const total = costs.reduce((a, b) => a + b, 0);
  console.log([day, ...costs.map((c) => `$${c.toFixed(6)}`.padStart(18)), `$${total.toFixed(6)}`].join(' '));
});
console.log(`week: ${week.total.requests} requests, $${week.total.costUsd.toFixed(6)}`);

// ASTRA's "Token Usage Report (Last 30 Days)".
const month = await monitor.summary({ days: 30, by: 'model' });
console.log('\n📊 Token Usage Report (Last 30 Days)');
console.log('='.repeat(60));
for (const row of month.rows) {
  console.log(`\n${row.key}:`);
  console.log(`  Requests: ${row.requests.toLocaleString('en-US')}`);
  console.log(`  Tokens: ${row.totalTokens.toLocaleString('en-US')}`);
  console.log(`  Cost: $${row.costUsd.toFixed(6)}`);
}
console.log(`\n${'='.repeat(60)}`);
console.log(`Total Cost: $${month.total.costUsd.toFixed(6)}`);

await monitor.close();
console.log(`\nThe same from the CLI: ${cliHint(dir, 'summary --by day -d 7')}`);
