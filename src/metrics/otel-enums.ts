import type { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';

/**
 * The values of @opentelemetry/sdk-metrics' enums that tokenmeter's metric data carries, as
 * constants of the SDK's own types. Importing the enums loads the whole SDK (about 1 MB of heap)
 * into every app, even one that serves tokenmeter's Prometheus endpoint and never hands it a
 * MeterProvider; the SDK itself is loaded only for OTLP (exporters.ts). otel-enums.test.ts checks
 * each against the SDK's.
 */
export const TEMPORALITY = {
  DELTA: 0 as AggregationTemporality.DELTA,
  CUMULATIVE: 1 as AggregationTemporality.CUMULATIVE,
} as const;

export const POINT_TYPE = {
  HISTOGRAM: 0 as DataPointType.HISTOGRAM,
  GAUGE: 2 as DataPointType.GAUGE,
  SUM: 3 as DataPointType.SUM,
} as const;
