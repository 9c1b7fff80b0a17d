// End to end: Debian's prometheus scrapes a TokenMonitor (this test process) after a known set of
// records, and every count it stored is compared with what was recorded. Prometheus keeps the first
// of two samples with the same name and labels in one scrape and drops the others without failing
// the scrape (and `promtool check metrics` passes them), so only a real Prometheus shows the loss.
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_CAP, MAX_ERROR_TYPES_PER_SET, MAX_SERIES_PER_LABEL_SET } from '../src/metrics/cardinality.ts';
import { METRIC } from '../src/metrics/names.ts';
import { TokenMonitor } from '../src/monitor.ts';
import type { UsageInput } from '../src/usage.ts';
import { freePort, type PrometheusServer, parseExposition, startPrometheus, waitFor } from './helpers/prometheus.ts';

/**
 * 40 calls on two models: several tokenmeter operations per model (all GenAI `chat`), a model
 * called with and without a request model, failures of a few kinds.
 */
function calls(): UsageInput[] {
  const out: UsageInput[] = [];
  const operations = ['extract_nodes', 'summarise', 'plan', 'chat'];
  for (let i = 0; i < 40; i++) {
    const openai = i % 4 !== 3;
    const call: UsageInput = {
      provider: openai ? 'openai' : 'anthropic',
      model: openai ? 'gpt-4o' : 'claude-sonnet-4-5',
      operation: operations[i % operations.length] as string,
      inputTokens: 1000 + i,
      outputTokens: 100 + i,
      durationMs: 100 + 37 * i,
    };
    if (i % 5 === 0) call.requestModel = openai ? 'gpt-4o-2024-08-06' : 'claude-sonnet-4-5';
    if (i % 7 === 0) {
      call.error = true;
      call.errorType = i % 2 === 0 ? 'rate_limit' : 'timeout';
    }
    out.push(call);
  }
  return out;
}

/** Sums `value` of the calls, grouped by `key`. */
function expected(list: readonly UsageInput[], key: (c: UsageInput) => string, value: (c: UsageInput) => number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of list) out[key(c)] = (out[key(c)] ?? 0) + value(c);
  return out;
}

describe('Prometheus stores every call tokenmeter recorded', () => {
  let monitor: TokenMonitor | undefined;
  let prometheus: PrometheusServer | undefined;
  const recorded = calls();
  const costs: number[] = [];

  beforeAll(async () => {
    monitor = new TokenMonitor({ loadConfig: false, ledger: false, logLevel: 'error', metrics: { prometheus: { port: 0 } } });
    await monitor.ready();
    for (const c of recorded) costs.push(monitor.record(c).costUsd ?? 0);
    prometheus = await startPrometheus(monitor.metricsUrl as string, '1s');
    // The records came before the first scrape: once a scrape has succeeded, Prometheus holds them all.
    const p = prometheus;
    await waitFor('a successful scrape of the monitor', 30_000, async () => {
      const up = await p.query('up{job="tokenmeter"}');
      return up[0]?.value[1] === '1' ? true : undefined;
    });
  }, 60_000);

  afterAll(async () => {
    await prometheus?.stop();
    await monitor?.close();
  }, 30_000);

  /** The result of a `sum by (...)` query, keyed by the listed labels' values joined with `/`. */
  async function sumBy(labels: string[], selector: string): Promise<Record<string, number>> {
    const result = await (prometheus as PrometheusServer).query(`sum by (${labels.join(',')}) (${selector})`);
    return Object.fromEntries(result.map((r) => [labels.map((l) => r.metric[l] ?? '').join('/'), Number(r.value[1])]));
  }

  it('counts every request per provider, model, operation and status', async () => {
    expect(await sumBy(['provider', 'model', 'operation', 'status'], METRIC.requests)).toEqual(
      expected(
        recorded,
        (c) => `${c.provider}/${c.model}/${c.operation}/${c.error ? 'error' : 'ok'}`,
        () => 1,
      ),
    );
  });

  it('adds up every token and every dollar', async () => {
    expect(await sumBy(['model', 'token_type'], `${METRIC.tokens}{token_type=~"input|output"}`)).toEqual({
      ...expected(
        recorded,
        (c) => `${c.model}/input`,
        (c) => c.inputTokens as number,
      ),
      ...expected(
        recorded,
        (c) => `${c.model}/output`,
        (c) => c.outputTokens as number,
      ),
    });
    const cost = await sumBy(['model'], METRIC.cost);
    const want = expected(
      recorded.map((c, i) => ({ ...c, costUsd: costs[i] as number })),
      (c) => c.model,
      (c) => c.costUsd as number,
    );
    expect(Object.keys(cost).sort()).toEqual(Object.keys(want).sort());
    for (const [model, usd] of Object.entries(want)) expect(cost[model]).toBeCloseTo(usd, 9);
  });

  it('keeps every duration and token-usage observation of the GenAI histograms', async () => {
    const requestModel = (c: UsageInput) => c.requestModel ?? c.model;
    expect(await sumBy(['gen_ai_request_model', 'gen_ai_response_model', 'error_type'], `${METRIC.operationDuration}_count`)).toEqual(
      expected(
        recorded,
        (c) => `${requestModel(c)}/${c.model}/${c.error ? c.errorType : ''}`,
        () => 1,
      ),
    );
    const sums = await sumBy(['gen_ai_response_model'], `${METRIC.operationDuration}_sum`);
    for (const [model, s] of Object.entries(
      expected(
        recorded,
        (c) => c.model,
        (c) => (c.durationMs as number) / 1000,
      ),
    ))
      expect(sums[model]).toBeCloseTo(s, 9);
    expect(await sumBy(['gen_ai_response_model'], `${METRIC.operationDuration}_bucket{le="+Inf"}`)).toEqual(
      expected(
        recorded,
        (c) => c.model,
        () => 1,
      ),
    );
    expect(await sumBy(['gen_ai_request_model', 'gen_ai_token_type'], `${METRIC.tokenUsage}_sum`)).toEqual({
      ...expected(
        recorded,
        (c) => `${requestModel(c)}/input`,
        (c) => c.inputTokens as number,
      ),
      ...expected(
        recorded,
        (c) => `${requestModel(c)}/output`,
        (c) => c.outputTokens as number,
      ),
    });
  });
});

describe('the largest caps tokenmeter accepts', () => {
  it('scrape over HTTP, every series once, with every label set filled to the most series it can have', async () => {
    const m = new TokenMonitor({
      loadConfig: false,
      ledger: false,
      logLevel: 'error',
      metrics: { prometheus: { port: 0 }, maxLabelSets: MAX_CAP, maxValuesPerLabel: MAX_CAP },
    });
    try {
      await m.ready();
      // Each label set a GenAI series of its own, with every token type and the most error types kept.
      for (let i = 0; i < MAX_CAP; i++) {
        const c = {
          provider: 'openai',
          model: `model-${i}`,
          operation: `operation-${i}`,
          inputTokens: 10,
          outputTokens: 5,
          cachedInputTokens: 1,
          cacheWriteTokens: 1,
          reasoningTokens: 1,
          durationMs: 100,
        };
        m.record(c);
        for (let e = 0; e <= MAX_ERROR_TYPES_PER_SET; e++) m.record({ ...c, error: true, errorType: `http_${500 + e}` });
      }
      const res = await fetch(m.metricsUrl as string);
      expect(res.status).toBe(200);
      // Read as it streams: count the samples, keep the duration series' names to check they are distinct.
      const decoder = new TextDecoder();
      let rest = '';
      let samples = 0;
      let bytes = 0;
      const durationSeries = new Set<string>();
      const count = (line: string) => {
        if (line === '' || line.startsWith('#')) return;
        samples++;
        if (line.startsWith(`${METRIC.operationDuration}_count{`)) durationSeries.add(line.slice(0, line.lastIndexOf(' ')));
      };
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        bytes += chunk.length;
        const lines = (rest + decoder.decode(chunk, { stream: true })).split('\n');
        rest = lines.pop() as string;
        for (const line of lines) count(line);
      }
      expect(rest).toBe('');
      // And target_info, and tokenmeter_internal_errors_total{component="record"}.
      expect(samples).toBe(MAX_CAP * MAX_SERIES_PER_LABEL_SET + 2);
      expect(durationSeries.size).toBe(MAX_CAP * (2 + MAX_ERROR_TYPES_PER_SET));
      expect(bytes).toBeLessThan(400e6);
    } finally {
      await m.close();
    }
  });
});

describe('failed calls past the error-type cap', () => {
  // Six failures, each of its own error type: the first MAX_ERROR_TYPES_PER_SET keep theirs, the rest
  // report as _other. Every one is a duration sample, whichever way the metrics leave.
  const failures: UsageInput[] = Array.from({ length: 6 }, (_, e) => ({
    provider: 'openai',
    model: 'gpt-4o',
    inputTokens: 10,
    outputTokens: 0,
    durationMs: 100 * (e + 1),
    error: true,
    errorType: `http_${500 + e}`,
  }));
  /** The duration histogram's `_count` samples by error type, and all its series, as Prometheus would store them. */
  const durations = (text: string) => {
    const samples = parseExposition(text).filter((s) => s.name.startsWith(METRIC.operationDuration));
    const byType: Record<string, number> = {};
    for (const s of samples) if (s.name.endsWith('_count')) byType[s.labels.error_type ?? ''] = s.value;
    const series = samples.map((s) => {
      const { otel_scope_name: _n, otel_scope_version: _v, otel_scope_schema_url: _u, ...labels } = s.labels;
      return JSON.stringify([s.name, Object.entries(labels).sort(), s.value]);
    });
    return { byType, series: series.sort() };
  };

  it('each keep their duration sample through your own MeterProvider, as on the built-in endpoint', async () => {
    const port = await freePort();
    const exporter = await new Promise<PrometheusExporter>((resolve, reject) => {
      const e: PrometheusExporter = new PrometheusExporter({ host: '127.0.0.1', port }, (error) => (error ? reject(error) : resolve(e)));
    });
    const provider = new MeterProvider({ readers: [exporter] });
    const own = new TokenMonitor({ loadConfig: false, ledger: false, logLevel: 'error', metrics: { meterProvider: provider } });
    const native = new TokenMonitor({ loadConfig: false, ledger: false, logLevel: 'error', metrics: { prometheus: { port: 0 } } });
    try {
      await native.ready();
      for (const f of failures) {
        own.record(f);
        native.record(f);
      }
      const mine = durations(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
      const builtIn = durations(await (await fetch(native.metricsUrl as string)).text());
      const kept = Object.fromEntries(failures.slice(0, MAX_ERROR_TYPES_PER_SET).map((f) => [f.errorType, 1]));
      expect(mine.byType).toEqual({ ...kept, _other: failures.length - MAX_ERROR_TYPES_PER_SET });
      expect(Object.values(mine.byType).reduce((a, b) => a + b)).toBe(6);
      expect(mine.series).toEqual(builtIn.series);
    } finally {
      await Promise.all([own.close(), native.close()]);
      await provider.shutdown();
    }
  });
});
