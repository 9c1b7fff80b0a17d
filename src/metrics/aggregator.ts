import type { Attributes } from '@opentelemetry/api';
import type { ValidUsage } from '../usage.ts';
import { type CardinalityOptions, type MetricLabelOptions, validateCardinality } from './cardinality.ts';
import { LABEL, OTHER, SEMCONV, SEMCONV_PROVIDER } from './names.ts';
import { GenAiSeries, labelsText, OwnSeries, Series } from './series.ts';

/** Adds a call's count of token type `type` to a series; null (not reported) adds nothing. */
function addTokens(o: OwnSeries, type: number, n: number | null): void {
  if (n === null) return;
  o.tokens[type] = (o.tokens[type] as number) + n;
  o.reported |= 1 << type;
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

/**
 * The record fields a label set is keyed by, in the trie's order: these, then the optional labels
 * switched on, in OPTIONAL_LABELS order. The walk, the path and the capped path all follow it.
 */
const FIXED_FIELDS = ['provider', 'model', 'serviceType', 'operation', 'requestModel'] as const;

/** The optional labels, as record fields (also their MetricLabelOptions keys) and label names. */
const OPTIONAL_LABELS = [
  ['agent', LABEL.agent],
  ['userId', LABEL.userId],
  ['threadId', LABEL.threadId],
  ['apiKeyId', LABEL.apiKeyId],
] as const;

type PathField = (typeof FIXED_FIELDS)[number] | (typeof OPTIONAL_LABELS)[number][0];

/** A trie of label values; the last level holds the series. */
type Trie<Slot> = Map<string, Trie<Slot> | Series<Slot>>;

/** Finds a call's series in the trie, or undefined when its label set has none yet. */
type Walk<Slot> = (root: Trie<Slot>, u: ValidUsage) => Series<Slot> | undefined;

/** One walk per list of fields (at most 16), shared by every aggregator with those labels on. */
const walks = new Map<string, Walk<unknown>>();

/**
 * The trie walk for `fields`: down the trie by the record's fields, in trie order, without building
 * the array of label values (that array was a fifth of record()'s time, measured). It is made from
 * the list once, each field read by its name, as usage-fields.ts's compileLiteral makes record()'s
 * literals: a loop over the list (a keyed load by a different name each step) cost each lookup
 * about 70 ns more, an eighth of record(), in a micro-benchmark against the walk written out.
 */
function walkOf<Slot>(fields: readonly PathField[]): Walk<Slot> {
  const key = fields.join();
  let walk = walks.get(key);
  if (walk === undefined) {
    // The names are FIXED_FIELDS' and OPTIONAL_LABELS' own, never input.
    const steps = fields.map((f) => `n = n.get(u.${f} ?? '');\n  if (n === undefined) return undefined;`).join('\n  ');
    walk = new Function(`'use strict'; return function walk(root, u) {\n  let n = root;\n  ${steps}\n  return n;\n};`)() as Walk<unknown>;
    walks.set(key, walk);
  }
  return walk as Walk<Slot>;
}

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

/**
 * In-memory aggregation of every recorded call: the hot path. A walk down a trie of label values
 * (whose string hashes V8 caches, unlike a key concatenated per call) finds the label set's running
 * totals; the OpenTelemetry SDK reads them only at collection time (see producer.ts), so a call
 * costs a few additions instead of one SDK instrument call per metric.
 */
export class Aggregator<Slot = unknown> {
  readonly internalErrors = new Map<string, number>([['record', 0]]);
  /** Budget gauges, read at collection time (set by the monitor when it has budgets). */
  budgetGauges: (() => readonly BudgetGauge[]) | undefined;
  /** Records what waits upstream (calls recorded at the event loop's next turn) before a collection reads; set by the monitor. */
  beforeCollect: (() => void) | undefined;
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

  /** The fields of a label set, in trie order (FIXED_FIELDS, then the optional labels on). */
  readonly #fields: readonly PathField[];
  /** Finds a call's series by its fields (see walkOf). */
  readonly #walk: Walk<Slot>;

  constructor(options: AggregatorOptions) {
    validateCardinality(options.cardinality);
    this.#opts = options;
    this.#fields = [...FIXED_FIELDS, ...OPTIONAL_LABELS.filter(([f]) => options.labels[f] === true).map(([f]) => f)];
    this.#walk = walkOf(this.#fields);
  }

  get semconv(): boolean {
    return this.#opts.semconv;
  }

  /** The label values of a call, in trie order (raw, before capping). */
  #path(u: ValidUsage): string[] {
    return this.#fields.map((f) => u[f] ?? '');
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
    return this.#walk(this.#root, u) ?? this.#create(this.#path(u), u);
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
    const capped: Record<PathField, string> = {
      provider: attrs[LABEL.provider] as string,
      model: attrs[LABEL.model] as string,
      serviceType: u.serviceType,
      operation: attrs[LABEL.operation] as string,
      requestModel: requestModel ?? '',
      agent: '',
      userId: '',
      threadId: '',
      apiKeyId: '',
    };
    for (const [field, name] of OPTIONAL_LABELS) {
      if (!l[field]) continue;
      const v = cap(name, u[field] ?? '');
      attrs[name] = v;
      capped[field] = v;
    }
    const path = this.#fields.map((f) => capped[f]);
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

  /**
   * tokenmeter's own series, each once, in the order they were made. Every collection (the
   * endpoint, the producer, a MeterProvider of the user's) reads them first: calls still waiting
   * to be recorded (`beforeCollect`) are recorded before.
   */
  ownSeries(): readonly OwnSeries[] {
    this.beforeCollect?.();
    return this.#ownList;
  }

  /** The GenAI histograms' series, each once, in the order they were made. */
  genAiSeries(): readonly GenAiSeries[] {
    return this.#genaiList;
  }
}
