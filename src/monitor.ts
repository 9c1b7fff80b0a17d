import { configPrices, loadConfig, resolveDir } from './config.ts';
import { ValidationError } from './errors.ts';
import { DEFAULT_KEY_ID_SECRET, KeyIdCache } from './key-id.ts';
import { createStderrLogger, type Env, type Logger, type LogLevel, logLevelFromEnv, OnceLogger } from './logger.ts';
import {
  Aggregator,
  CARDINALITY_DEFAULTS,
  type CardinalityOptions,
  type MetricLabelOptions,
  SERIES_PER_LABEL_SET,
  type Series,
} from './metrics/aggregator.ts';
import { type ExportOptions, MetricsExport } from './metrics/exporters.ts';
import type { TokenmeterMetricProducer } from './metrics/producer.ts';
import { CostSum, picoToUsd, usdToPico } from './pricing/money.ts';
import { costPico, PriceBook } from './pricing/price-book.ts';
import type { PriceOverride, ResolvedPrice } from './pricing/types.ts';
import { type UsageInput, type UsageRecord, type ValidUsage, validateUsage } from './usage.ts';

/** What tokenmeter exports, and how much of it. */
export interface MetricsOptions extends ExportOptions, CardinalityOptions {
  /** The GenAI semantic-convention histograms (`gen_ai.client.*`). @default true */
  semconv?: boolean;
  /** Optional labels on tokenmeter's own metrics. @default all off (they stay in the ledger) */
  labels?: MetricLabelOptions;
}

/** Options of a {@link TokenMonitor}; every one has a default. */
export interface TokenMonitorOptions {
  /** Storage dir (config.json; the ledger of a later release). @default $TOKENMETER_DIR, else ~/.tokenmeter */
  dir?: string;
  /** Turn every call into a no-op. @default true when $TOKENMETER_DISABLED is 1 or true */
  disabled?: boolean;
  /** Metrics and their exporters; `false` records without exporting. @default Prometheus endpoint on 127.0.0.1:9464/metrics */
  metrics?: MetricsOptions | false;
  /** Prices in USD per 1M tokens (and per search unit), keyed by model or `provider/model`; they win over the bundled data. */
  prices?: Record<string, PriceOverride>;
  /** Read prices from `config.json` in the storage dir. @default true */
  loadConfig?: boolean;
  /** Secret of the key-id HMAC. @default $TOKENMETER_KEY_ID_SECRET, else a fixed string */
  keyIdSecret?: string;
  /** Where log lines go. @default stderr */
  logger?: Logger;
  /** @default $TOKENMETER_LOG, else 'warn' */
  logLevel?: LogLevel;
  /** Environment to read TOKENMETER_* from. @default process.env */
  env?: Env;
}

/** Running totals of one provider since the monitor started. */
export interface UsageSummary {
  provider: string;
  requests: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  totalTokens: number;
  /** Known cost in USD; calls of unpriced models add nothing (see unpricedRequests). */
  costUsd: number;
  unpricedRequests: number;
}

/** A budget or limit crossing (budgets arrive in a later release; empty until then). */
export interface Alert {
  level: 'warning' | 'critical' | 'exceeded';
  message: string;
}

/** What `record()` returns. */
export interface RecordResult {
  /** False when tracking is disabled or the monitor is closed. */
  logged: boolean;
  record: UsageRecord | null;
  /** The call's cost in USD, null when its model has no known price. */
  costUsd: number | null;
  usageSummary: UsageSummary;
  alerts: Alert[];
}

class ProviderTotals {
  requests = 0;
  errors = 0;
  inputTokens = 0;
  outputTokens = 0;
  cachedInputTokens = 0;
  totalTokens = 0;
  unpriced = 0;
  readonly cost = new CostSum();
  readonly provider: string;
  constructor(provider: string) {
    this.provider = provider;
  }
  snapshot(): UsageSummary {
    return {
      provider: this.provider,
      requests: this.requests,
      errors: this.errors,
      inputTokens: this.inputTokens,
      outputTokens: this.outputTokens,
      cachedInputTokens: this.cachedInputTokens,
      totalTokens: this.totalTokens,
      costUsd: this.cost.usd,
      unpricedRequests: this.unpriced,
    };
  }
}

/** A series' cached price: valid for its provider and model, the book's version, and until expiry. */
interface PriceSlot {
  provider: string;
  model: string;
  price: ResolvedPrice | null;
  version: number;
  expiresAt: number;
}

const NO_ALERTS: Alert[] = [];
Object.freeze(NO_ALERTS);

function envFlag(v: string | undefined): boolean {
  return v !== undefined && /^(1|true|yes|on)$/i.test(v.trim());
}

/**
 * Meters LLM, embedding and rerank calls: validates each, prices it, and aggregates it for the
 * metrics exporters. Only this class knows every subsystem.
 */
export class TokenMonitor {
  /** The storage dir. */
  readonly dir: string;
  /** True when tracking is off (`disabled` or `TOKENMETER_DISABLED`). */
  readonly disabled: boolean;
  readonly #log: Logger;
  readonly #once: OnceLogger;
  readonly #prices: PriceBook;
  readonly #keyIds: KeyIdCache;
  readonly #keyIdOf: (apiKey: string) => string;
  readonly #agg: Aggregator<PriceSlot>;
  readonly #export: MetricsExport | undefined;
  readonly #totals = new Map<string, ProviderTotals>();
  #closed = false;

  constructor(options: TokenMonitorOptions = {}) {
    const env = options.env ?? process.env;
    this.dir = resolveDir(options.dir, env);
    this.disabled = options.disabled ?? envFlag(env.TOKENMETER_DISABLED);
    this.#log = options.logger ?? createStderrLogger(options.logLevel ?? logLevelFromEnv(env));
    this.#once = new OnceLogger(this.#log);
    const config = options.loadConfig === false || this.disabled ? {} : loadConfig(this.dir);
    this.#prices = new PriceBook({ prices: options.prices ?? {}, configPrices: configPrices(config) });
    this.#keyIds = new KeyIdCache(options.keyIdSecret ?? env.TOKENMETER_KEY_ID_SECRET ?? DEFAULT_KEY_ID_SECRET);
    this.#keyIdOf = (k) => this.#keyIds.get(k);
    const m = options.metrics === false ? undefined : (options.metrics ?? {});
    for (const key of ['maxLabelSets', 'maxValuesPerLabel'] as const) {
      const v = m?.[key];
      if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new ValidationError(`metrics.${key}`, v, 'must be a positive integer');
    }
    this.#agg = new Aggregator<PriceSlot>({
      semconv: m?.semconv ?? true,
      labels: m?.labels ?? {},
      cardinality: {
        maxValuesPerLabel: m?.maxValuesPerLabel ?? CARDINALITY_DEFAULTS.maxValuesPerLabel,
        maxLabelSets: m?.maxLabelSets ?? CARDINALITY_DEFAULTS.maxLabelSets,
      },
      onCap: (what, message) => this.#once.warn(`cap:${what}`, message),
    });
    const sets = m?.maxLabelSets ?? CARDINALITY_DEFAULTS.maxLabelSets;
    if (sets * SERIES_PER_LABEL_SET > 2000) {
      this.#log.warn(
        `metrics.maxLabelSets ${sets} lets one instrument reach ${sets * SERIES_PER_LABEL_SET} series, past OpenTelemetry's default limit of 2,000 per instrument; raise that limit in your MeterProvider's views too`,
      );
    }
    if (m !== undefined && !this.disabled) {
      this.#export = new MetricsExport(
        this.#agg,
        m,
        { log: (msg) => this.#log.error(msg), info: (msg) => this.#log.info(msg), internalError: (c) => this.#agg.internalError(c) },
        env,
      );
    }
  }

  /**
   * Records one call: validates it (throwing a ValidationError that names the field, with nothing
   * recorded), prices it and adds it to the metrics. Failures inside tokenmeter after validation
   * are logged and counted, never thrown.
   */
  record(input: UsageInput): RecordResult {
    if (this.disabled || this.#closed) {
      if (this.#closed) this.#once.warn('closed', 'record() after close(): the call was not recorded');
      return { logged: false, record: null, costUsd: null, usageSummary: emptySummary(input?.provider), alerts: NO_ALERTS };
    }
    const u = validateUsage(input, this.#keyIdOf);
    try {
      return this.#recordValid(u);
    } catch (error) {
      this.#internalError('record', error);
      return { logged: false, record: null, costUsd: null, usageSummary: emptySummary(u.provider), alerts: NO_ALERTS };
    }
  }

  #recordValid(u: ValidUsage): RecordResult {
    const s = this.#agg.seriesFor(u);
    let pico: number | null;
    if (u.costUsd !== null) {
      pico = usdToPico(u.costUsd);
    } else {
      const price = this.#priceFor(s, u);
      pico = price === null ? null : costPico(price, u);
      if (pico === null) this.#warnUnpriced(u, price);
    }
    this.#agg.add(s, u, pico);
    const sink = this.#export?.sink;
    if (sink !== undefined) {
      try {
        sink(s, u);
      } catch (error) {
        // The user's MeterProvider failed; the call is still counted everywhere else.
        this.#internalError('export', error);
      }
    }

    let t = this.#totals.get(u.provider);
    if (t === undefined) {
      t = new ProviderTotals(u.provider);
      this.#totals.set(u.provider, t);
    }
    t.requests++;
    if (u.error) t.errors++;
    t.inputTokens += u.inputTokens ?? 0;
    t.outputTokens += u.outputTokens ?? 0;
    t.cachedInputTokens += u.cachedInputTokens ?? 0;
    t.totalTokens += u.totalTokens ?? 0;
    if (pico === null) t.unpriced++;
    else t.cost.add(pico);

    const costUsd = pico === null ? null : picoToUsd(pico);
    u.costUsd = costUsd;
    u.costPicoUsd = pico;
    return { logged: true, record: u, costUsd, usageSummary: t.snapshot(), alerts: NO_ALERTS };
  }

  #priceFor(s: Series<PriceSlot>, u: ValidUsage): ResolvedPrice | null {
    const slot = s.slot;
    if (
      slot !== undefined &&
      slot.version === this.#prices.version &&
      u.timestamp < slot.expiresAt &&
      slot.model === u.model &&
      slot.provider === u.provider
    ) {
      return slot.price;
    }
    const price = this.#prices.resolve(u.provider, u.model, u.timestamp);
    if (price !== null && slot === undefined) this.#log.debug(`price of ${u.provider}/${u.model}: ${price.sourceDetail}`);
    // A series whose labels were capped is shared by several models: cache only its own.
    if (slot === undefined || slot.model === u.model) {
      s.slot = {
        provider: u.provider,
        model: u.model,
        price,
        version: this.#prices.version,
        expiresAt: price === null ? Number.POSITIVE_INFINITY : price.expiresAt,
      };
    }
    return price;
  }

  #warnUnpriced(u: ValidUsage, price: ResolvedPrice | null): void {
    if (price === null) {
      this.#once.warn(
        `unpriced:${u.provider}/${u.model}`,
        `no price known for model "${u.model}" of provider "${u.provider}": its calls record costUsd null and count in tokenmeter_unpriced_requests_total (set one with prices or config.json "pricing")`,
      );
    } else if (!u.error) {
      this.#once.warn(
        `unknown-usage:${u.provider}/${u.model}`,
        `cost of a "${u.model}" call is unknown: its usage was not reported, or it billed a kind of usage its price (${price.sourceDetail}) does not cover`,
      );
    }
  }

  #internalError(component: string, error: unknown): void {
    try {
      this.#agg.internalError(component);
      this.#once.error(
        `internal:${component}`,
        `internal error in ${component} (the metered call is not affected): ${(error as Error)?.message ?? String(error)}`,
      );
    } catch {
      // Nothing may escape into the caller.
    }
  }

  /** Sets a price in USD per 1M tokens (and per search unit) for `model` or `provider/model`. */
  setPrice(model: string, price: PriceOverride): void {
    this.#prices.setPrice(model, price);
  }

  /** The price tokenmeter applies to a model, and where it came from; null when unknown. */
  price(provider: string, model: string): ResolvedPrice | null {
    return this.#prices.resolve(provider, model);
  }

  /** Running totals per provider since start (all providers, or one). */
  usageSummary(provider: string): UsageSummary;
  usageSummary(): UsageSummary[];
  usageSummary(provider?: string): UsageSummary | UsageSummary[] {
    if (provider !== undefined) return this.#totals.get(provider)?.snapshot() ?? emptySummary(provider);
    return [...this.#totals.values()].map((t) => t.snapshot());
  }

  /** Budget alerts; empty until budgets exist. */
  alerts(): Alert[] {
    return [];
  }

  /** The producer of tokenmeter's metrics, for a MetricReader of your own. */
  get metricProducer(): TokenmeterMetricProducer | undefined {
    return this.#export?.producer;
  }

  /** The Prometheus endpoint's URL once it listens (see `ready()`); undefined when off. */
  get metricsUrl(): string | undefined {
    return this.#export?.url;
  }

  /** Resolves once the endpoint listens (a failure to listen is logged, not thrown). */
  async ready(): Promise<void> {
    await this.#export?.ready();
  }

  /** Pushes metrics to OTLP and any extra readers now. */
  async flushMetrics(): Promise<void> {
    try {
      await this.#export?.forceFlush();
    } catch (error) {
      this.#internalError('flush', error);
    }
  }

  /** Makes everything recorded durable (metrics pushed). */
  async flush(): Promise<void> {
    await this.flushMetrics();
  }

  /** Flushes and stops the endpoint and exporters. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    await this.#export?.close();
  }
}

function emptySummary(provider: unknown): UsageSummary {
  return {
    provider: typeof provider === 'string' ? provider : '',
    requests: 0,
    errors: 0,
    inputTokens: 0,
    outputTokens: 0,
    cachedInputTokens: 0,
    totalTokens: 0,
    costUsd: 0,
    unpricedRequests: 0,
  };
}
