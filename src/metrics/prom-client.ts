/**
 * `tokenmeter/prom-client`: tokenmeter's series in an existing prom-client Registry, for apps that
 * already serve /metrics with prom-client. The series and names are the same as the built-in
 * endpoint's. prom-client is a peer dependency; this module imports only its types.
 */
import type { Attributes } from '@opentelemetry/api';
import { DataPointType, type MetricData } from '@opentelemetry/sdk-metrics';
import type { Registry } from 'prom-client';
import type { TokenMonitor } from '../monitor.ts';
import { INSTRUMENT, prometheusName } from './names.ts';

type PromType = 'counter' | 'gauge' | 'histogram';
interface PromValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

const SPECS: readonly { instrument: string; type: PromType }[] = [
  { instrument: INSTRUMENT.tokens, type: 'counter' },
  { instrument: INSTRUMENT.cost, type: 'counter' },
  { instrument: INSTRUMENT.requests, type: 'counter' },
  { instrument: INSTRUMENT.unpriced, type: 'counter' },
  { instrument: INSTRUMENT.internalErrors, type: 'counter' },
  { instrument: INSTRUMENT.tokenUsage, type: 'histogram' },
  { instrument: INSTRUMENT.operationDuration, type: 'histogram' },
  // The budget gauges, present when the monitor has budgets (as on the endpoint).
  { instrument: INSTRUMENT.budgetLimit, type: 'gauge' },
  { instrument: INSTRUMENT.budgetUsed, type: 'gauge' },
  { instrument: INSTRUMENT.budgetWarningRatio, type: 'gauge' },
  { instrument: INSTRUMENT.budgetCriticalRatio, type: 'gauge' },
  { instrument: INSTRUMENT.budgetWindowEnd, type: 'gauge' },
];

const OPENMETRICS = 'application/openmetrics-text';

function labelsOf(attributes: Attributes): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(attributes)) out[prometheusName(k, false)] = String(v);
  return out;
}

function valuesOf(m: MetricData | undefined, name: string): PromValue[] {
  if (m === undefined) return [];
  if (m.dataPointType === DataPointType.SUM || m.dataPointType === DataPointType.GAUGE) {
    return m.dataPoints.map((p) => ({ value: p.value, labels: labelsOf(p.attributes) }));
  }
  if (m.dataPointType !== DataPointType.HISTOGRAM) return [];
  const out: PromValue[] = [];
  for (const p of m.dataPoints) {
    const labels = labelsOf(p.attributes);
    const { boundaries, counts } = p.value.buckets;
    let cumulative = 0;
    for (let i = 0; i < counts.length; i++) {
      cumulative += counts[i] as number;
      out.push({
        value: cumulative,
        labels: { ...labels, le: i < boundaries.length ? (boundaries[i] as number) : '+Inf' },
        metricName: `${name}_bucket`,
      });
    }
    out.push({ value: p.value.sum ?? 0, labels, metricName: `${name}_sum` });
    out.push({ value: p.value.count, labels, metricName: `${name}_count` });
  }
  return out;
}

/**
 * Registers tokenmeter's metrics in `registry`. Values are read from the monitor's aggregates at
 * each scrape (one read per scrape, shared by all the metrics).
 */
export function registerTokenmeterMetrics(monitor: TokenMonitor, registry: Registry): void {
  const producer = monitor.metricProducer;
  if (producer === undefined) {
    throw new Error('registerTokenmeterMetrics: the monitor has no metrics (created with metrics: false or disabled)');
  }
  let pending: Promise<Map<string, MetricData>> | undefined;
  const snapshot = (): Promise<Map<string, MetricData>> => {
    if (pending === undefined) {
      pending = producer.collect().then((r) => {
        const byName = new Map<string, MetricData>();
        for (const sm of r.resourceMetrics.scopeMetrics) for (const m of sm.metrics) byName.set(m.descriptor.name, m);
        return byName;
      });
      // One scrape reads every metric in the same tick; the next scrape reads afresh.
      setImmediate(() => {
        pending = undefined;
      });
    }
    return pending;
  };
  const openMetrics = String(registry.contentType).startsWith(OPENMETRICS);
  for (const spec of SPECS) {
    const full = prometheusName(spec.instrument, spec.type === 'counter');
    // In OpenMetrics mode prom-client appends `_total` to counters itself.
    const name = openMetrics && spec.type === 'counter' ? full.replace(/_total$/, '') : full;
    const metric = {
      name,
      help: '',
      type: spec.type,
      aggregator: 'sum' as const,
      get: async () => {
        const data = (await snapshot()).get(spec.instrument);
        return {
          name,
          help: data?.descriptor.description ?? spec.instrument,
          type: spec.type,
          aggregator: 'sum',
          values: valuesOf(data, name),
        };
      },
      reset: () => undefined,
    };
    registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
  }
}
