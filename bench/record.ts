/**
 * The cost of `record()` beside the cost of one bare OpenTelemetry `Counter.add` (4 attributes) and
 * one prom-client `Counter.inc`, in the same run.
 */
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { Counter, Registry } from 'prom-client';
import { TokenMonitor } from '../src/index.ts';
import type { UsageInput } from '../src/usage.ts';
import { TestReader } from '../test/helpers/otel.ts';
import { measureNs, type Result } from './harness.ts';

// Eight calls, as an app with a few models, users and agents makes them; the example call.
const calls: UsageInput[] = Array.from({ length: 8 }, (_, i) => ({
  provider: i % 2 === 0 ? 'openai' : 'anthropic',
  serviceType: 'llm',
  model: i % 2 === 0 ? 'gpt-4o' : 'claude-sonnet-4-5',
  operation: i % 4 < 2 ? 'extract_nodes' : 'summarise',
  inputTokens: 1000 + i,
  outputTokens: 500,
  cachedInputTokens: 200,
  apiKey: `sk-proj-benchmarkkeybenchmarkkey-${i % 2}xyz`,
  userId: `u${i % 3}`,
  threadId: `t${i % 4}`,
  agent: i % 2 === 0 ? 'planner' : 'writer',
  durationMs: 840,
  metadata: { doc: 'a.pdf' },
}));

const attributeSets = calls.map((c) => ({ provider: c.provider, model: c.model, service_type: 'llm', operation: c.operation as string }));

export async function benchRecord(): Promise<Result[]> {
  // Every metric on: the GenAI histograms and every optional label, endpoint listening.
  // The ledger's cost is measured apart (ledger-ingest); these measure record()'s metrics path.
  const everything = new TokenMonitor({
    loadConfig: false,
    ledger: false,
    metrics: { prometheus: { port: 0 }, labels: { agent: true, userId: true, threadId: true, apiKeyId: true } },
  });
  const semconvOff = new TokenMonitor({ loadConfig: false, ledger: false, metrics: { prometheus: { port: 0 }, semconv: false } });
  await Promise.all([everything.ready(), semconvOff.ready()]);

  const sdk = new MeterProvider({ readers: [new TestReader()] });
  const otelCounter = sdk.getMeter('bench').createCounter('bench_requests');
  const registry = new Registry();
  const promCounter = new Counter({
    name: 'bench_requests_total',
    help: 'bench',
    labelNames: ['provider', 'model', 'service_type', 'operation'],
    registers: [registry],
  });

  let i = 0;
  const results = measureNs([
    {
      name: 'record',
      baseline: 'otel-counter-add',
      run: (n) => {
        for (let k = 0; k < n; k++) everything.record(calls[i++ & 7] as UsageInput);
      },
    },
    {
      name: 'record-semconv-off',
      baseline: 'otel-counter-add',
      run: (n) => {
        for (let k = 0; k < n; k++) semconvOff.record(calls[i++ & 7] as UsageInput);
      },
    },
    {
      name: 'otel-counter-add',
      run: (n) => {
        for (let k = 0; k < n; k++) otelCounter.add(1, attributeSets[i++ & 7]);
      },
    },
    {
      name: 'prom-client-inc',
      baseline: 'otel-counter-add',
      run: (n) => {
        for (let k = 0; k < n; k++) promCounter.inc(attributeSets[i++ & 7] as Record<string, string>, 1);
      },
    },
  ]);
  // The endpoint still answers with what was recorded.
  const scrape = await (await fetch(everything.metricsUrl as string)).text();
  if (!scrape.includes('tokenmeter_cost_usd_total')) throw new Error('bench: the endpoint lost the recorded series');
  await Promise.all([everything.close(), semconvOff.close(), sdk.shutdown()]);
  return results;
}
