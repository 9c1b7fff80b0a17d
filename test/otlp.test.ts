import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenMonitor } from '../src/index.ts';
import { memoryLogger } from './helpers/otel.ts';

interface OtlpAttr {
  key: string;
  value: { stringValue?: string };
}
interface OtlpResourceMetrics {
  resource?: { attributes?: OtlpAttr[] };
  scopeMetrics: { metrics: OtlpMetric[] }[];
}
interface OtlpPoint {
  attributes: OtlpAttr[];
  asDouble?: number;
  asInt?: string | number;
  count?: string | number;
  sum?: number;
  bucketCounts?: (string | number)[];
  explicitBounds?: number[];
}
interface OtlpMetric {
  name: string;
  unit?: string;
  sum?: { dataPoints: OtlpPoint[]; isMonotonic?: boolean; aggregationTemporality?: number };
  histogram?: { dataPoints: OtlpPoint[] };
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  // Monitor first, then the receiver it talks to.
  for (const c of closers.splice(0).reverse()) await c();
});

/** An OTLP/HTTP receiver on a port the OS picks, keeping every JSON body it gets. */
async function receiver(
  initialStatus = 200,
): Promise<{ url: string; bodies: unknown[]; paths: string[]; answer: (status: number) => void }> {
  let status = initialStatus;
  const bodies: unknown[] = [];
  const paths: string[] = [];
  const read = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let s = '';
      req.on('data', (d) => {
        s += d;
      });
      req.on('end', () => resolve(s));
    });
  const server = createServer(async (req, res) => {
    paths.push(req.url ?? '');
    bodies.push(JSON.parse(await read(req)));
    res.statusCode = status;
    res.setHeader('content-type', 'application/json');
    res.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/metrics`,
    bodies,
    paths,
    answer: (s) => {
      status = s;
    },
  };
}

function metrics(body: unknown): OtlpMetric[] {
  const b = body as { resourceMetrics: { scopeMetrics: { metrics: OtlpMetric[] }[] }[] };
  return b.resourceMetrics.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
}

function attrs(p: OtlpPoint): Record<string, string | undefined> {
  return Object.fromEntries(p.attributes.map((a) => [a.key, a.value.stringValue]));
}

describe('OTLP over HTTP into a local receiver', () => {
  it('pushes tokenmeter’s counters and the GenAI histograms', async () => {
    const rx = await receiver();
    const m = new TokenMonitor({ loadConfig: false, metrics: { prometheus: false, otlp: { url: rx.url, intervalMs: 60_000 } } });
    closers.push(() => m.close());
    await m.ready();
    m.record({ provider: 'gemini', model: 'gemini-2.5-flash', operation: 'plan', inputTokens: 10000, outputTokens: 2000, durationMs: 700 });
    await m.flushMetrics();
    expect(rx.bodies.length).toBeGreaterThan(0);
    const ms = metrics(rx.bodies.at(-1));
    const cost = ms.find((x) => x.name === 'tokenmeter_cost_usd')!;
    expect(cost.unit ?? '').toBe('');
    expect(cost.sum?.isMonotonic).toBe(true);
    // 2 = cumulative temporality
    expect(cost.sum?.aggregationTemporality).toBe(2);
    expect(cost.sum?.dataPoints[0]?.asDouble).toBeCloseTo(0.008, 12);
    expect(attrs(cost.sum!.dataPoints[0]!)).toMatchObject({
      provider: 'gemini',
      model: 'gemini-2.5-flash',
      service_type: 'llm',
      operation: 'plan',
    });
    const tokens = ms.find((x) => x.name === 'tokenmeter_tokens')!;
    const input = tokens.sum!.dataPoints.find((p) => attrs(p).token_type === 'input')!;
    expect(Number(input.asInt)).toBe(10000);
    const usage = ms.find((x) => x.name === 'gen_ai.client.token.usage')!;
    expect(usage.unit).toBe('{token}');
    const out = usage.histogram!.dataPoints.find((p) => attrs(p)['gen_ai.token.type'] === 'output')!;
    expect(Number(out.count)).toBe(1);
    expect(out.sum).toBe(2000);
    expect(out.explicitBounds).toEqual([1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]);
    expect(attrs(out)['gen_ai.provider.name']).toBe('gcp.gemini');
    const duration = ms.find((x) => x.name === 'gen_ai.client.operation.duration')!;
    expect(duration.unit).toBe('s');
    expect(duration.histogram!.dataPoints[0]!.sum).toBeCloseTo(0.7, 10);
  });

  it('sends every metric with service.name and service.instance.id, which tell two processes apart', async () => {
    const rx = await receiver();
    const ids: string[] = [];
    for (const instance of ['web-1', 'web-2']) {
      // One from the options, one from the environment, as a deployment would set it.
      const m = new TokenMonitor({
        loadConfig: false,
        ledger: false,
        env: instance === 'web-2' ? { OTEL_SERVICE_NAME: 'checkout', OTEL_RESOURCE_ATTRIBUTES: `service.instance.id=${instance}` } : {},
        metrics: {
          prometheus: false,
          otlp: { url: rx.url, intervalMs: 60_000 },
          ...(instance === 'web-1' ? { serviceName: 'checkout', serviceInstanceId: instance } : {}),
        },
        budgets: [{ scope: 'global', limit: 10, unit: 'usd', cycle: { kind: 'daily' } }],
        logLevel: 'error',
      });
      closers.push(() => m.close());
      await m.ready();
      m.record({
        provider: 'gemini',
        model: 'gemini-2.5-flash',
        inputTokens: 1000,
        outputTokens: 100,
        durationMs: 300,
        error: instance === 'web-2',
      });
      m.record({ provider: 'acme', model: 'unpriced', inputTokens: 1 });
      await m.flushMetrics();
      ids.push(instance);
    }
    const seen = new Map<string, Set<string>>();
    for (const body of rx.bodies) {
      for (const r of (body as { resourceMetrics: OtlpResourceMetrics[] }).resourceMetrics) {
        const resource = Object.fromEntries((r.resource?.attributes ?? []).map((a) => [a.key, a.value.stringValue]));
        expect(resource['service.name']).toBe('checkout');
        const id = resource['service.instance.id'] as string;
        expect(ids).toContain(id);
        for (const s of r.scopeMetrics) for (const metric of s.metrics) seen.set(id, (seen.get(id) ?? new Set()).add(metric.name));
      }
    }
    // Every metric tokenmeter exports, from each instance.
    const all = [
      'tokenmeter_tokens',
      'tokenmeter_cost_usd',
      'tokenmeter_requests',
      'tokenmeter_unpriced_requests',
      // At 0 for component="record" from the start.
      'tokenmeter_internal_errors',
      'tokenmeter_budget_limit',
      'tokenmeter_budget_used',
      'tokenmeter_budget_warning_ratio',
      'tokenmeter_budget_critical_ratio',
      'tokenmeter_budget_window_end_seconds',
      'gen_ai.client.token.usage',
      'gen_ai.client.operation.duration',
    ];
    for (const id of ids) expect([...(seen.get(id) ?? [])].sort(), id).toEqual([...all].sort());
  });

  it('sends deltas when asked (option or OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE), and a refused push within the next', async () => {
    for (const how of ['option', 'env'] as const) {
      const rx = await receiver();
      const m = new TokenMonitor({
        loadConfig: false,
        ledger: false,
        logLevel: 'silent',
        env: how === 'env' ? { OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'Delta' } : {},
        metrics: {
          prometheus: false,
          otlp: { url: rx.url, intervalMs: 60_000, ...(how === 'option' ? { temporality: 'delta' as const } : {}) },
        },
      });
      closers.push(() => m.close());
      await m.ready();
      const call = (inputTokens: number) =>
        m.record({ provider: 'openai', model: 'gpt-4o', inputTokens, outputTokens: 0, durationMs: 200 });
      /** The last push's cost and input tokens (undefined: not in it), its temporality, and its duration count. */
      const last = () => {
        const ms = metrics(rx.bodies.at(-1));
        const cost = ms.find((x) => x.name === 'tokenmeter_cost_usd');
        const input = ms.find((x) => x.name === 'tokenmeter_tokens')?.sum?.dataPoints.find((p) => attrs(p).token_type === 'input');
        const duration = ms.find((x) => x.name === 'gen_ai.client.operation.duration')?.histogram?.dataPoints[0];
        return {
          cost: cost?.sum?.dataPoints[0]?.asDouble,
          temporality: cost?.sum?.aggregationTemporality,
          input: input === undefined ? undefined : Number(input.asInt),
          calls: duration === undefined ? undefined : Number(duration.count),
        };
      };
      const c1 = call(1000).costUsd as number;
      await m.flushMetrics();
      // 1 = delta
      expect(last(), how).toEqual({ cost: c1, temporality: 1, input: 1000, calls: 1 });
      const c2 = call(3000).costUsd as number;
      await m.flushMetrics();
      expect(last(), how).toEqual({ cost: c2, temporality: 1, input: 3000, calls: 1 });
      // Nothing new: no points for the counters.
      await m.flushMetrics();
      expect(last().cost, how).toBeUndefined();
      // A refused push: its calls come in the next one.
      rx.answer(400);
      const c3 = call(5000).costUsd as number;
      await m.flushMetrics();
      rx.answer(200);
      const c4 = call(7000).costUsd as number;
      await m.flushMetrics();
      const after = last();
      expect(after.cost, how).toBeCloseTo(c3 + c4, 12);
      expect({ input: after.input, calls: after.calls }, how).toEqual({ input: 12000, calls: 2 });
    }
  });

  it('refuses a temporality it does not know, naming the option', () => {
    expect(
      () =>
        new TokenMonitor({ loadConfig: false, ledger: false, metrics: { prometheus: false, otlp: { temporality: 'deltas' as never } } }),
    ).toThrow(/metrics\.otlp\.temporality: "deltas" \(must be one of cumulative, delta, lowmemory\)/);
  });

  it('counts and logs an export the receiver refused, rather than losing it unseen', async () => {
    // 413: what a Collector answers a request past its max_request_body_size.
    const rx = await receiver(413);
    const log = memoryLogger();
    const m = new TokenMonitor({
      loadConfig: false,
      ledger: false,
      logger: log,
      metrics: { prometheus: false, otlp: { url: rx.url, intervalMs: 60_000 } },
    });
    closers.push(() => m.close());
    await m.ready();
    m.record({ provider: 'gemini', model: 'gemini-2.5-flash', inputTokens: 10, outputTokens: 2 });
    await m.flushMetrics();
    expect(rx.bodies.length).toBeGreaterThan(0);
    expect(log.lines.some((l) => l.includes('OTLP export') && l.includes(rx.url))).toBe(true);
    const { resourceMetrics } = await m.metricProducer!.collect();
    const internal = resourceMetrics.scopeMetrics[0]!.metrics.find((d) => d.descriptor.name === 'tokenmeter_internal_errors')!;
    expect(internal.dataPoints.find((p) => p.attributes.component === 'otlp')?.value).toBe(1);
  });
});
