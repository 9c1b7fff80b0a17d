import { ValidationError } from '../errors.ts';

/** Which of the optional, high-cardinality labels go on tokenmeter's metrics. All off by default. */
export interface MetricLabelOptions {
  /** @default false */
  agent?: boolean;
  /** @default false */
  userId?: boolean;
  /** @default false */
  threadId?: boolean;
  /** @default false */
  apiKeyId?: boolean;
}

/** How many series the aggregator may hold. */
export interface CardinalityOptions {
  /**
   * Distinct values one label may take (per monitor); past it, new values report as `_other`.
   * At most {@link MAX_CAP}.
   * @default 100
   */
  maxValuesPerLabel?: number;
  /**
   * Distinct label sets (provider, model, service type, operation and the optional labels); past
   * it, new ones fold into one overflow set whose labels read `_other`. The default keeps
   * `tokenmeter_tokens_total` (5 token types per set) under OpenTelemetry's default limit of
   * 2,000 series per instrument, so this cap acts first. At most {@link MAX_CAP}: each label set
   * can add up to MAX_SERIES_PER_LABEL_SET series to a scrape.
   * @default 300
   */
  maxLabelSets?: number;
}

/**
 * Distinct `error.type` values per label set on the duration histogram; the rest report as
 * `_other`. A label set then has at most 1 + 4 + 1 duration series: with the default 300 label sets
 * (and the overflow set) the histogram stays at most 1,806 series.
 */
export const MAX_ERROR_TYPES_PER_SET = 4;

/** Series one label set adds to the largest instrument (`tokenmeter_tokens_total`, one per token type). */
export const SERIES_PER_LABEL_SET = 6;

export const CARDINALITY_DEFAULTS: Required<CardinalityOptions> = { maxValuesPerLabel: 100, maxLabelSets: 300 };

/**
 * Series one label set can add to a scrape at most: tokenmeter's own (5 token types, cost, 2
 * statuses, unpriced) and the GenAI histograms' (input, output, duration and 5 error types, each
 * 15 buckets, a sum and a count).
 */
export const MAX_SERIES_PER_LABEL_SET = 9 + (2 + 1 + MAX_ERROR_TYPES_PER_SET + 1) * 17;

/**
 * The largest caps accepted. At this many label sets, each filled to MAX_SERIES_PER_LABEL_SET, one
 * scrape is 1.45 million samples and 281 MB of text, served in 3.3 s (median over HTTP on a busy
 * 2-core machine, against 85 ms for the default 300 sets; memory flat: `node bench/run.ts
 * metrics-scrape`): within Prometheus's default 10 s scrape_timeout with room to spare. Past it the
 * scrape nears that timeout, and each series costs Prometheus some kilobytes of memory besides.
 */
export const MAX_CAP = 10_000;

/** Checks the caps: whole numbers from 1 to MAX_CAP, named in the error when not. */
export function validateCardinality(c: CardinalityOptions): void {
  for (const key of ['maxLabelSets', 'maxValuesPerLabel'] as const) {
    const v = c[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
      throw new ValidationError(`metrics.${key}`, v, 'must be a positive integer');
    if (v > MAX_CAP) {
      throw new ValidationError(
        `metrics.${key}`,
        v,
        `the maximum is ${MAX_CAP}: each label set can add up to ${MAX_SERIES_PER_LABEL_SET} series to every scrape; keep high-cardinality labels such as user ids in the ledger, which reports on them without a cap`,
      );
    }
  }
}
