/**
 * `tokenmeter/prom-client`: tokenmeter's series in an existing prom-client Registry, for apps that
 * already serve /metrics with prom-client. The series and names are the same as the built-in
 * endpoint's. prom-client is a peer dependency; this module imports only its types.
 */
import type { Attributes } from '@opentelemetry/api';
import type { MetricData } from '@opentelemetry/sdk-metrics';
import type { Registry } from 'prom-client';
import { DESCRIPTION, INSTRUMENT, PROMETHEUS_TYPE, prometheusName } from './names.ts';
import { POINT_TYPE } from './otel-enums.ts';
import type { MetricSource } from './producer.ts';

export type { MetricSource };

interface PromValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

const OPENMETRICS = 'application/openmetrics-text';

function labelsOf(attributes: Attributes): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(attributes)) out[prometheusName(k, false)] = String(v);
  return out;
}

function valuesOf(m: MetricData | undefined, name: string): PromValue[] {
  if (m === undefined) return [];
  if (m.dataPointType === POINT_TYPE.SUM || m.dataPointType === POINT_TYPE.GAUGE) {
    return m.dataPoints.map((p) => ({ value: p.value, labels: labelsOf(p.attributes) }));
  }
  if (m.dataPointType !== POINT_TYPE.HISTOGRAM) return [];
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
 * Registers tokenmeter's metrics in `registry`: every series the built-in endpoint serves, the
 * budget gauges included. `source` is the monitor (`registerTokenmeterMetrics(monitor, registry)`),
 * or anything with its `metricProducer`. Values are read from the monitor's aggregates at each
 * scrape (one read per scrape, shared by all the metrics).
 */
export function registerTokenmeterMetrics(source: MetricSource, registry: Registry): void {
  const producer = source.metricProducer;
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
  for (const key of Object.keys(INSTRUMENT) as (keyof typeof INSTRUMENT)[]) {
    const instrument = INSTRUMENT[key];
    const type = PROMETHEUS_TYPE[key];
    const full = prometheusName(instrument, type === 'counter');
    // In OpenMetrics mode prom-client appends `_total` to counters itself.
    const name = openMetrics && type === 'counter' ? full.replace(/_total$/, '') : full;
    const help = DESCRIPTION[key];
    const metric = {
      name,
      help,
      type,
      aggregator: 'sum' as const,
      get: async () => {
        const data = (await snapshot()).get(instrument);
        return {
          name,
          help,
          type,
          aggregator: 'sum',
          values: valuesOf(data, name),
        };
      },
      reset: () => undefined,
    };
    registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
  }
}
