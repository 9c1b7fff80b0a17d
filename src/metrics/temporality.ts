/**
 * Delta temporality for OTLP. tokenmeter's aggregates are running totals (cumulative), which is
 * what Prometheus wants; backends that want deltas (Datadog, Dynatrace, some vendors' OTLP intake)
 * get the difference since the last export, made here from the totals. The producer stays
 * cumulative for every other reader.
 */
import type { HrTime } from '@opentelemetry/api';
import type { DataPoint, Histogram, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { ValidationError } from '../errors.ts';
import type { Env } from '../logger.ts';
import { POINT_TYPE, TEMPORALITY } from './otel-enums.ts';

/** What the OTLP exporter sends: OpenTelemetry's OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE values. */
export type TemporalityPreference = 'cumulative' | 'delta' | 'lowmemory';
const PREFERENCES: readonly string[] = ['cumulative', 'delta', 'lowmemory'];

/** Checks `metrics.otlp.temporality` (called before the monitor starts anything). */
export function checkTemporality(value: unknown): void {
  if (value !== undefined && !PREFERENCES.includes(value as string)) {
    throw new ValidationError('metrics.otlp.temporality', value, `must be one of ${PREFERENCES.join(', ')}`);
  }
}

/** The option, else $OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE (any case), else cumulative; a bad variable is reported and ignored. */
export function temporalityPreference(
  option: TemporalityPreference | undefined,
  env: Env,
  warn: (m: string) => void,
): TemporalityPreference {
  if (option !== undefined) return option;
  const raw = env.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE?.trim().toLowerCase();
  if (raw === undefined || raw === '') return 'cumulative';
  if (PREFERENCES.includes(raw)) return raw as TemporalityPreference;
  warn(
    `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE is ${JSON.stringify(raw)}, not one of ${PREFERENCES.join(', ')}: cumulative is sent`,
  );
  return 'cumulative';
}

/**
 * Whether tokenmeter's counters and histograms go as deltas. They are recorded call by call, so
 * they count as synchronous instruments: delta under both `delta` and `lowmemory`, as the spec's
 * selectors have it for Counter and Histogram. Gauges have no temporality.
 */
export function sendsDelta(preference: TemporalityPreference): boolean {
  return preference !== 'cumulative';
}

interface Last {
  value: number | Histogram;
  time: HrTime;
}

function attributesKey(name: string, p: DataPoint<unknown>): string {
  const entries = Object.entries(p.attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${name}\u0000${JSON.stringify(entries)}`;
}

/**
 * Turns cumulative exports into deltas: each series' change since the last export that got
 * through. The baseline moves when an export is made, and moves back if that export fails, so a
 * refused push is sent again within the next delta rather than lost.
 */
export class DeltaConverter {
  readonly #last = new Map<string, Last>();

  /** The deltas of `rm`, and `rollback()` to call if their export fails. */
  convert(rm: ResourceMetrics): { metrics: ResourceMetrics; rollback: () => void } {
    const moved: [key: string, before: Last | undefined, after: Last][] = [];
    const scopeMetrics = rm.scopeMetrics.map((sm) => ({
      scope: sm.scope,
      metrics: sm.metrics.map((m) => this.#metric(m, moved)).filter((m): m is MetricData => m !== undefined && m.dataPoints.length > 0),
    }));
    const rollback = () => {
      for (const [key, before, after] of moved) {
        // Only if no later export moved it again.
        if (this.#last.get(key) !== after) continue;
        if (before === undefined) this.#last.delete(key);
        else this.#last.set(key, before);
      }
    };
    return { metrics: { resource: rm.resource, scopeMetrics }, rollback };
  }

  #metric(m: MetricData, moved: [string, Last | undefined, Last][]): MetricData | undefined {
    const name = m.descriptor.name;
    if (m.dataPointType === POINT_TYPE.SUM && m.isMonotonic) {
      const dataPoints: DataPoint<number>[] = [];
      for (const p of m.dataPoints) {
        const key = attributesKey(name, p);
        const before = this.#last.get(key);
        const after: Last = { value: p.value, time: p.endTime };
        this.#last.set(key, after);
        moved.push([key, before, after]);
        const prev = before?.value as number | undefined;
        // A total that went down started again (a new series): its whole value is new.
        const delta = prev === undefined || p.value < prev ? p.value : p.value - prev;
        if (before !== undefined && delta === 0) continue;
        dataPoints.push({ ...p, startTime: before !== undefined && p.value >= prev! ? before.time : p.startTime, value: delta });
      }
      return { ...m, aggregationTemporality: TEMPORALITY.DELTA, dataPoints };
    }
    if (m.dataPointType === POINT_TYPE.HISTOGRAM) {
      const dataPoints: DataPoint<Histogram>[] = [];
      for (const p of m.dataPoints) {
        const key = attributesKey(name, p);
        const before = this.#last.get(key);
        const after: Last = { value: p.value, time: p.endTime };
        this.#last.set(key, after);
        moved.push([key, before, after]);
        const prev = before?.value as Histogram | undefined;
        const fresh = prev === undefined || p.value.count < prev.count;
        if (fresh) {
          dataPoints.push(p);
          continue;
        }
        if (p.value.count === prev.count) continue;
        dataPoints.push({
          ...p,
          startTime: (before as Last).time,
          // The interval's extremes are not known from two totals' extremes: min and max are left out.
          value: {
            buckets: {
              boundaries: p.value.buckets.boundaries,
              counts: p.value.buckets.counts.map((c, i) => c - (prev.buckets.counts[i] ?? 0)),
            },
            count: p.value.count - prev.count,
            ...(p.value.sum === undefined || prev.sum === undefined ? {} : { sum: p.value.sum - prev.sum }),
          },
        });
      }
      return { ...m, aggregationTemporality: TEMPORALITY.DELTA, dataPoints };
    }
    return m;
  }
}
