// Manual tracking, as the Graphiti token monitor's users did it (its log_llm_usage,
// log_embedding_usage, set_provider_limit and get_usage_report): after each call whose counts you
// already have, log them; then ask for a report.
//   node examples/manual-tracking.ts [--dir <dir>]      (default: a new temp dir)
// In an app, import from 'tokenmeter'; the examples import the source so they run without a build.
import {
  closeTokenMonitor,
  getTokenMonitor,
  getUsageReport,
  logEmbeddingUsage,
  logLlmUsage,
  logRerankUsage,
  setProviderLimit,
} from '../src/index.ts';
import { cliHint, exampleDir } from './setup.ts';

const dir = exampleDir('manual-tracking');
// The process-wide monitor, made on first use; `metrics: false` because nothing scrapes a script
// that ends at once (an app keeps the default, a Prometheus endpoint on 127.0.0.1:9464).
getTokenMonitor({ dir, metrics: false });

// Kept in <dir>/config.json, as the Graphiti monitor kept it in monitor_config.json: every process
// and `tokenmeter status` see it.
setProviderLimit('anthropic', 'max_plan_tokens', 5_000_000);

// The Graphiti monitor's field names, in camelCase. The API key is never kept: only its id
// (last 4 characters and a short HMAC).
logLlmUsage({
  provider: 'anthropic',
  model: 'claude-3-sonnet',
  inputTokens: 150,
  outputTokens: 500,
  operation: 'summarize',
  apiKey: 'sk-ant-example-key-wxyz',
});
logLlmUsage({ provider: 'anthropic', model: 'claude-3-5-haiku', inputTokens: 2_400, outputTokens: 320, operation: 'extract_nodes' });
logLlmUsage({ provider: 'openai', model: 'gpt-4o', inputTokens: 1_200, outputTokens: 310, operation: 'extract_edges' });
logEmbeddingUsage({ provider: 'openai', model: 'text-embedding-3-small', inputTokens: 250, operation: 'embed_documents' });
logRerankUsage({ provider: 'cohere', model: 'rerank-v3.5', searchUnits: 1, operation: 'rerank' });
// A failed call is logged too (the seed's error and error_message).
const failed = logLlmUsage({
  provider: 'openai',
  model: 'gpt-4o',
  inputTokens: 900,
  outputTokens: 0,
  operation: 'extract_edges',
  error: true,
  errorMessage: 'rate limited (429)',
});
console.log(`logged: ${failed.logged}, cost of the failed call: $${failed.costUsd?.toFixed(6)}`);

// The seed's get_usage_report("anthropic", days=30), in its snake_case shape.
const report = await getUsageReport('anthropic', 30);
console.log(`\nanthropic, last ${report.period_days} days`);
console.log(`Total requests: ${report.total_requests}`);
console.log(`Total tokens used: ${report.total_tokens.toLocaleString('en-US')}`);
console.log(`Total cost: $${report.total_cost_usd.toFixed(6)}`);
for (const [model, t] of Object.entries(report.by_model)) {
  console.log(
    `  ${model.padEnd(20)} ${String(t.requests).padStart(3)} calls ${String(t.total_tokens).padStart(7)} tokens  $${t.cost_usd.toFixed(6)}`,
  );
}

// And across every provider: totals, and how much of each subscription limit is used.
const full = await getUsageReport();
console.log(
  `\nAll providers: ${full.summary.total_requests} requests, ${full.summary.total_tokens.toLocaleString('en-US')} tokens, $${full.summary.total_cost_usd.toFixed(6)}`,
);
for (const [provider, p] of Object.entries(full.by_provider)) {
  console.log(`  ${provider.padEnd(10)} ${String(p.total_requests).padStart(3)} requests  $${p.total_cost_usd.toFixed(6)}`);
}
for (const [provider, info] of Object.entries(full.subscription_status)) {
  console.log(
    `${provider}: ${info.percentage_used.toFixed(1)}% used (${info.used.toLocaleString('en-US')} of ${info.limit.toLocaleString('en-US')} ${info.unit})`,
  );
}

await closeTokenMonitor(); // writes what is still queued to the ledger
console.log(`\nThe ledger is in ${dir}: ${cliHint(dir, 'summary --by model')}`);
