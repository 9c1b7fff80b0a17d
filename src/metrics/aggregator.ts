import type { Attributes, HrTime } from '@opentelemetry/api';
import { hrTime } from '@opentelemetry/core';
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
   * @default 100
   */
  maxValuesPerLabel?: number;
  /**
   * Distinct label sets (provider, model, service type, operation and the optional labels); past
   * it, new ones fold into one overflow set whose labels read `_other`. The default keeps
   * `tokenmeter_tokens_total` (5 token types per set) under OpenTelemetry's default limit of
   * 2,000 series per instrument, so this cap acts first.
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

/** A histogram with fixed boundaries, in the shape sdk-metrics exports. */
export class Hist {
  readonly boundaries: readonly number[];
  readonly counts: number[];
  sum = 0;
  count = 0;
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  readonly attributes: Attributes;
  constructor(boundaries: readonly number[], attributes: Attributes) {
    this.boundaries = boundaries;
    this.counts = new Array<number>(boundaries.length + 1).fill(0);
    this.attributes = attributes;
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

/** Running totals of one label set. */
export class Series<Slot = unknown> {
  readonly start: HrTime = hrTime();
  /** Labels of tokenmeter's own metrics. */
  readonly attributes: Attributes;
  /** Per token type, the attributes with `token_type` added (precomputed for collection). */
  readonly tokenAttributes: Attributes[];
  readonly statusAttributes: readonly [Attributes, Attributes];
  /** Tokens per type, in TOKEN_TYPES order. */
  readonly tokens = [0, 0, 0, 0, 0];
  ok = 0;
  errors = 0;
  unpriced = 0;
  /** Known cost as whole microdollars plus a picodollar remainder (see CostSum). */
  costMicro = 0;
  costPico = 0;
  /** Semantic-convention attributes, or null when those metrics are off. */
  readonly semconv: Attributes | null;
  inputHist: Hist | null = null;
  outputHist: Hist | null = null;
  durationHist: Hist | null = null;
  errorDurationHists: Map<string, Hist> | null = null;
  /** Free for the owner (the monitor keeps the model's resolved price here). */
  slot: Slot | undefined;

  constructor(attributes: Attributes, semconv: Attributes | null) {
    this.attributes = attributes;
    this.tokenAttributes = TOKEN_TYPES.map((t) => ({ ...attributes, [LABEL.tokenType]: t }));
    this.statusAttributes = [
      { ...attributes, [LABEL.status]: 'ok' },
      { ...attributes, [LABEL.status]: 'error' },
    ];
    this.semconv = semconv;
    if (semconv !== null) {
      this.inputHist = new Hist(TOKEN_USAGE_BUCKETS, { ...semconv, [SEMCONV.tokenType]: 'input' });
      this.outputHist = new Hist(TOKEN_USAGE_BUCKETS, { ...semconv, [SEMCONV.tokenType]: 'output' });
      this.durationHist = new Hist(OPERATION_DURATION_BUCKETS, semconv);
    }
  }

  get costUsd(): number {
    return this.costMicro / 1e6 + this.costPico / 1e12;
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
  /** scope, scope_id, window, unit. */
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
  readonly #all: Series<Slot>[] = [];
  #aliases = 0;

  constructor(options: AggregatorOptions) {
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
    const path = this.#path(u);
    return this.#find(path) ?? this.#create(path, u);
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
    const overflow = this.#all.length >= max;
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
      let semconv: Attributes | null = null;
      if (this.#opts.semconv) {
        const op = SEMCONV_OPERATIONS.has(u.operation) ? u.operation : DEFAULT_SEMCONV_OPERATION[u.serviceType];
        const provider = attrs[LABEL.provider] as string;
        semconv = {
          [SEMCONV.operationName]: op,
          [SEMCONV.providerName]: SEMCONV_PROVIDER[provider] ?? provider,
          [SEMCONV.requestModel]: requestModel ?? (attrs[LABEL.model] as string),
          [SEMCONV.responseModel]: attrs[LABEL.model] as string,
        };
      }
      s = new Series<Slot>(attrs, semconv);
      this.#insert(path, s);
      this.#all.push(s);
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
    if (u.error) s.errors++;
    else s.ok++;
    const t = s.tokens;
    if (u.inputTokens !== null) t[0] = (t[0] as number) + u.inputTokens;
    if (u.outputTokens !== null) t[1] = (t[1] as number) + u.outputTokens;
    if (u.cachedInputTokens !== null) t[2] = (t[2] as number) + u.cachedInputTokens;
    if (u.cacheWriteTokens !== null) t[3] = (t[3] as number) + u.cacheWriteTokens;
    if (u.reasoningTokens !== null) t[4] = (t[4] as number) + u.reasoningTokens;
    if (costPico === null) {
      s.unpriced++;
    } else if (costPico > 0) {
      let p = s.costPico + costPico;
      if (p >= 1e6) {
        const carry = Math.floor(p / 1e6);
        s.costMicro += carry;
        p -= carry * 1e6;
      }
      s.costPico = p;
    }
    if (s.semconv !== null) {
      // The conventions record token usage only when the provider reported it.
      if (u.inputTokens !== null) (s.inputHist as Hist).record(u.inputTokens);
      if (u.outputTokens !== null) (s.outputHist as Hist).record(u.outputTokens);
      if (u.durationMs !== null) {
        if (!u.error) (s.durationHist as Hist).record(u.durationMs / 1000);
        else this.#errorHist(s, u.errorType ?? 'error').record(u.durationMs / 1000);
      }
    }
  }

  #errorHist(s: Series<Slot>, errorType: string): Hist {
    if (s.errorDurationHists === null) s.errorDurationHists = new Map();
    const map = s.errorDurationHists;
    let h = map.get(errorType);
    if (h !== undefined) return h;
    const named = map.size - (map.has(OTHER) ? 1 : 0);
    const type = named < MAX_ERROR_TYPES_PER_SET ? errorType : OTHER;
    h = map.get(type);
    if (h === undefined) {
      h = new Hist(OPERATION_DURATION_BUCKETS, { ...(s.semconv as Attributes), [SEMCONV.errorType]: type });
      map.set(type, h);
    }
    return h;
  }

  /** Counts a failure inside tokenmeter. */
  internalError(component: string): void {
    this.internalErrors.set(component, (this.internalErrors.get(component) ?? 0) + 1);
  }

  /** Every series, each once (capped label sets share theirs). */
  distinctSeries(): readonly Series<Slot>[] {
    return this.#all;
  }
}
