// tokenmeter in one file: record calls of several providers into the ledger (SQLite in
// $TOKENMETER_DIR, else ~/.tokenmeter), watch a budget, and serve the metrics to Prometheus.
//   node examples/basic.ts          serve on 127.0.0.1:9464/metrics, a new round every 2 s, Ctrl-C to stop
//   node examples/basic.ts --once   record, scrape its own endpoint once, print, exit (used by a test)
// Then: `npx tokenmeter summary --by model`, `npx tokenmeter status`, `npx tokenmeter alerts`.
// In an app, import from 'tokenmeter'; this example imports the source so it runs without a build.
import { formatCostReport, TokenMonitor } from '../src/index.ts';

const once = process.argv.includes('--once');
const port = Number(process.env.TOKENMETER_METRICS_PORT ?? (once ? 0 : 9464));
const monitor = new TokenMonitor({
  metrics: { prometheus: { port } },
  loadConfig: false,
  // A daily budget for the demo user: a round of calls costs about $0.66, so it warns, then is exceeded.
  budgets: [{ scope: 'user', scopeId: 'demo-user', limit: 2, unit: 'usd', cycle: { kind: 'daily' } }],
});
monitor.on('alert', (a) => console.log(`ALERT ${a.level}: ${a.message}`));
await monitor.ready();

const calls = [
  {
    provider: 'openai',
    model: 'gpt-4o-2024-08-06',
    operation: 'extract_nodes',
    inputTokens: 1200,
    outputTokens: 350,
    cachedInputTokens: 1024,
  },
  {
    provider: 'anthropic',
    model: 'claude-sonnet-4-5',
    operation: 'summarise',
    inputTokens: 5200,
    outputTokens: 800,
    cachedInputTokens: 4000,
    cacheWriteTokens: 1000,
  },
  { provider: 'gemini', model: 'gemini-2.5-pro', operation: 'plan', inputTokens: 250_000, outputTokens: 2000, reasoningTokens: 1200 },
  { provider: 'openai', serviceType: 'embedding', model: 'text-embedding-3-small', operation: 'index', inputTokens: 8000 },
  { provider: 'cohere', serviceType: 'reranking', model: 'rerank-v3.5', operation: 'rerank', searchUnits: 1 },
  { provider: 'ollama', model: 'llama3.1', operation: 'draft', inputTokens: 900, outputTokens: 300 },
] as const;

function recordAll(): void {
  for (const c of calls) {
    const { record } = monitor.record({ ...c, userId: 'demo-user', agent: 'demo', durationMs: 200 + Math.random() * 2000 });
    if (record)
      console.log(
        `${record.provider.padEnd(10)} ${record.model.padEnd(24)} ${String(record.totalTokens ?? '-').padStart(7)} tokens  $${record.costUsd?.toFixed(6) ?? 'unpriced'}`,
      );
  }
}

recordAll();
for (const s of monitor.usageSummary()) console.log(`total ${s.provider}: ${s.requests} calls, $${s.costUsd.toFixed(6)}`);

if (once) {
  const body = await (await fetch(monitor.metricsUrl as string)).text();
  console.log(
    body
      .split('\n')
      .filter((l) => l.startsWith('tokenmeter_cost_usd_total'))
      .join('\n'),
  );
  await monitor.flush();
  console.log(`\n${formatCostReport(await monitor.sessionStats({ budgetUsd: 2 }))}`);
  console.log(`ledger: ${monitor.dir}/ledger.db`);
  await monitor.close();
} else {
  console.log(`\nPrometheus endpoint: ${monitor.metricsUrl} (a new round of calls every 2 s; Ctrl-C to stop)`);
  const timer = setInterval(recordAll, 2000);
  process.once('SIGINT', async () => {
    clearInterval(timer);
    await monitor.flush();
    console.log(`\n${formatCostReport(await monitor.sessionStats({ budgetUsd: 2 }))}`);
    await monitor.close();
  });
}
