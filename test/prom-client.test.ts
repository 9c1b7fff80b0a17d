import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { METRIC, TokenMonitor } from '../src/index.ts';
import { registerTokenmeterMetrics } from '../src/metrics/prom-client.ts';
import { parseExposition, promtoolCheck, sample } from './helpers/prometheus.ts';

const monitors: TokenMonitor[] = [];
afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.close()));
});

describe('tokenmeter/prom-client', () => {
  it('puts the same series in an existing Registry as the built-in endpoint serves', async () => {
    const m = new TokenMonitor({ loadConfig: false, metrics: { prometheus: { port: 0 } } });
    monitors.push(m);
    await m.ready();
    const registry = new Registry();
    registry.setDefaultLabels({ app: 'checkout' });
    registerTokenmeterMetrics(m, registry);
    m.record({
      provider: 'openai',
      model: 'gpt-4o-mini',
      operation: 'classify',
      inputTokens: 10000,
      cachedInputTokens: 4000,
      outputTokens: 1000,
      durationMs: 300,
    });
    m.record({ provider: 'openai', model: 'gpt-4o-mini', operation: 'classify', error: true, errorType: 'http_500', durationMs: 50 });

    const bridged = await registry.metrics();
    expect(promtoolCheck(bridged)).toEqual({ ok: true, output: '' });
    const endpoint = await (await fetch(m.metricsUrl as string)).text();
    const strip = (samples: ReturnType<typeof parseExposition>) =>
      samples
        .filter((s) => s.name.startsWith('tokenmeter_') || s.name.startsWith('gen_ai_'))
        .map((s) => {
          const { app: _app, ...labels } = s.labels;
          return JSON.stringify([s.name, Object.entries(labels).sort(), s.value]);
        })
        .sort();
    expect(strip(parseExposition(bridged))).toEqual(strip(parseExposition(endpoint)));
    const s = parseExposition(bridged);
    expect(sample(s, METRIC.cost, { model: 'gpt-4o-mini', app: 'checkout' })).toBeCloseTo(0.0018, 12);
    expect(sample(s, `${METRIC.operationDuration}_bucket`, { error_type: 'http_500', le: '+Inf' })).toBe(1);
    expect(bridged).toContain('# TYPE tokenmeter_tokens_total counter');
    expect(bridged).toContain('# TYPE gen_ai_client_token_usage histogram');
  });

  it('carries the budget gauges too, as the endpoint serves them', async () => {
    const m = new TokenMonitor({
      loadConfig: false,
      ledger: false,
      metrics: { prometheus: { port: 0 } },
      budgets: [{ scope: 'user', scopeId: 'alice', limit: 10, unit: 'usd', cycle: { kind: 'daily' } }],
    });
    monitors.push(m);
    await m.ready();
    const registry = new Registry();
    registerTokenmeterMetrics(m, registry);
    m.record({ provider: 'openai', model: 'gpt-4o-mini', inputTokens: 10000, outputTokens: 1000, userId: 'alice' });
    const budget = (samples: ReturnType<typeof parseExposition>) =>
      samples
        .filter((s) => s.name.startsWith('tokenmeter_budget_'))
        .map((s) => JSON.stringify([s.name, Object.entries(s.labels).sort(), s.value]))
        .sort();
    const bridged = await registry.metrics();
    expect(promtoolCheck(bridged)).toEqual({ ok: true, output: '' });
    const endpoint = parseExposition(await (await fetch(m.metricsUrl as string)).text());
    expect(budget(endpoint)).toHaveLength(5);
    expect(budget(parseExposition(bridged))).toEqual(budget(endpoint));
    expect(sample(parseExposition(bridged), METRIC.budgetLimit, { scope: 'user', scope_id: 'alice' })).toBe(10);
    expect(bridged).toContain('# TYPE tokenmeter_budget_used gauge');
  });

  it('refuses a monitor that keeps no metrics', () => {
    const m = new TokenMonitor({ loadConfig: false, metrics: false });
    monitors.push(m);
    expect(() => registerTokenmeterMetrics(m, new Registry())).toThrow('has no metrics');
  });
});
