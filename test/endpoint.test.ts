import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { METRIC, TokenMonitor } from '../src/index.ts';
import { memoryLogger } from './helpers/otel.ts';
import { parseExposition, promtoolCheck, sample } from './helpers/prometheus.ts';

const monitors: TokenMonitor[] = [];
afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.close()));
});

function monitor(prometheus: { port?: number; host?: string; endpoint?: string } = {}) {
  const log = memoryLogger();
  const m = new TokenMonitor({ loadConfig: false, logger: log, metrics: { prometheus: { port: 0, ...prometheus } } });
  monitors.push(m);
  return { m, log };
}

const labels = { provider: 'anthropic', model: 'claude-sonnet-4-5', service_type: 'llm', operation: 'summarise' };

describe('the Prometheus endpoint, scraped over real HTTP', () => {
  it('serves every metric, and promtool finds nothing wrong with it', async () => {
    const { m } = monitor();
    await m.ready();
    m.record({
      ...{ provider: 'anthropic', model: 'claude-sonnet-4-5', operation: 'summarise' },
      inputTokens: 12000,
      cachedInputTokens: 8000,
      cacheWriteTokens: 2000,
      outputTokens: 1000,
      reasoningTokens: 300,
      durationMs: 1500,
    });
    m.record({
      provider: 'anthropic',
      model: 'claude-sonnet-4-5',
      operation: 'summarise',
      error: true,
      errorType: 'rate_limit',
      durationMs: 30,
    });
    m.record({ provider: 'acme', model: 'unknown-model', inputTokens: 10, outputTokens: 10 });
    m.record({ provider: 'cohere', serviceType: 'reranking', model: 'rerank-v3.5', searchUnits: 2 });
    const res = await fetch(m.metricsUrl as string);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    const check = promtoolCheck(text);
    expect(check.output).toBe('');
    expect(check.ok).toBe(true);

    const s = parseExposition(text);
    expect(sample(s, METRIC.tokens, { ...labels, token_type: 'input' })).toBe(12000);
    expect(sample(s, METRIC.tokens, { ...labels, token_type: 'cached_input' })).toBe(8000);
    expect(sample(s, METRIC.tokens, { ...labels, token_type: 'cache_write' })).toBe(2000);
    expect(sample(s, METRIC.tokens, { ...labels, token_type: 'reasoning' })).toBe(300);
    expect(sample(s, METRIC.cost, labels)).toBeCloseTo(0.0309, 12);
    expect(sample(s, METRIC.cost, { provider: 'cohere', model: 'rerank-v3.5' })).toBeCloseTo(0.004, 12);
    expect(sample(s, METRIC.requests, { ...labels, status: 'ok' })).toBe(1);
    expect(sample(s, METRIC.requests, { ...labels, status: 'error' })).toBe(1);
    expect(sample(s, METRIC.unpriced, { provider: 'acme', model: 'unknown-model' })).toBe(1);
    expect(sample(s, METRIC.internalErrors, { component: 'record' })).toBe(0);
    expect(sample(s, `${METRIC.tokenUsage}_count`, { gen_ai_provider_name: 'anthropic', gen_ai_token_type: 'input' })).toBe(1);
    expect(sample(s, `${METRIC.tokenUsage}_bucket`, { gen_ai_provider_name: 'anthropic', gen_ai_token_type: 'input', le: '16384' })).toBe(
      1,
    );
    expect(sample(s, `${METRIC.tokenUsage}_bucket`, { gen_ai_provider_name: 'anthropic', gen_ai_token_type: 'input', le: '4096' })).toBe(0);
    expect(sample(s, `${METRIC.operationDuration}_sum`, { gen_ai_provider_name: 'anthropic', error_type: 'rate_limit' })).toBeCloseTo(
      0.03,
      10,
    );
    // Counters only grow: a second scrape after another call shows the sum.
    m.record({ provider: 'anthropic', model: 'claude-sonnet-4-5', operation: 'summarise', inputTokens: 100, outputTokens: 1 });
    const again = parseExposition(await (await fetch(m.metricsUrl as string)).text());
    expect(sample(again, METRIC.tokens, { ...labels, token_type: 'input' })).toBe(12100);
  });

  it('listens where it is told, and answers 404 elsewhere', async () => {
    const { m } = monitor({ host: '127.0.0.1', endpoint: '/internal/usage' });
    await m.ready();
    expect(m.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/internal\/usage$/);
    const url = new URL(m.metricsUrl as string);
    expect((await fetch(m.metricsUrl as string)).status).toBe(200);
    const notFound = await fetch(`${url.origin}/metrics`);
    expect(notFound.status).toBe(404);
    expect(await notFound.text()).toContain('/internal/usage');
  });

  it('starts no endpoint when told not to', async () => {
    const m = new TokenMonitor({ loadConfig: false, metrics: { prometheus: false } });
    monitors.push(m);
    await m.ready();
    expect(m.metricsUrl).toBeUndefined();
    expect(m.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 1 }).logged).toBe(true);
  });

  it('keeps recording when its port is taken: it logs the failure and counts it', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const { m, log } = monitor({ port });
      await m.ready();
      expect(m.metricsUrl).toBeUndefined();
      expect(log.lines.some((l) => l.includes(`could not listen on 127.0.0.1:${port}`))).toBe(true);
      expect(m.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 1 }).logged).toBe(true);
      const collected = await m.metricProducer!.collect();
      const internal = collected.resourceMetrics.scopeMetrics[0]!.metrics.find((d) => d.descriptor.name === 'tokenmeter_internal_errors')!;
      expect(internal.dataPoints.find((p) => p.attributes.component === 'prometheus_endpoint')?.value).toBe(1);
    } finally {
      blocker.close();
    }
  });
});
