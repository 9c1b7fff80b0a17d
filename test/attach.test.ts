import { metrics } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { INSTRUMENT, TokenMonitor } from '../src/index.ts';
import { histograms, pointValue, sums, TestReader } from './helpers/otel.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  metrics.disable();
});

const call = {
  provider: 'mistral',
  model: 'mistral-large-latest',
  operation: 'answer',
  inputTokens: 10000,
  outputTokens: 1000,
  durationMs: 1200,
};

describe('attaching to the user’s own MeterProvider', () => {
  it('reports through it and starts no endpoint of its own', async () => {
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    const m = new TokenMonitor({ loadConfig: false, metrics: { meterProvider: provider } });
    cleanups.push(
      () => m.close(),
      () => provider.shutdown(),
    );
    await m.ready();
    expect(m.metricsUrl).toBeUndefined();
    m.record(call);
    m.record(call);
    const data = await reader.metrics();
    expect(pointValue(sums(data, INSTRUMENT.cost), { model: 'mistral-large-latest' })).toBeCloseTo(0.052, 12);
    expect(pointValue(sums(data, INSTRUMENT.tokens), { token_type: 'input' })).toBe(20000);
    const usage = histograms(data, INSTRUMENT.tokenUsage).find((p) => p.attributes['gen_ai.token.type'] === 'input')!;
    expect(usage.value.count).toBe(2);
    expect(usage.value.buckets.boundaries[0]).toBe(1);
    expect(usage.attributes['gen_ai.provider.name']).toBe('mistral_ai');
    expect(histograms(data, INSTRUMENT.operationDuration)[0]!.value.sum).toBeCloseTo(2.4, 10);
  });

  it('uses the global MeterProvider a NodeSDK registered', async () => {
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    metrics.setGlobalMeterProvider(provider);
    const m = new TokenMonitor({ loadConfig: false, metrics: { meterProvider: 'global' } });
    cleanups.push(
      () => m.close(),
      () => provider.shutdown(),
    );
    m.record(call);
    expect(pointValue(sums(await reader.metrics(), INSTRUMENT.requests), { status: 'ok' })).toBe(1);
  });
});
