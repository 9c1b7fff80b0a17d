import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { defaultResource } from '@opentelemetry/resources';
import { DataPointType, MeterProvider } from '@opentelemetry/sdk-metrics';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryLogger, TestReader } from '../../test/helpers/otel.ts';
import { parseExposition } from '../../test/helpers/prometheus.ts';
import { TokenMonitor, type TokenMonitorOptions } from '../monitor.ts';
import type { UsageInput } from '../usage.ts';
import { Aggregator } from './aggregator.ts';
import { CARDINALITY_DEFAULTS, MAX_CAP } from './cardinality.ts';
import { expositionChunks, serveExposition } from './exposition.ts';
import { METRIC } from './names.ts';
import { registerTokenmeterMetrics } from './prom-client.ts';

const monitors: TokenMonitor[] = [];
afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.close()));
});

type Samples = ReturnType<typeof parseExposition>;

/** Samples that share their name and labels with an earlier one: Prometheus keeps the first and drops these. */
function duplicates(samples: Samples): string[] {
  const seen = new Set<string>();
  const dup: string[] = [];
  for (const s of samples) {
    const key = `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`;
    if (seen.has(key)) dup.push(key);
    seen.add(key);
  }
  return dup;
}

const total = (samples: Samples, name: string, match: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);

const base = { provider: 'openai', model: 'gpt-4o', inputTokens: 100, outputTokens: 10, durationMs: 250 };

/**
 * Calls whose label sets map onto the same exported series: operations that all become
 * gen_ai.operation.name "chat", a model with and without (and with another) request model,
 * providers that share a gen_ai.provider.name, users that only tokenmeter's labels tell apart,
 * capped values beside a literal `_other`, overflow label sets, and error types past their cap.
 */
function collidingCalls(): UsageInput[] {
  const calls: UsageInput[] = [
    { ...base, operation: 'extract_nodes' },
    { ...base, operation: 'summarise' },
    { ...base },
    { ...base, operation: 'chat' },
    { ...base, operation: 'summarise', requestModel: 'gpt-4o' },
    { ...base, operation: 'summarise', requestModel: 'gpt-4o-2024-08-06' },
    { ...base, operation: 'summarise', requestModel: 'gpt-4o-2024-11-20' },
    { ...base, provider: 'azure_openai' },
    { ...base, provider: 'azure.ai.openai' },
    { ...base, serviceType: 'embedding', operation: 'chat' },
    { ...base, userId: 'u1' },
    { ...base, userId: 'u2' },
  ];
  // Past the per-label cap of 4: these models fold into `_other`, beside one literally named so.
  for (const model of ['m1', 'm2', 'm3', 'm4', '_other', 'm5']) calls.push({ ...base, model }, { ...base, model, requestModel: model });
  // Error types: six on one model's operations, past the four kept per series.
  for (const [i, operation] of ['extract_nodes', 'summarise', 'plan'].entries())
    for (let e = 0; e < 6; e++) calls.push({ ...base, operation, error: true, errorType: `http_${500 + ((e + i) % 6)}` });
  // Past the label-set cap: new sets fold into the overflow set, with and without a request model.
  for (let i = 0; i < 20; i++) {
    calls.push({
      ...base,
      provider: 'anthropic',
      model: `claude-${i % 3}`,
      operation: i % 2 ? 'chat' : 'embeddings',
      requestModel: `r${i}`,
    });
    calls.push({ ...base, provider: 'anthropic', model: `claude-${i % 3}`, operation: `op-${i}` });
  }
  return calls;
}

function monitor(extra: TokenMonitorOptions['metrics'] = {}): TokenMonitor {
  const m = new TokenMonitor({
    loadConfig: false,
    ledger: false,
    logger: memoryLogger(),
    metrics: { prometheus: { port: 0 }, labels: { userId: true }, maxValuesPerLabel: 4, maxLabelSets: 30, ...extra },
  });
  monitors.push(m);
  return m;
}

/** Checks that the samples hold every call once: requests, tokens, cost and the histograms' counts. */
function expectEveryCall(s: Samples, calls: UsageInput[], costUsd: number): void {
  expect(duplicates(s)).toEqual([]);
  expect(total(s, METRIC.requests)).toBe(calls.length);
  expect(total(s, METRIC.requests, { status: 'error' })).toBe(calls.filter((c) => c.error).length);
  expect(total(s, METRIC.tokens, { token_type: 'input' })).toBe(calls.length * base.inputTokens);
  expect(total(s, METRIC.cost)).toBeCloseTo(costUsd, 12);
  expect(total(s, `${METRIC.operationDuration}_count`)).toBe(calls.length);
  expect(total(s, `${METRIC.operationDuration}_bucket`, { le: '+Inf' })).toBe(calls.length);
  expect(total(s, `${METRIC.operationDuration}_sum`)).toBeCloseTo(calls.length * 0.25, 9);
  expect(total(s, `${METRIC.tokenUsage}_count`, { gen_ai_token_type: 'input' })).toBe(calls.length);
  expect(total(s, `${METRIC.tokenUsage}_sum`, { gen_ai_token_type: 'output' })).toBe(calls.length * base.outputTokens);
}

describe('every exported series is unique, and holds every call', () => {
  it('in the Prometheus endpoint’s exposition', async () => {
    const m = monitor();
    await m.ready();
    const calls = collidingCalls();
    let cost = 0;
    for (const c of calls) cost += m.record(c).costUsd ?? 0;
    const s = parseExposition(await (await fetch(m.metricsUrl as string)).text());
    expectEveryCall(s, calls, cost);
    // The two operations of one model are one semantic-convention series.
    const sem = { gen_ai_provider_name: 'openai', gen_ai_request_model: 'gpt-4o', gen_ai_response_model: 'gpt-4o' };
    expect(total(s, `${METRIC.operationDuration}_count`, { ...sem, gen_ai_operation_name: 'chat' })).toBeGreaterThan(8);
  });

  it('through the producer: OTLP, your own PrometheusExporter and the prom-client bridge', async () => {
    const m = monitor({ prometheus: false });
    const calls = collidingCalls();
    let cost = 0;
    for (const c of calls) cost += m.record(c).costUsd ?? 0;
    const { resourceMetrics } = await (m.metricProducer as NonNullable<typeof m.metricProducer>).collect();
    // Each data point of a metric has its own attributes (what OTLP carries).
    for (const metric of resourceMetrics.scopeMetrics.flatMap((x) => x.metrics)) {
      const keys = metric.dataPoints.map((p) => JSON.stringify(Object.entries(p.attributes).sort()));
      expect(keys.length, metric.descriptor.name).toBe(new Set(keys).size);
    }
    const serialized = new PrometheusSerializer(undefined, false, undefined, true, true).serialize(resourceMetrics);
    expectEveryCall(parseExposition(serialized), calls, cost);
    const registry = new Registry();
    registerTokenmeterMetrics(m, registry);
    expectEveryCall(parseExposition(await registry.metrics()), calls, cost);
  });

  it('through your own MeterProvider', async () => {
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    const m = monitor({ meterProvider: provider });
    const calls = collidingCalls();
    let cost = 0;
    for (const c of calls) cost += m.record(c).costUsd ?? 0;
    const { resourceMetrics } = await reader.collect();
    const serialized = new PrometheusSerializer(undefined, false, undefined, true, true).serialize(resourceMetrics);
    expectEveryCall(parseExposition(serialized), calls, cost);
    for (const metric of resourceMetrics.scopeMetrics.flatMap((x) => x.metrics)) {
      if (metric.dataPointType === DataPointType.HISTOGRAM) continue;
      const keys = metric.dataPoints.map((p) => JSON.stringify(Object.entries(p.attributes).sort()));
      expect(keys.length, metric.descriptor.name).toBe(new Set(keys).size);
    }
    await provider.shutdown();
  });
});

describe('counts a provider did not report', () => {
  it('are not exported as 0 tokens: a rerank shows requests but no token series, in every export path', async () => {
    const m = monitor();
    await m.ready();
    m.record({ provider: 'cohere', model: 'rerank-v3.5', serviceType: 'reranking', operation: 'rerank', searchUnits: 1 });
    m.record({ ...base, outputTokens: 0 });
    const rerank = { provider: 'cohere', model: 'rerank-v3.5' };
    const check = (s: Samples) => {
      expect(total(s, METRIC.requests, rerank)).toBe(1);
      expect(s.filter((x) => x.name === METRIC.tokens && x.labels.provider === 'cohere')).toEqual([]);
      // A reported 0 is a count: exported.
      expect(s.filter((x) => x.name === METRIC.tokens && x.labels.provider === 'openai' && x.labels.token_type === 'output')).toHaveLength(
        1,
      );
    };
    check(parseExposition(await (await fetch(m.metricsUrl as string)).text()));
    const { resourceMetrics } = await (m.metricProducer as NonNullable<typeof m.metricProducer>).collect();
    check(parseExposition(new PrometheusSerializer(undefined, false, undefined, true, true).serialize(resourceMetrics)));
    const registry = new Registry();
    registerTokenmeterMetrics(m, registry);
    check(parseExposition(await registry.metrics()));
  });
});

describe('budget gauges', () => {
  it('of budgets over the same scope, window and unit are told apart by their budget label, each exported once', async () => {
    const m = new TokenMonitor({
      loadConfig: false,
      ledger: false,
      metrics: { prometheus: { port: 0 } },
      budgets: [
        { scope: 'provider', scopeId: 'openai', limit: 10, unit: 'usd' },
        { scope: 'user', scopeId: '*', limit: 5, unit: 'usd' },
        { scope: 'user', scopeId: 'alice', limit: 3, unit: 'usd' },
      ],
    });
    monitors.push(m);
    // Same scope, scope_id, window and unit as the provider budget above.
    m.setLimit('openai', 'monthly_limit', 100);
    await m.ready();
    m.record({ ...base, userId: 'alice' });
    const s = parseExposition(await (await fetch(m.metricsUrl as string)).text());
    expect(duplicates(s)).toEqual([]);
    const limits = s.filter((x) => x.name === METRIC.budgetLimit);
    expect(Object.fromEntries(limits.map((x) => [`${x.labels.scope_id} ${x.labels.budget}`, x.value]))).toEqual({
      'openai provider:openai': 10,
      'openai provider:openai:monthly_limit': 100,
      'alice user:*': 5,
      'alice user:alice': 3,
    });
    expect(total(s, METRIC.internalErrors, { component: 'budget_gauges' })).toBe(0);
    const { resourceMetrics } = await (m.metricProducer as NonNullable<typeof m.metricProducer>).collect();
    for (const metric of resourceMetrics.scopeMetrics.flatMap((x) => x.metrics)) {
      const keys = metric.dataPoints.map((p) => JSON.stringify(Object.entries(p.attributes).sort()));
      expect(keys.length, metric.descriptor.name).toBe(new Set(keys).size);
    }
  });

  it('that still share every label are exported once, counted in tokenmeter_internal_errors_total and warned about', () => {
    const warned: string[] = [];
    const agg = new Aggregator({ semconv: true, labels: {}, cardinality: CARDINALITY_DEFAULTS, onCap: (_w, msg) => warned.push(msg) });
    const gauge = (limit: number) => ({
      attributes: { scope: 'user', scope_id: 'bob', window: 'monthly', unit: 'usd', budget: 'user:bob' },
      limit,
      used: 1,
      warning: 0.8,
      critical: 0.95,
      windowEnd: null,
    });
    agg.budgetGauges = () => [gauge(1), gauge(2), gauge(3)];
    for (let scrape = 0; scrape < 2; scrape++) {
      const s = parseExposition([...expositionChunks(agg)].join(''));
      expect(duplicates(s)).toEqual([]);
      expect(s.filter((x) => x.name === METRIC.budgetLimit).map((x) => x.value)).toEqual([1]);
      // Each label set that could not be exported is counted once, however many scrapes.
      expect(total(s, METRIC.internalErrors, { component: 'budget_gauges' })).toBe(1);
    }
    expect(warned.filter((l) => l.includes('budget gauges with the same labels'))).toHaveLength(1);
  });
});

describe('the exposition', () => {
  it('is what @opentelemetry/exporter-prometheus writes for the same data', async () => {
    const m = monitor();
    m.setLimit('openai', 'monthly_limit', 100);
    await m.ready();
    for (const c of collidingCalls()) m.record(c);
    m.record({ ...base, operation: 'quote"back\\slash\nnewline', cacheWriteTokens: 3, reasoningTokens: 2 });
    m.record({ provider: 'acme', model: 'unpriced', inputTokens: 1 });
    const res = await fetch(m.metricsUrl as string);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    const { resourceMetrics } = await (m.metricProducer as NonNullable<typeof m.metricProducer>).collect();
    const reference = new PrometheusSerializer(undefined, false, undefined, true, true).serialize(resourceMetrics);
    const withoutTarget = (t: string) => t.replace(/^.*target_info.*\n/gm, '');
    expect(withoutTarget(text)).toBe(reference);
    // target_info: the monitor's resource, as exporter-prometheus writes it.
    const targetLines = (t: string) => t.split('\n').filter((l) => l.includes('target_info'));
    const withTarget = new PrometheusSerializer(undefined, false, undefined, false, true).serialize(resourceMetrics);
    expect(targetLines(text)).toEqual(targetLines(withTarget));
    expect(text).toMatch(
      /^target_info\{service_instance_id="[0-9a-f-]{36}",service_name="unknown_service:[^"]*",.*telemetry_sdk_name="opentelemetry".*\} 1$/m,
    );
  });
});

describe('the caps', () => {
  it('refuses caps above the maximum, naming the option, its value and the maximum', () => {
    for (const key of ['maxLabelSets', 'maxValuesPerLabel'] as const) {
      expect(() => new TokenMonitor({ loadConfig: false, ledger: false, metrics: { prometheus: false, [key]: MAX_CAP + 1 } })).toThrow(
        expect.objectContaining({
          name: 'ValidationError',
          field: `metrics.${key}`,
          value: MAX_CAP + 1,
          message: expect.stringContaining(`Invalid metrics.${key}: ${MAX_CAP + 1} (the maximum is ${MAX_CAP}`),
        }),
      );
    }
    expect(() => new TokenMonitor({ loadConfig: false, ledger: false, metrics: { prometheus: false, maxLabelSets: 100_000 } })).toThrow(
      'Invalid metrics.maxLabelSets: 100000 (the maximum is 10000',
    );
    // The maximum itself is accepted.
    monitors.push(
      new TokenMonitor({
        loadConfig: false,
        ledger: false,
        metrics: { prometheus: false, maxLabelSets: MAX_CAP, maxValuesPerLabel: MAX_CAP },
      }),
    );
  });
});

describe('a scrape that fails part way', () => {
  it('fails the HTTP response, so Prometheus records a failed scrape rather than a page cut short, and reports it', async () => {
    const agg = new Aggregator({ semconv: true, labels: {}, cardinality: CARDINALITY_DEFAULTS, onCap: () => undefined });
    agg.budgetGauges = () => {
      throw new Error('budget state unreadable');
    };
    const errors: unknown[] = [];
    const server = createServer((req, res) => serveExposition(agg, req, res, defaultResource(), (e) => errors.push(e)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
      // The connection is cut: no complete 200 response reaches the scraper.
      await expect((async () => (await fetch(url)).text())()).rejects.toThrow();
      expect(String(errors[0])).toContain('budget state unreadable');
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
