import { type Attributes, type HrTime, ValueType } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import { defaultResource, type Resource } from '@opentelemetry/resources';
import type {
  CollectionResult,
  DataPoint,
  GaugeMetricData,
  Histogram,
  HistogramMetricData,
  MetricData,
  MetricProducer,
  SumMetricData,
} from '@opentelemetry/sdk-metrics';
import type { Aggregator } from './aggregator.ts';
import { DESCRIPTION, INSTRUMENT, LABEL, TOKEN_TYPES } from './names.ts';
import { POINT_TYPE, TEMPORALITY } from './otel-enums.ts';
import { exportsTokens, type Hist } from './series.ts';

/** The instrumentation scope tokenmeter's metrics are exported under. */
export const SCOPE = { name: 'tokenmeter', version: '0.1.0' } as const;

function sum(name: string, description: string, valueType: ValueType, dataPoints: DataPoint<number>[]): SumMetricData {
  return {
    descriptor: { name, description, unit: '', valueType },
    aggregationTemporality: TEMPORALITY.CUMULATIVE,
    dataPointType: POINT_TYPE.SUM,
    dataPoints,
    isMonotonic: true,
  };
}

function gauge(name: string, description: string, dataPoints: DataPoint<number>[]): GaugeMetricData {
  return {
    descriptor: { name, description, unit: '', valueType: ValueType.DOUBLE },
    aggregationTemporality: TEMPORALITY.CUMULATIVE,
    dataPointType: POINT_TYPE.GAUGE,
    dataPoints,
  };
}

function histogram(
  name: string,
  description: string,
  unit: string,
  valueType: ValueType,
  dataPoints: DataPoint<Histogram>[],
): HistogramMetricData {
  return {
    descriptor: { name, description, unit, valueType },
    aggregationTemporality: TEMPORALITY.CUMULATIVE,
    dataPointType: POINT_TYPE.HISTOGRAM,
    dataPoints,
  };
}

function point<T>(start: HrTime, end: HrTime, attributes: Attributes, value: T): DataPoint<T> {
  return { startTime: start, endTime: end, attributes, value };
}

function histPoint(start: HrTime, end: HrTime, h: Hist): DataPoint<Histogram> {
  return point(start, end, h.attributes, {
    buckets: { boundaries: [...h.boundaries], counts: [...h.counts] },
    sum: h.sum,
    count: h.count,
    min: h.min,
    max: h.max,
  });
}

/** Builds the metric data of every series, as cumulative OpenTelemetry metrics. */
export function collectMetricData(agg: Aggregator, startTime: HrTime): MetricData[] {
  const end = hrTime();
  const tokens: DataPoint<number>[] = [];
  const cost: DataPoint<number>[] = [];
  const requests: DataPoint<number>[] = [];
  const unpriced: DataPoint<number>[] = [];
  const tokenUsage: DataPoint<Histogram>[] = [];
  const duration: DataPoint<Histogram>[] = [];
  // Each series once: the aggregator keeps one per exported label set (see OwnSeries, GenAiSeries).
  for (const s of agg.ownSeries()) {
    const st = s.start;
    for (let i = 0; i < TOKEN_TYPES.length; i++) {
      const v = s.tokens[i] as number;
      if (exportsTokens(s, i, v)) tokens.push(point(st, end, s.tokenAttributes[i] as Attributes, v));
    }
    cost.push(point(st, end, s.attributes, s.costUsd));
    if (s.ok > 0) requests.push(point(st, end, s.statusAttributes[0], s.ok));
    if (s.errors > 0) requests.push(point(st, end, s.statusAttributes[1], s.errors));
    if (s.unpriced > 0) unpriced.push(point(st, end, s.attributes, s.unpriced));
  }
  for (const g of agg.genAiSeries()) {
    const st = g.start;
    if (g.input.count > 0) tokenUsage.push(histPoint(st, end, g.input));
    if (g.output.count > 0) tokenUsage.push(histPoint(st, end, g.output));
    if (g.duration.count > 0) duration.push(histPoint(st, end, g.duration));
    if (g.errors !== null) for (const h of g.errors.values()) duration.push(histPoint(st, end, h));
  }
  // Read before the internal errors, which count the gauges it leaves out.
  const gauges = agg.uniqueBudgetGauges().map((g) => g.gauge);
  const internal: DataPoint<number>[] = [];
  for (const [component, n] of agg.internalErrors) internal.push(point(startTime, end, { [LABEL.component]: component }, n));

  const metrics: MetricData[] = [
    sum(INSTRUMENT.tokens, DESCRIPTION.tokens, ValueType.INT, tokens),
    sum(INSTRUMENT.cost, DESCRIPTION.cost, ValueType.DOUBLE, cost),
    sum(INSTRUMENT.requests, DESCRIPTION.requests, ValueType.INT, requests),
    sum(INSTRUMENT.unpriced, DESCRIPTION.unpriced, ValueType.INT, unpriced),
    sum(INSTRUMENT.internalErrors, DESCRIPTION.internalErrors, ValueType.INT, internal),
  ];
  if (gauges.length > 0) {
    const limit: DataPoint<number>[] = [];
    const used: DataPoint<number>[] = [];
    const warning: DataPoint<number>[] = [];
    const critical: DataPoint<number>[] = [];
    const windowEnd: DataPoint<number>[] = [];
    for (const g of gauges) {
      limit.push(point(end, end, g.attributes, g.limit));
      used.push(point(end, end, g.attributes, g.used));
      warning.push(point(end, end, g.attributes, g.warning));
      critical.push(point(end, end, g.attributes, g.critical));
      if (g.windowEnd !== null) windowEnd.push(point(end, end, g.attributes, g.windowEnd));
    }
    metrics.push(
      gauge(INSTRUMENT.budgetLimit, DESCRIPTION.budgetLimit, limit),
      gauge(INSTRUMENT.budgetUsed, DESCRIPTION.budgetUsed, used),
      gauge(INSTRUMENT.budgetWarningRatio, DESCRIPTION.budgetWarningRatio, warning),
      gauge(INSTRUMENT.budgetCriticalRatio, DESCRIPTION.budgetCriticalRatio, critical),
      gauge(INSTRUMENT.budgetWindowEnd, DESCRIPTION.budgetWindowEnd, windowEnd),
    );
  }
  if (agg.semconv) {
    metrics.push(
      histogram(INSTRUMENT.tokenUsage, DESCRIPTION.tokenUsage, '{token}', ValueType.INT, tokenUsage),
      histogram(INSTRUMENT.operationDuration, DESCRIPTION.operationDuration, 's', ValueType.DOUBLE, duration),
    );
  }
  return metrics.filter((m) => m.dataPoints.length > 0);
}

/**
 * Whatever holds tokenmeter's metric producer: a `TokenMonitor` is one. The prom-client bridge
 * takes this rather than the monitor, so metrics/ needs nothing from above it.
 */
export interface MetricSource {
  /** The producer of tokenmeter's metrics; undefined when metrics are off. */
  readonly metricProducer: MetricProducer | undefined;
}

/**
 * A MetricProducer over tokenmeter's aggregates. Readers that tokenmeter starts use it; users who
 * build their own reader can add it: `new PrometheusExporter({ metricProducers: [monitor.metricProducer] })`.
 */
export class TokenmeterMetricProducer implements MetricProducer {
  readonly #agg: Aggregator;
  readonly #resource: Resource;
  readonly #start: HrTime = hrTime();
  /** `resource`: the monitor's (see resource.ts); a reader of yours reports its MeterProvider's instead. */
  constructor(agg: Aggregator, resource: Resource = defaultResource()) {
    this.#agg = agg;
    this.#resource = resource;
  }
  async collect(): Promise<CollectionResult> {
    try {
      return {
        resourceMetrics: {
          resource: this.#resource,
          scopeMetrics: [{ scope: SCOPE, metrics: collectMetricData(this.#agg, this.#start) }],
        },
        errors: [],
      };
    } catch (error) {
      this.#agg.internalError('collect');
      return { resourceMetrics: { resource: this.#resource, scopeMetrics: [] }, errors: [error] };
    }
  }
}
