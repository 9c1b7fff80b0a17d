import type { Attributes } from '@opentelemetry/api';
import {
  DataPointType,
  type Histogram,
  MeterProvider,
  type MetricData,
  type MetricProducer,
  MetricReader,
} from '@opentelemetry/sdk-metrics';

/** A pull reader for tests: `collect()` returns what an exporter would get. */
export class TestReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
  async metrics(): Promise<MetricData[]> {
    const { resourceMetrics, errors } = await this.collect();
    if (errors.length > 0) throw errors[0];
    return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
  }
}

/** A reader fed by a monitor's producer, bound to a MeterProvider of its own, as a user would set it up. */
export function readerFor(producer: MetricProducer | undefined): TestReader {
  if (producer === undefined) throw new Error('the monitor has no metric producer');
  const reader = new TestReader({ metricProducers: [producer] });
  new MeterProvider({ readers: [reader] });
  return reader;
}

export interface Point<T = number> {
  attributes: Attributes;
  value: T;
}

/** The data points of one metric, by instrument name. */
export function sums(metrics: MetricData[], name: string): Point[] {
  const m = metrics.find((x) => x.descriptor.name === name);
  if (m === undefined) return [];
  if (m.dataPointType !== DataPointType.SUM) throw new Error(`${name} is not a sum`);
  return m.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value }));
}

export function histograms(metrics: MetricData[], name: string): Point<Histogram>[] {
  const m = metrics.find((x) => x.descriptor.name === name);
  if (m === undefined) return [];
  if (m.dataPointType !== DataPointType.HISTOGRAM) throw new Error(`${name} is not a histogram`);
  return m.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value }));
}

/** The value of the one point whose attributes include `match`. */
export function pointValue(points: Point[], match: Attributes): number | undefined {
  const found = points.filter((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v));
  if (found.length > 1) throw new Error(`${found.length} points match ${JSON.stringify(match)}`);
  return found[0]?.value;
}

/** A logger that keeps its lines, for asserting on warnings. */
export function memoryLogger(): {
  lines: string[];
  debug(m: string): void;
  info(m: string): void;
  warn(m: string): void;
  error(m: string): void;
} {
  const lines: string[] = [];
  return {
    lines,
    debug: (m) => lines.push(`debug: ${m}`),
    info: (m) => lines.push(`info: ${m}`),
    warn: (m) => lines.push(`warn: ${m}`),
    error: (m) => lines.push(`error: ${m}`),
  };
}
