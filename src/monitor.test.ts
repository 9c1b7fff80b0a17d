import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Meter, MeterProvider } from '@opentelemetry/api';
import { MeterProvider as SdkMeterProvider } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryLogger, pointValue, readerFor, sums, TestReader } from '../test/helpers/otel.ts';
import { ValidationError } from './errors.ts';
import { closeTokenMonitor, getTokenMonitor, logEmbeddingUsage, logLlmUsage, logRerankUsage } from './global.ts';
import { INSTRUMENT } from './metrics/names.ts';
import { TokenMonitor, type TokenMonitorOptions } from './monitor.ts';

const monitors: TokenMonitor[] = [];
afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.close()));
  await closeTokenMonitor();
});

function monitor(options: TokenMonitorOptions = {}) {
  const log = memoryLogger();
  const m = new TokenMonitor({ loadConfig: false, logger: log, metrics: { prometheus: false }, ...options });
  monitors.push(m);
  const reader = readerFor(m.metricProducer);
  return { m, reader, log };
}

const call = {
  provider: 'openai',
  serviceType: 'llm' as const,
  model: 'gpt-4o',
  operation: 'extract_nodes',
  inputTokens: 1000,
  outputTokens: 500,
  cachedInputTokens: 200,
  apiKey: 'sk-proj-abcdefghijklmnopqrstuvwxyz',
  userId: 'u1',
  threadId: 't1',
  agent: 'planner',
  durationMs: 840,
  metadata: { doc: 'a.pdf' },
};

describe('TokenMonitor.record', () => {
  it('returns what it logged, the cost, a running summary and no alerts', () => {
    const { m } = monitor();
    const first = m.record(call);
    expect(first.logged).toBe(true);
    expect(first.costUsd).toBe(0.00725);
    expect(first.record).toMatchObject({
      provider: 'openai',
      model: 'gpt-4o',
      totalTokens: 1500,
      costUsd: 0.00725,
      costPicoUsd: 7_250_000_000,
      metadata: { doc: 'a.pdf' },
    });
    expect(first.record?.apiKeyId).toMatch(/^wxyz-[0-9a-f]{8}$/);
    expect(JSON.stringify(first)).not.toContain('abcdefghij');
    expect(first.alerts).toEqual([]);
    const second = m.record(call);
    expect(second.usageSummary).toMatchObject({
      provider: 'openai',
      requests: 2,
      inputTokens: 2000,
      outputTokens: 1000,
      totalTokens: 3000,
      costUsd: 0.0145,
    });
  });

  it('throws a ValidationError on bad input and keeps everything recorded before', async () => {
    const { m, reader } = monitor();
    m.record(call);
    expect(() => m.record({ ...call, inputTokens: -5 })).toThrow(ValidationError);
    expect(() => m.record({ ...call, cachedInputTokens: 5000 })).toThrow('Invalid cachedInputTokens: 5000');
    expect(m.usageSummary('openai')).toMatchObject({ requests: 1, inputTokens: 1000 });
    const requests = sums(await reader.metrics(), INSTRUMENT.requests);
    expect(pointValue(requests, { status: 'ok' })).toBe(1);
  });

  it('records an unpriced model with costUsd null, counts it, and warns once per model', async () => {
    const { m, reader, log } = monitor();
    const r = m.record({ provider: 'acme', model: 'acme-9', inputTokens: 10, outputTokens: 1 });
    m.record({ provider: 'acme', model: 'acme-9', inputTokens: 10, outputTokens: 1 });
    m.record({ provider: 'acme', model: 'acme-10', inputTokens: 10, outputTokens: 1 });
    expect(r.costUsd).toBeNull();
    expect(r.record?.costUsd).toBeNull();
    expect(m.usageSummary('acme')).toMatchObject({ requests: 3, unpricedRequests: 3, costUsd: 0 });
    const unpriced = sums(await reader.metrics(), INSTRUMENT.unpriced);
    expect(pointValue(unpriced, { model: 'acme-9' })).toBe(2);
    expect(pointValue(unpriced, { model: 'acme-10' })).toBe(1);
    expect(log.lines.filter((l) => l.includes('no price known'))).toHaveLength(2);
  });

  it('uses a price set after the model was first seen', () => {
    const { m } = monitor();
    expect(m.record({ provider: 'acme', model: 'acme-9', inputTokens: 1_000_000 }).costUsd).toBeNull();
    m.setPrice('acme-9', { input: 4 });
    expect(m.record({ provider: 'acme', model: 'acme-9', inputTokens: 1_000_000 }).costUsd).toBe(4);
  });

  it('reads prices from config.json in the storage dir and names a bad key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-'));
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({ pricing: { 'house-model': { input: 1, output: 2 } }, subscription_limits: {} }),
    );
    const { m } = monitor({ dir, loadConfig: true });
    expect(m.record({ provider: 'acme', model: 'house-model', inputTokens: 1_000_000, outputTokens: 1_000_000 }).costUsd).toBe(3);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ pricing: { 'house-model': { input: 'cheap' } } }));
    expect(() => new TokenMonitor({ dir, metrics: false })).toThrow(/config\.json pricing\.house-model\.input: "cheap"/);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ pricing: { 'house-model': { inptu: 1 } } }));
    expect(() => new TokenMonitor({ dir, metrics: false })).toThrow(/pricing\.house-model\.inptu/);
  });

  it('takes the storage dir from TOKENMETER_DIR', () => {
    const m = new TokenMonitor({ metrics: false, env: { TOKENMETER_DIR: '/tmp/somewhere' } });
    monitors.push(m);
    expect(m.dir).toBe('/tmp/somewhere');
  });

  it('does nothing when TOKENMETER_DISABLED=1', () => {
    const m = new TokenMonitor({ env: { TOKENMETER_DISABLED: '1' } });
    monitors.push(m);
    expect(m.disabled).toBe(true);
    expect(m.record({ ...call, inputTokens: -1 })).toMatchObject({ logged: false, record: null });
    expect(m.metricsUrl).toBeUndefined();
    expect(m.usageSummary()).toEqual([]);
  });

  it('never throws a failure of its own into the caller: it logs once and counts it', async () => {
    const reader = new TestReader();
    const sdk = new SdkMeterProvider({ readers: [reader] });
    // A MeterProvider whose histograms throw, as a broken exporter set-up might.
    const broken: MeterProvider = {
      getMeter: (name, version, opts) => {
        const real = sdk.getMeter(name, version, opts);
        return new Proxy(real, {
          get: (target, key) =>
            key === 'createHistogram'
              ? () => ({
                  record: () => {
                    throw new Error('boom');
                  },
                })
              : (target[key as keyof Meter] as (...a: unknown[]) => unknown).bind(target),
        });
      },
    };
    const log = memoryLogger();
    const m = new TokenMonitor({ loadConfig: false, logger: log, metrics: { meterProvider: broken } });
    monitors.push(m);
    const r1 = m.record(call);
    const r2 = m.record(call);
    expect(r1.logged && r2.logged).toBe(true);
    expect(r2.usageSummary.requests).toBe(2);
    expect(log.lines.filter((l) => l.includes('internal error in export'))).toHaveLength(1);
    const data = (await reader.collect()).resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
    expect(pointValue(sums(data, INSTRUMENT.internalErrors), { component: 'export' })).toBe(2);
    expect(pointValue(sums(data, INSTRUMENT.requests), { status: 'ok' })).toBe(2);
    await sdk.shutdown();
  });

  it('is safe to close twice, and ignores records after close', async () => {
    const { m, log } = monitor();
    await m.close();
    await m.close();
    expect(m.record(call).logged).toBe(false);
    expect(log.lines.some((l) => l.includes('after close'))).toBe(true);
  });
});

describe('the seed-style global helpers', () => {
  it('record LLM, embedding and rerank calls on one monitor', () => {
    getTokenMonitor({ loadConfig: false, metrics: { prometheus: false } });
    expect(
      logLlmUsage({ provider: 'anthropic', model: 'claude-3-5-haiku-20241022', inputTokens: 1000, outputTokens: 100 }).record?.serviceType,
    ).toBe('llm');
    expect(logEmbeddingUsage({ provider: 'openai', model: 'text-embedding-3-small', inputTokens: 1_000_000 }).costUsd).toBe(0.02);
    const rerank = logRerankUsage({ provider: 'cohere', model: 'rerank-v3.5', searchUnits: 2 });
    expect(rerank.record).toMatchObject({ serviceType: 'reranking', operation: 'rerank', searchUnits: 2, costUsd: 0.004 });
    expect(getTokenMonitor().usageSummary()).toHaveLength(3);
  });
});

describe('unknown keys in the helpers', () => {
  it('logLlmUsage with a snake_case count throws, naming the key meant, and records nothing', () => {
    getTokenMonitor({ loadConfig: false, metrics: { prometheus: false } });
    const args = { provider: 'anthropic', model: 'claude-3-5-haiku-20241022', input_tokens: 100, output_tokens: 20 };
    expect(() => logLlmUsage(args as never)).toThrow('Unknown key input_tokens in a usage record: did you mean inputTokens?');
    expect(() => logEmbeddingUsage({ provider: 'openai', model: 'text-embedding-3-small', tokens: 5 } as never)).toThrow(ValidationError);
    expect(getTokenMonitor().usageSummary()).toEqual([]);
  });

  it('a service type the helper contradicts is an error, not overridden', () => {
    getTokenMonitor({ loadConfig: false, metrics: { prometheus: false } });
    const args = { provider: 'openai', model: 'text-embedding-3-small', inputTokens: 5, serviceType: 'embedding' };
    expect(() => logLlmUsage(args as never)).toThrow('Invalid serviceType: "embedding" (logLlmUsage records llm calls');
    expect(logEmbeddingUsage(args as never).record?.serviceType).toBe('embedding');
  });

  it('record() and validate() refuse them too', () => {
    const { m } = monitor();
    expect(() => m.record({ ...call, user_id: 'u9' } as never)).toThrow('did you mean userId?');
    expect(() => m.validate({ ...call, thread: 't1' } as never)).toThrow('Unknown key thread');
    expect(m.usageSummary()).toEqual([]);
  });
});

describe('a cost the caller already knows', () => {
  it('wins over the price table, and is checked', () => {
    const { m } = monitor();
    expect(
      m.record({ provider: 'openrouter', model: 'some/model', inputTokens: 10, outputTokens: 5, costUsd: 0.0123 }).record,
    ).toMatchObject({ costUsd: 0.0123, costPicoUsd: 12_300_000_000 });
    expect(m.record({ ...call, costUsd: 0 }).costUsd).toBe(0);
    expect(() => m.record({ ...call, costUsd: -1 })).toThrow('Invalid costUsd: -1');
    expect(() => m.record({ ...call, costUsd: Number.NaN })).toThrow('Invalid costUsd: NaN');
    expect(m.usageSummary('openrouter')).toMatchObject({ costUsd: 0.0123, unpricedRequests: 0 });
  });
});
