import { afterEach, describe, expect, it } from 'vitest';
import { histograms, memoryLogger, pointValue, readerFor, sums } from '../../test/helpers/otel.ts';
import { TokenMonitor, type TokenMonitorOptions } from '../monitor.ts';
import { INSTRUMENT, OPERATION_DURATION_BUCKETS, TOKEN_USAGE_BUCKETS } from './names.ts';

const monitors: TokenMonitor[] = [];
afterEach(async () => {
  await Promise.all(monitors.splice(0).map((m) => m.close()));
});

function setup(metrics: NonNullable<TokenMonitorOptions['metrics']> = {}, extra: TokenMonitorOptions = {}) {
  const log = memoryLogger();
  // No ledger: these tests are about the metrics, and some record tens of thousands of calls.
  const m = new TokenMonitor({ loadConfig: false, ledger: false, logger: log, ...extra, metrics: { prometheus: false, ...metrics } });
  monitors.push(m);
  const reader = readerFor(m.metricProducer);
  return { m, reader, log };
}

const call = {
  provider: 'openai',
  model: 'gpt-4o',
  operation: 'extract_nodes',
  inputTokens: 1000,
  outputTokens: 500,
  cachedInputTokens: 200,
  durationMs: 840,
};
const labels = { provider: 'openai', model: 'gpt-4o', service_type: 'llm', operation: 'extract_nodes' };

describe('metrics through the OpenTelemetry SDK reader', () => {
  it('exports tokens by type, cost, requests by status', async () => {
    const { m, reader } = setup();
    m.record(call);
    m.record({ ...call, reasoningTokens: 100, cacheWriteTokens: 300 });
    m.record({ ...call, inputTokens: 10, outputTokens: 0, cachedInputTokens: 0, error: true, errorType: 'rate_limit' });
    const data = await reader.metrics();
    const tokens = sums(data, INSTRUMENT.tokens);
    expect(pointValue(tokens, { ...labels, token_type: 'input' })).toBe(2010);
    expect(pointValue(tokens, { ...labels, token_type: 'output' })).toBe(1000);
    expect(pointValue(tokens, { ...labels, token_type: 'cached_input' })).toBe(400);
    expect(pointValue(tokens, { ...labels, token_type: 'cache_write' })).toBe(300);
    expect(pointValue(tokens, { ...labels, token_type: 'reasoning' })).toBe(100);
    const requests = sums(data, INSTRUMENT.requests);
    expect(pointValue(requests, { ...labels, status: 'ok' })).toBe(2);
    expect(pointValue(requests, { ...labels, status: 'error' })).toBe(1);
    // 0.00725 + (500×2.5 + 200×1.25 + 300×2.5 (no cache-write price: input rate) + 500×10)/1e6 + 10×2.5/1e6
    expect(pointValue(sums(data, INSTRUMENT.cost), labels)).toBeCloseTo(0.00725 + 0.00725 + 0.000025, 12);
    expect(pointValue(sums(data, INSTRUMENT.internalErrors), { component: 'record' })).toBe(0);
  });

  it('exports the GenAI semantic-convention histograms with the conventions’ buckets', async () => {
    const { m, reader } = setup();
    m.record(call);
    m.record({ ...call, inputTokens: 4, cachedInputTokens: 0, outputTokens: 64, durationMs: 20 });
    m.record({ ...call, durationMs: 5000, error: true, errorType: 'timeout' });
    const data = await reader.metrics();
    const usage = histograms(data, INSTRUMENT.tokenUsage);
    const sem = {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.response.model': 'gpt-4o',
    };
    const input = usage.find((p) => p.attributes['gen_ai.token.type'] === 'input')!;
    expect(input.attributes).toMatchObject(sem);
    expect(input.value.buckets.boundaries).toEqual(TOKEN_USAGE_BUCKETS);
    expect(input.value.count).toBe(3);
    expect(input.value.sum).toBe(2004);
    // 4 falls in (1, 4]; 1000 twice in (256, 1024].
    expect(input.value.buckets.counts[1]).toBe(1);
    expect(input.value.buckets.counts[5]).toBe(2);
    const durations = histograms(data, INSTRUMENT.operationDuration);
    const ok = durations.find((p) => p.attributes['error.type'] === undefined)!;
    expect(ok.value.buckets.boundaries).toEqual(OPERATION_DURATION_BUCKETS);
    expect(ok.value.count).toBe(2);
    expect(ok.value.sum).toBeCloseTo(0.86, 10);
    const failed = durations.find((p) => p.attributes['error.type'] === 'timeout')!;
    expect(failed.value.count).toBe(1);
    expect(failed.value.max).toBe(5);
  });

  it('leaves the histograms out when semconv is off', async () => {
    const { m, reader } = setup({ semconv: false });
    m.record(call);
    const names = (await reader.metrics()).map((d) => d.descriptor.name);
    expect(names).toContain(INSTRUMENT.tokens);
    expect(names).not.toContain(INSTRUMENT.tokenUsage);
    expect(names).not.toContain(INSTRUMENT.operationDuration);
  });

  it('keeps user, thread, agent and key labels off unless asked, and then shows only the key id', async () => {
    const who = { userId: 'u1', threadId: 't1', agent: 'planner', apiKey: 'sk-proj-secretsecretsecret-wxyz' };
    const off = setup();
    off.m.record({ ...call, ...who });
    const offAttrs = sums(await off.reader.metrics(), INSTRUMENT.cost)[0]!.attributes;
    expect(Object.keys(offAttrs).sort()).toEqual(['model', 'operation', 'provider', 'service_type']);

    const on = setup({ labels: { userId: true, threadId: true, agent: true, apiKeyId: true } });
    on.m.record({ ...call, ...who });
    const data = await on.reader.metrics();
    const attrs = sums(data, INSTRUMENT.cost)[0]!.attributes;
    expect(attrs).toMatchObject({ user_id: 'u1', thread_id: 't1', agent: 'planner' });
    expect(attrs.api_key_id).toMatch(/^wxyz-[0-9a-f]{8}$/);
    expect(JSON.stringify(data)).not.toContain('secretsecret');
  });

  it('reports values past a label’s cap as _other and says so once', async () => {
    const { m, reader, log } = setup({ maxValuesPerLabel: 3 });
    for (const model of ['gpt-4o', 'gpt-4o-mini', 'o3', 'o4-mini', 'gpt-4.1']) m.record({ ...call, model });
    const cost = sums(await reader.metrics(), INSTRUMENT.cost);
    expect(cost.map((p) => p.attributes.model).sort()).toEqual(['_other', 'gpt-4o', 'gpt-4o-mini', 'o3']);
    expect(pointValue(sums(await reader.metrics(), INSTRUMENT.requests), { model: '_other' })).toBe(2);
    expect(log.lines.filter((l) => l.includes('label model reached its cap of 3'))).toHaveLength(1);
    // The folded series still carries the right cost: o4-mini and gpt-4.1 are each priced on their own.
    const folded = pointValue(cost, { model: '_other' })!;
    const own = m.price('openai', 'o4-mini')!;
    expect(folded).toBeGreaterThan((800 * own.input!.base) / 1e12);
  });

  it('warns when the label-set cap is raised past what OpenTelemetry allows per instrument', () => {
    const { log } = setup({ maxLabelSets: 1000 });
    expect(log.lines.some((l) => l.includes('maxLabelSets 1000 lets one instrument reach 6000 series'))).toBe(true);
  });

  it('rejects a cap that is not a positive integer, naming it', () => {
    expect(() => new TokenMonitor({ metrics: { prometheus: false, maxLabelSets: 0 } })).toThrow('Invalid metrics.maxLabelSets: 0');
    expect(() => new TokenMonitor({ metrics: { prometheus: false, maxValuesPerLabel: 2.5 } })).toThrow(
      'Invalid metrics.maxValuesPerLabel: 2.5',
    );
  });

  it('folds new label sets past the label-set cap into one _other set, before OpenTelemetry’s 2,000 limit', async () => {
    const { m, reader, log } = setup({ maxLabelSets: 2 });
    for (const operation of ['a', 'b', 'c', 'd']) m.record({ ...call, operation });
    const requests = sums(await reader.metrics(), INSTRUMENT.requests);
    expect(requests).toHaveLength(3);
    expect(pointValue(requests, { operation: '_other', model: '_other', provider: '_other' })).toBe(2);
    expect(log.lines.filter((l) => l.includes('cap of 2 label sets'))).toHaveLength(1);
  });

  it('never lets one instrument pass 2,000 series with the default label-set cap', async () => {
    const { m, reader } = setup({ maxValuesPerLabel: 10_000 });
    // A model per label set: each one is a GenAI series of its own too.
    for (let i = 0; i < 3000; i++) {
      m.record({ ...call, model: `model-${i}`, operation: `op-${i}`, cacheWriteTokens: 1, reasoningTokens: 1 });
      // Failures of many kinds: the duration histogram gets a series per error type.
      for (let e = 0; e < 8; e++)
        m.record({ ...call, model: `model-${i}`, operation: `op-${i}`, error: true, errorType: `http_${500 + e}` });
    }
    const data = await reader.metrics();
    for (const d of data) expect(d.dataPoints.length, d.descriptor.name).toBeLessThan(2000);
    // 300 label sets and the overflow set, each with an ok series, 4 error types and _other.
    expect(data.find((d) => d.descriptor.name === INSTRUMENT.operationDuration)?.dataPoints.length).toBe(301 * 6);
    expect(data.find((d) => d.descriptor.name === INSTRUMENT.tokens)?.dataPoints.length).toBe(301 * 5);
  });
});
