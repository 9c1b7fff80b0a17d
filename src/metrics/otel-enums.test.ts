import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { POINT_TYPE, TEMPORALITY } from './otel-enums.ts';

describe('the sdk-metrics enum values tokenmeter writes without loading the SDK', () => {
  it('are the installed SDK’s', () => {
    expect(TEMPORALITY).toEqual({ DELTA: AggregationTemporality.DELTA, CUMULATIVE: AggregationTemporality.CUMULATIVE });
    expect(POINT_TYPE).toEqual({ HISTOGRAM: DataPointType.HISTOGRAM, GAUGE: DataPointType.GAUGE, SUM: DataPointType.SUM });
  });
});
