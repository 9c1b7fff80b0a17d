import type { Attributes, HrTime } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import { MAX_ERROR_TYPES_PER_SET } from './cardinality.ts';
import { LABEL, OPERATION_DURATION_BUCKETS, OTHER, SEMCONV, TOKEN_TYPES, TOKEN_USAGE_BUCKETS } from './names.ts';

/** Exposition text of one label: `name="value"`, escaped as the Prometheus text format asks. */
export function labelText(name: string, value: string): string {
  // https://prometheus.io/docs/instrumenting/exposition_formats/#text-format-details
  return `${name.replace(/[^a-zA-Z0-9_]/g, '_').replace(/_{2,}/g, '_')}="${value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`;
}

/** Exposition text of a set of attributes, in their order. */
export function labelsText(attributes: Attributes): string {
  let out = '';
  for (const [k, v] of Object.entries(attributes)) out += `${out === '' ? '' : ','}${labelText(k, String(v))}`;
  return out;
}

/** A histogram with fixed boundaries, in the shape sdk-metrics exports. */
export class Hist {
  readonly boundaries: readonly number[];
  readonly counts: number[];
  sum = 0;
  count = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  readonly attributes: Attributes;
  /** The attributes as exposition text (made once, read at every scrape). */
  readonly labels: string;
  constructor(boundaries: readonly number[], attributes: Attributes) {
    this.boundaries = boundaries;
    this.counts = new Array<number>(boundaries.length + 1).fill(0);
    this.attributes = attributes;
    this.labels = labelsText(attributes);
  }
  record(v: number): void {
    const b = this.boundaries;
    let i = 0;
    // OpenTelemetry buckets are (b[i-1], b[i]]: a value equal to a boundary falls in that bucket.
    while (i < b.length && v > (b[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += v;
    this.count++;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }
}

/**
 * Whether a series exports token type `t` (holding `v`): input and output once some call reported
 * them (a reported 0 included: ratios have both sides), the finer types once they occur. A count no
 * call reported (a rerank's tokens, an embedding's output) is not exported as 0.
 */
export function exportsTokens(s: OwnSeries, t: number, v: number): boolean {
  return ((s.reported >> t) & 1) === 1 && (t < 2 || v > 0);
}

/**
 * Running totals of one label set of tokenmeter's own metrics. There is one per distinct set of
 * exported labels, whatever the calls that map onto it (request models, capped values), so no two
 * points of an instrument carry the same labels: Prometheus keeps the first of such twins and
 * drops the rest without an error.
 */
export class OwnSeries {
  readonly start: HrTime = hrTime();
  /** Labels of tokenmeter's own metrics. */
  readonly attributes: Attributes;
  /** The attributes as exposition text. */
  readonly labels: string;
  /** Per token type, the attributes with `token_type` added (precomputed for collection). */
  readonly tokenAttributes: Attributes[];
  readonly statusAttributes: readonly [Attributes, Attributes];
  /** Tokens per type, in TOKEN_TYPES order. */
  readonly tokens = [0, 0, 0, 0, 0];
  /** Bit t set once some call reported a count of token type t (0 included): the types exported. */
  reported = 0;
  ok = 0;
  errors = 0;
  unpriced = 0;
  /** Known cost as whole microdollars plus a picodollar remainder (see CostSum). */
  costMicro = 0;
  costPico = 0;

  constructor(attributes: Attributes) {
    this.attributes = attributes;
    this.labels = labelsText(attributes);
    this.tokenAttributes = TOKEN_TYPES.map((t) => ({ ...attributes, [LABEL.tokenType]: t }));
    this.statusAttributes = [
      { ...attributes, [LABEL.status]: 'ok' },
      { ...attributes, [LABEL.status]: 'error' },
    ];
  }

  get costUsd(): number {
    return this.costMicro / 1e6 + this.costPico / 1e12;
  }
}

/**
 * The GenAI semantic-convention histograms of one set of `gen_ai.*` attributes: one per distinct
 * set, shared by every label set of tokenmeter's that maps onto it (two operations of one model
 * are both `chat`; a model called with and without a request model is one request model).
 */
export class GenAiSeries {
  readonly start: HrTime = hrTime();
  readonly attributes: Attributes;
  readonly input: Hist;
  readonly output: Hist;
  readonly duration: Hist;
  /** Durations of failed calls by `error.type` (at most MAX_ERROR_TYPES_PER_SET, then `_other`). */
  errors: Map<string, Hist> | null = null;

  constructor(attributes: Attributes) {
    this.attributes = attributes;
    this.input = new Hist(TOKEN_USAGE_BUCKETS, { ...attributes, [SEMCONV.tokenType]: 'input' });
    this.output = new Hist(TOKEN_USAGE_BUCKETS, { ...attributes, [SEMCONV.tokenType]: 'output' });
    this.duration = new Hist(OPERATION_DURATION_BUCKETS, attributes);
  }

  /** The duration histogram of failures of `errorType`: its own while there are few, else `_other`'s. */
  errorHist(errorType: string): Hist {
    if (this.errors === null) this.errors = new Map();
    const map = this.errors;
    const h = map.get(errorType);
    if (h !== undefined) return h;
    const named = map.size - (map.has(OTHER) ? 1 : 0);
    const type = named < MAX_ERROR_TYPES_PER_SET ? errorType : OTHER;
    let folded = map.get(type);
    if (folded === undefined) {
      folded = new Hist(OPERATION_DURATION_BUCKETS, { ...this.attributes, [SEMCONV.errorType]: type });
      map.set(type, folded);
    }
    return folded;
  }
}

/** One label set of calls (a path in the aggregator's trie): where its numbers go. */
export class Series<Slot = unknown> {
  /** tokenmeter's own metrics, shared with every label set that exports the same labels. */
  readonly own: OwnSeries;
  /** The GenAI histograms (shared likewise), or null when those metrics are off. */
  readonly genai: GenAiSeries | null;
  /** Free for the owner (the monitor keeps the model's resolved price here). */
  slot: Slot | undefined;

  constructor(own: OwnSeries, genai: GenAiSeries | null) {
    this.own = own;
    this.genai = genai;
  }
}
