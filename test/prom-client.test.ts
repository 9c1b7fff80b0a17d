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
  it('puts the same series in an existing Registry as the built-in endpoint serves, budget gauges included', async () => {
    const m = new TokenMonitor({
      loadConfig: false,
      ledger: false,
      logLevel: 'error',
      metrics: { prometheus: { port: 0 } },
      // A budget of each unit, and a per-user one, all past their thresholds by the calls below.
      budgets: [
        { scope: 'user', scopeId: 'alice', limit: 0.002, unit: 'usd', cycle: { kind: 'daily' } },
        { scope: 'global', limit: 10_000, unit: 'tokens', cycle: { kind: 'monthly', resetDay: 1 }, thresholds: { warning: 0.5 } },
        { scope: 'user', scopeId: '*', limit: 5000, unit: 'tokens', cycle: { kind: 'rolling', days: 7 } },
      ],
    });
    monitors.push(m);
    m.setLimit('openai', 'monthly_limit', 100);
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
      userId: 'alice',
    });
    m.record({ provider: 'openai', model: 'gpt-4o-mini', operation: 'classify', error: true, errorType: 'http_500', durationMs: 50 });
    // No price known: counted in tokenmeter_unpriced_requests_total.
    m.record({ provider: 'openai', model: 'in-house-model', inputTokens: 10, outputTokens: 2, userId: 'bob' });

    const bridged = await registry.metrics();
    expect(promtoolCheck(bridged)).toEqual({ ok: true, output: '' });
    const endpoint = await (await fetch(m.metricsUrl as string)).text();
    // Every sample, by name, labels and value (the registry's default label aside). target_info is
    // the endpoint's own: in a prom-client app the app says what it is.
    const series = (samples: ReturnType<typeof parseExposition>) =>
      samples
        .filter((s) => s.name !== 'target_info')
        .map((s) => {
          const { app: _app, ...labels } = s.labels;
          return JSON.stringify([s.name, Object.entries(labels).sort(), s.value]);
        })
        .sort();
    const families = (text: string) =>
      text
        .split('\n')
        .filter((l) => /^# (HELP|TYPE) /.test(l) && !l.includes(' target_info '))
        .sort();
    expect(series(parseExposition(bridged))).toEqual(series(parseExposition(endpoint)));
    expect(families(bridged)).toEqual(families(endpoint));

    const s = parseExposition(bridged);
    expect(sample(s, METRIC.cost, { model: 'gpt-4o-mini', app: 'checkout' })).toBeCloseTo(0.0018, 12);
    expect(sample(s, METRIC.unpriced, { model: 'in-house-model' })).toBe(1);
    expect(sample(s, METRIC.internalErrors, { component: 'record' })).toBe(0);
    expect(sample(s, `${METRIC.operationDuration}_bucket`, { error_type: 'http_500', le: '+Inf' })).toBe(1);
    // What the budget alerts compare: used over limit, against the warning and critical ratios.
    const ratio = (match: Record<string, string>) =>
      (sample(s, METRIC.budgetUsed, match) as number) / (sample(s, METRIC.budgetLimit, match) as number);
    expect(ratio({ budget: 'user:alice', unit: 'usd' })).toBeCloseTo(0.9, 9);
    expect(sample(s, METRIC.budgetWarningRatio, { budget: 'user:alice' })).toBe(0.8);
    expect(ratio({ budget: 'global', unit: 'tokens' })).toBeCloseTo(1.1012, 9);
    expect(sample(s, METRIC.budgetWarningRatio, { budget: 'global' })).toBe(0.5);
    expect(ratio({ budget: 'user:*', scope_id: 'alice', unit: 'tokens' })).toBeCloseTo(2.2, 9);
    expect(sample(s, METRIC.budgetLimit, { budget: 'provider:openai:monthly_limit' })).toBe(100);
    expect(sample(s, METRIC.budgetWindowEnd, { budget: 'user:alice' })).toBeGreaterThan(Date.now() / 1000);
    expect(bridged).toContain('# TYPE tokenmeter_tokens_total counter');
    expect(bridged).toContain('# TYPE tokenmeter_budget_used gauge');
    expect(bridged).toContain('# TYPE gen_ai_client_token_usage histogram');
  });

  it('refuses a monitor that keeps no metrics', () => {
    const m = new TokenMonitor({ loadConfig: false, metrics: false });
    monitors.push(m);
    expect(() => registerTokenmeterMetrics(m, new Registry())).toThrow('has no metrics');
  });
});
