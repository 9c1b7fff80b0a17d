import type { Attributes, HrTime } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
import { ValidationError } from '../errors.ts';
import type { ValidUsage } from '../usage.ts';
import { LABEL, OPERATION_DURATION_BUCKETS, OTHER, SEMCONV, SEMCONV_PROVIDER, TOKEN_TYPES, TOKEN_USAGE_BUCKETS } from './names.ts';

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
 * Running totals of one label set of tokenmeter's own metrics. There is one per distinct set of
 * exported labels, whatever the calls that map onto it (request models, capped values), so no two
 * points of an instrument carry the same labels: Prometheus keeps the first of such twins and
 * drops the rest without an error.
 */
/**
 * Whether a series exports token type `t` (holding `v`): input and output once some call reported
 * them (a reported 0 included: ratios have both sides), the finer types once they occur. A count no
 * call reported (a rerank's tokens, an embedding's output) is not exported as 0.
 */
export function exportsTokens(s: OwnSeries, t: number, v: number): boolean {
  return ((s.reported >> t) & 1) === 1 && (t < 2 || v > 0);
}

/** Adds a call's count of token type `type` to a series; null (not reported) adds nothing. */
function addTokens(o: OwnSeries, type: number, n: number | null): void {
  if (n === null) return;
  o.tokens[type] = (o.tokens[type] as number) + n;
  o.reported |= 1 << type;
}

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

/** Maps our service types onto `gen_ai.operation.name` when the operation is not a well-known one. */
const SEMCONV_OPERATIONS = new Set([
  'chat',
  'text_completion',
  'generate_content',
  'embeddings',
  'create_agent',
  'invoke_agent',
  'execute_tool',
]);
const DEFAULT_SEMCONV_OPERATION = { llm: 'chat', embedding: 'embeddings', reranking: 'rerank' } as const;

export interface AggregatorOptions {
  semconv: boolean;
  labels: MetricLabelOptions;
  cardinality: Required<CardinalityOptions>;
  /** Told once per label (or once for the label-set cap) when a cap starts folding values. */
  onCap: (what: string, message: string) => void;
}

/** A trie of label values; the last level holds the series. */
type Trie<Slot> = Map<string, Trie<Slot> | Series<Slot>>;

/**
 * In-memory aggregation of every recorded call: the hot path. A walk down a trie of label values
 * (whose string hashes V8 caches, unlike a key concatenated per call) finds the label set's running
 * totals; the OpenTelemetry SDK reads them only at collection time (see producer.ts), so a call
 * costs a few additions instead of one SDK instrument call per metric.
 */
/** One budget's gauges (tokenmeter_budget_*), as the monitor reports them at collection time. */
export interface BudgetGauge {
  /** scope, scope_id, window, unit, budget. */
  attributes: Record<string, string>;
  limit: number;
  used: number;
  warning: number;
  critical: number;
  /** Unix seconds; null for rolling windows and runs. */
  windowEnd: number | null;
}

export class Aggregator<Slot = unknown> {
  readonly internalErrors = new Map<string, number>([['record', 0]]);
  /** Budget gauges, read at collection time (set by the monitor when it has budgets). */
  budgetGauges: (() => readonly BudgetGauge[]) | undefined;
  readonly #opts: AggregatorOptions;
  readonly #seen = new Map<string, Set<string>>();
  readonly #root: Trie<Slot> = new Map();
  /** Label sets made so far (what maxLabelSets caps). */
  #sets = 0;
  /** Each exported series once, by its labels (a JSON array of the values: no separator can be faked). */
  readonly #own = new Map<string, OwnSeries>();
  readonly #genai = new Map<string, GenAiSeries>();
  readonly #ownList: OwnSeries[] = [];
  readonly #genaiList: GenAiSeries[] = [];
  #aliases = 0;
  /** Budget gauge label sets already reported as shared by two budgets. */
  readonly #gaugeTwins = new Set<string>();

  constructor(options: AggregatorOptions) {
    validateCardinality(options.cardinality);
    this.#opts = options;
  }

  get semconv(): boolean {
    return this.#opts.semconv;
  }

  /** The label values of a call, in trie order (optional labels only when on). */
  #path(u: ValidUsage): string[] {
    const l = this.#opts.labels;
    const p = [u.provider, u.model, u.serviceType, u.operation, u.requestModel ?? ''];
    if (l.agent) p.push(u.agent ?? '');
    if (l.userId) p.push(u.userId ?? '');
    if (l.threadId) p.push(u.threadId ?? '');
    if (l.apiKeyId) p.push(u.apiKeyId ?? '');
    return p;
  }

  #find(path: readonly string[]): Series<Slot> | undefined {
    let node: Trie<Slot> | Series<Slot> | undefined = this.#root;
    for (let i = 0; i < path.length; i++) {
      node = (node as Trie<Slot>).get(path[i] as string);
      if (node === undefined) return undefined;
    }
    return node as Series<Slot>;
  }

  #insert(path: readonly string[], s: Series<Slot>): void {
    let node = this.#root;
    for (let i = 0; i < path.length - 1; i++) {
      const k = path[i] as string;
      let next = node.get(k) as Trie<Slot> | undefined;
      if (next === undefined) {
        next = new Map();
        node.set(k, next);
      }
      node = next;
    }
    node.set(path[path.length - 1] as string, s);
  }

  /** The running totals for a call's label set, created on first use (within the caps). */
  seriesFor(u: ValidUsage): Series<Slot> {
    return this.#walk(u) ?? this.#create(this.#path(u), u);
  }

  /**
   * `#find(#path(u))` without building the path: down the trie by the record's fields, in trie
   * order (the array of label values it saves was a fifth of record()'s time, measured).
   */
  #walk(u: ValidUsage): Series<Slot> | undefined {
    const l = this.#opts.labels;
    type Node = Trie<Slot> | undefined;
    let n = this.#root.get(u.provider) as Node;
    n = n?.get(u.model) as Node;
    n = n?.get(u.serviceType) as Node;
    n = n?.get(u.operation) as Node;
    n = n?.get(u.requestModel ?? '') as Node;
    if (l.agent) n = n?.get(u.agent ?? '') as Node;
    if (l.userId) n = n?.get(u.userId ?? '') as Node;
    if (l.threadId) n = n?.get(u.threadId ?? '') as Node;
    if (l.apiKeyId) n = n?.get(u.apiKeyId ?? '') as Node;
    return n as unknown as Series<Slot> | undefined;
  }

  #cap(label: string, value: string): string {
    let seen = this.#seen.get(label);
    if (seen === undefined) {
      seen = new Set();
      this.#seen.set(label, seen);
    }
    if (seen.has(value)) return value;
    if (seen.size < this.#opts.cardinality.maxValuesPerLabel) {
      seen.add(value);
      return value;
    }
    this.#opts.onCap(
      `label:${label}`,
      `label ${label} reached its cap of ${this.#opts.cardinality.maxValuesPerLabel} distinct values; new values report as ${OTHER} (raise metrics.maxValuesPerLabel, or keep this label in the ledger only)`,
    );
    return OTHER;
  }

  #create(rawPath: readonly string[], u: ValidUsage): Series<Slot> {
    const l = this.#opts.labels;
    const max = this.#opts.cardinality.maxLabelSets;
    const overflow = this.#sets >= max;
    if (overflow) {
      this.#opts.onCap(
        'label-sets',
        `metrics reached the cap of ${max} label sets; new label sets report with every label ${OTHER} (raise metrics.maxLabelSets; OpenTelemetry's own limit is 2,000 series per instrument)`,
      );
    }
    const cap = (label: string, value: string): string => (overflow ? OTHER : this.#cap(label, value));
    const attrs: Attributes = {
      [LABEL.provider]: cap(LABEL.provider, u.provider),
      [LABEL.model]: cap(LABEL.model, u.model),
      [LABEL.serviceType]: u.serviceType,
      [LABEL.operation]: cap(LABEL.operation, u.operation),
    };
    const requestModel = u.requestModel === null ? null : cap('request_model', u.requestModel);
    const path = [
      attrs[LABEL.provider] as string,
      attrs[LABEL.model] as string,
      u.serviceType,
      attrs[LABEL.operation] as string,
      requestModel ?? '',
    ];
    for (const [on, name, value] of [
      [l.agent, LABEL.agent, u.agent],
      [l.userId, LABEL.userId, u.userId],
      [l.threadId, LABEL.threadId, u.threadId],
      [l.apiKeyId, LABEL.apiKeyId, u.apiKeyId],
    ] as const) {
      if (!on) continue;
      const v = cap(name, value ?? '');
      attrs[name] = v;
      path.push(v);
    }
    let s = this.#find(path);
    if (s === undefined) {
      // The request model is in the path (it tells the GenAI series apart) but not in tokenmeter's
      // labels: the label sets that differ only there share one OwnSeries.
      const ownKey = JSON.stringify(Object.values(attrs));
      let own = this.#own.get(ownKey);
      if (own === undefined) {
        own = new OwnSeries(attrs);
        this.#own.set(ownKey, own);
        this.#ownList.push(own);
      }
      let genai: GenAiSeries | null = null;
      if (this.#opts.semconv) {
        const operation = attrs[LABEL.operation] as string;
        const provider = attrs[LABEL.provider] as string;
        const semconv: Attributes = {
          // From the capped operation: an overflow set's calls all report the service type's default.
          [SEMCONV.operationName]: SEMCONV_OPERATIONS.has(operation) ? operation : DEFAULT_SEMCONV_OPERATION[u.serviceType],
          [SEMCONV.providerName]: SEMCONV_PROVIDER[provider] ?? provider,
          [SEMCONV.requestModel]: requestModel ?? (attrs[LABEL.model] as string),
          [SEMCONV.responseModel]: attrs[LABEL.model] as string,
        };
        const genaiKey = JSON.stringify(Object.values(semconv));
        genai = this.#genai.get(genaiKey) ?? null;
        if (genai === null) {
          genai = new GenAiSeries(semconv);
          this.#genai.set(genaiKey, genai);
          this.#genaiList.push(genai);
        }
      }
      s = new Series<Slot>(own, genai);
      this.#insert(path, s);
      this.#sets++;
    }
    // Remember a capped raw label set too while there are few, so its repeats skip the capping work.
    if (!overflow && this.#aliases < max * 3 && rawPath.some((v, i) => v !== path[i])) {
      this.#insert(rawPath, s);
      this.#aliases++;
    }
    return s;
  }

  /** Adds one call to its series. `costPico` is null when the call has no known price. */
  add(s: Series<Slot>, u: ValidUsage, costPico: number | null): void {
    const o = s.own;
    if (u.error) o.errors++;
    else o.ok++;
    // An unknown count (a rerank's tokens, an embedding's output) adds nothing and exports nothing:
    // a series of 0 would say the provider reported none.
    addTokens(o, 0, u.inputTokens);
    addTokens(o, 1, u.outputTokens);
    addTokens(o, 2, u.cachedInputTokens);
    addTokens(o, 3, u.cacheWriteTokens);
    addTokens(o, 4, u.reasoningTokens);
    if (costPico === null) {
      o.unpriced++;
    } else if (costPico > 0) {
      let p = o.costPico + costPico;
      if (p >= 1e6) {
        const carry = Math.floor(p / 1e6);
        o.costMicro += carry;
        p -= carry * 1e6;
      }
      o.costPico = p;
    }
    const g = s.genai;
    if (g !== null) {
      // The conventions record token usage only when the provider reported it.
      if (u.inputTokens !== null) g.input.record(u.inputTokens);
      if (u.outputTokens !== null) g.output.record(u.outputTokens);
      if (u.durationMs !== null) {
        if (!u.error) g.duration.record(u.durationMs / 1000);
        else g.errorHist(u.errorType ?? 'error').record(u.durationMs / 1000);
      }
    }
  }

  /**
   * The budget gauges, each label set once. The `budget` label tells apart budgets that share
   * scope, scope_id, window and unit (a provider budget and that provider's monthly_limit; a `*`
   * budget's state for a user and that user's own budget); should two gauges still share every
   * label, Prometheus would keep one and drop the other unseen: the first is exported, and each
   * label set left out is counted once in tokenmeter_internal_errors_total and warned of.
   */
  uniqueBudgetGauges(): { gauge: BudgetGauge; labels: string }[] {
    const all = this.budgetGauges?.() ?? [];
    const out: { gauge: BudgetGauge; labels: string }[] = [];
    if (all.length === 0) return out;
    const seen = new Set<string>();
    for (const gauge of all) {
      const labels = labelsText(gauge.attributes);
      if (!seen.has(labels)) {
        seen.add(labels);
        out.push({ gauge, labels });
      } else if (!this.#gaugeTwins.has(labels)) {
        this.#gaugeTwins.add(labels);
        this.internalError('budget_gauges');
        this.#opts.onCap(
          'budget-gauges',
          `two budget gauges with the same labels {${labels}}: only the first is exported (tokenmeter status shows both; give one budget another scope or unit)`,
        );
      }
    }
    return out;
  }

  /** Counts a failure inside tokenmeter. */
  internalError(component: string): void {
    this.internalErrors.set(component, (this.internalErrors.get(component) ?? 0) + 1);
  }

  /** tokenmeter's own series, each once, in the order they were made. */
  ownSeries(): readonly OwnSeries[] {
    return this.#ownList;
  }

  /** The GenAI histograms' series, each once, in the order they were made. */
  genAiSeries(): readonly GenAiSeries[] {
    return this.#genaiList;
  }
}
