import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { type Advice, type AdviceQuery, advise } from './advice/advise.ts';
import { Budgets, checkLimit, type Held } from './budgeting.ts';
import { type BillingCycle, type LimitType, unitOf } from './budgets/limits.ts';
import type { Alert, BudgetSpec } from './budgets/tracker.ts';
import { configBudgets, configPrices, configThresholds, loadConfig, resolveDir } from './config.ts';
import { type CallContext, ContextStore } from './context.ts';
import { isBudgetExceededError, LedgerError, ValidationError } from './errors.ts';
import { type InstrumentOptions, instrumentClient } from './instrument/index.ts';
import { onTokenizerFailure } from './instrument/tokenizer-thread.ts';
import { type CallSink, type TrackedCall, type TrackOptions, trackWith } from './instrument/track.ts';
import { DEFAULT_KEY_ID_SECRET, KeyIdCache } from './key-id.ts';
import { type CleanupResult, cleanup, listArchives, readArchive } from './ledger/archive.ts';
import type { AlertmanagerNotification, KeptNotification, ReceivedAlert, ReceivedAlertQuery } from './ledger/notifications.ts';
import { openLedgerUrl } from './ledger/open.ts';
import type { ArchiveInfo, Dimension, LedgerStore } from './ledger/types.ts';
import { type LedgerHealth, LedgerWriter, type LedgerWriterOptions } from './ledger/writer.ts';
import { createStderrLogger, type Env, type Logger, type LogLevel, logLevelFromEnv, OnceLogger, SecretKeys } from './logger.ts';
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
import {
  checkBudgetKeys,
  checkContextKeys,
  checkInstrumentKeys,
  checkMethodOptions,
  checkMonitorOptions,
  checkQueryKeys,
  checkSessionKeys,
  SET_LIMIT_OPTION_KEYS,
  TRACK_OPTION_KEYS,
} from './option-keys.ts';
import { CostSum, picoToUsd, usdToPico } from './pricing/money.ts';
import { costPico, PriceBook, TIERED_PROVIDERS } from './pricing/price-book.ts';
import {
  checkMaxAgeDays,
  DEFAULT_PRICE_DATA_URL,
  loadPriceData,
  type PriceDataOptions,
  type RefreshResult,
  refreshPriceData,
  resolveSource,
} from './pricing/price-data.ts';
import type { PriceOverride, ResolvedPrice } from './pricing/types.ts';
import { extractUsage, type Usage } from './providers/index.ts';
import { type BudgetStatus, ledgerSeeder, statusOf } from './reports/budget-status.ts';
import { type ExportResult, exportRecords, type ExportOptions as RecordExportOptions } from './reports/export.ts';
import type { ReportQuery } from './reports/query.ts';
import * as reports from './reports/reports.ts';
import type { ServiceType, UsageInput, UsageRecord, ValidUsage } from './usage.ts';
import { validateUsage } from './usage.ts';

/** What tokenmeter exports, and how much of it. */
export interface MetricsOptions extends ExportOptions, CardinalityOptions {
  /** The GenAI semantic-convention histograms (`gen_ai.client.*`). @default true */
  semconv?: boolean;
  /** Optional labels on tokenmeter's own metrics. @default all off (they stay in the ledger) */
  labels?: MetricLabelOptions;
}

/** Options of a {@link TokenMonitor}; every one has a default. */
export interface TokenMonitorOptions {
  /** Storage dir: config.json and the ledger (ledger.db). @default $TOKENMETER_DIR, else ~/.tokenmeter */
  dir?: string;
  /** The usage ledger; `false` keeps nothing on disk. @default SQLite at <dir>/ledger.db, batched writes */
  ledger?: LedgerOptions | false;
  /** Turn every call into a no-op. @default true when $TOKENMETER_DISABLED is 1 or true */
  disabled?: boolean;
  /** Metrics and their exporters; `false` records without exporting. @default Prometheus endpoint on 127.0.0.1:9464/metrics */
  metrics?: MetricsOptions | false;
  /** Prices in USD per 1M tokens (and per search unit), keyed by model or `provider/model`; they win over the bundled data. */
  prices?: Record<string, PriceOverride>;
  /** Read prices from `config.json` in the storage dir. @default true */
  loadConfig?: boolean;
  /**
   * Newer genai-prices data: where `refreshPrices()` fetches it, and the age past which it warns.
   * Data a refresh kept in `<dir>/prices.json` is used (offline) when there; `false`: the bundled data only.
   * @default config.json `price_data`
   */
  priceData?: PriceDataOptions | false;
  /** Secret of the key-id HMAC. @default $TOKENMETER_KEY_ID_SECRET, else a fixed string */
  keyIdSecret?: string;
  /** Where log lines go. @default stderr */
  logger?: Logger;
  /** @default $TOKENMETER_LOG, else 'warn' */
  logLevel?: LogLevel;
  /** Environment to read TOKENMETER_* from. @default process.env */
  env?: Env;
  /** Budgets beyond the config file's (which are loaded too). */
  budgets?: BudgetSpec[];
  /** The clock budgets' windows follow. @default Date.now */
  clock?: () => number;
}

/** Where and how records are kept. */
export interface LedgerOptions extends LedgerWriterOptions {
  /** A store of your own; it wins over `url` and `file`. */
  store?: LedgerStore;
  /** A PostgreSQL ledger (`postgres://user:pass@host/db`), shared by many instances; wins over `file`. @default $TOKENMETER_LEDGER_URL */
  url?: string;
  /** The SQLite file. @default <dir>/ledger.db */
  file?: string;
}

/** What `monitor.health()` reports. */
export interface Health {
  /** False while the ledger cannot be written or records were lost. */
  ok: boolean;
  ledger: LedgerHealth | null;
  metricsUrl: string | undefined;
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
export type { Alert } from './budgets/tracker.ts';

/** What an instrumented call adds to the usage its response reports. */
export interface CallFacts {
  durationMs?: number;
  /** Set when the call failed. */
  error?: { type: string; message: string };
  /** The client's API key; only its id is kept. */
  apiKey?: string;
  /** The model to record when the response and request name none. */
  model?: string;
  /** What the call was for; wins over the response's kind of call. */
  operation?: string;
  serviceType?: ServiceType;
  metadata?: Record<string, unknown>;
  /** Who and what the call was for (an instrumented client's context, merged with `withContext`'s). */
  context?: CallContext;
  /**
   * True when `context` is all of the call's context, taken when the call was made (instrumented
   * clients): the context running when its usage is recorded (a stream read elsewhere) is not
   * added. Otherwise that context fills what `context` leaves unset.
   */
  wholeContext?: boolean;
  /** What `admit` held for the call, given back now that its usage is known. */
  held?: Held | undefined;
}

/** A run of a workflow with its own budget (see `monitor.session()`). */
export interface RunSession {
  readonly id: string;
  /** Runs `fn` with every call inside it counted against this run. */
  run<T>(fn: () => T): T;
  /** The run's budget standing. */
  status(): BudgetStatus[];
  /** The run's calls (those tagged with its id), tokens, cost, averages, shares by agent and model, and budget use, from the ledger. */
  stats(): Promise<reports.SessionStats>;
  /** Drops the run's budget. */
  end(): void;
}

/** How a subscription limit set in code behaves (see `setLimit`). */
export interface LimitOptions {
  /** When usage starts again from zero (not for prepaid_credits, a balance). @default monthly from the 1st (UTC) */
  cycle?: BillingCycle;
  /** @default config.json's alerts, else 0.8 */
  warningThreshold?: number;
  /** @default config.json's alerts, else 0.95 */
  criticalThreshold?: number;
  /** Refuse calls once it is spent. @default false */
  enforce?: boolean;
  /** prepaid_credits: when the balance was what `value` says (Date, epoch ms or ISO 8601). @default all the ledger holds counts */
  since?: Date | number | string;
}

/** A time given as a Date, epoch ms or ISO 8601 text, as epoch ms; a ValidationError naming `since` otherwise. */
function checkSince(v: Date | number | string): number {
  const t = v instanceof Date ? v.getTime() : typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : Number.NaN;
  if (!Number.isFinite(t)) throw new ValidationError('since', v, 'must be a Date, epoch milliseconds or an ISO 8601 date');
  return t;
}

/** What `record()` returns. */
export interface RecordResult {
  /**
   * False when tracking is disabled or the monitor is closed; with `ledger: { durability: 'sync' }`,
   * also when the record could not be written to the ledger (it stays queued and is retried).
   */
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
export class TokenMonitor implements CallSink {
  /** The storage dir. */
  readonly dir: string;
  /** True when tracking is off (`disabled` or `TOKENMETER_DISABLED`). */
  readonly disabled: boolean;
  readonly #log: Logger;
  /** The keys of the clients this monitor meters: no log line carries one. */
  readonly #secrets = new SecretKeys();
  readonly #once: OnceLogger;
  readonly #prices: PriceBook;
  /** Where refreshPrices() reads; undefined when priceData is false. */
  readonly #priceSource: string | undefined;
  readonly #keyIds: KeyIdCache;
  readonly #keyIdOf: (apiKey: string) => string;
  readonly #agg: Aggregator<PriceSlot>;
  readonly #export: MetricsExport | undefined;
  readonly #totals = new Map<string, ProviderTotals>();
  readonly #context = new ContextStore();
  /** Records still being prepared (streams' token estimates): flush() and close() wait for them. */
  readonly #pending = new Set<Promise<unknown>>();
  readonly #ledger: LedgerWriter | undefined;
  readonly #startedAt = Date.now();
  readonly #budgets: Budgets;
  /** What validate() returned and recordValidated() has not recorded yet. */
  readonly #checked = new WeakSet<ValidUsage>();
  /** Counts and logs a failure of the tokenizer thread (held here: the thread's listeners are weak). */
  readonly #onTokenizerFailure = (error: Error) => this.#internalError('tokenizer', error);
  readonly #offTokenizerFailure: () => void;
  #closed = false;

  constructor(options: TokenMonitorOptions = {}) {
    // An unknown option is an error naming it, not a silent default.
    checkMonitorOptions(options);
    const env = options.env ?? process.env;
    this.dir = resolveDir(options.dir, env);
    this.disabled = options.disabled ?? envFlag(env.TOKENMETER_DISABLED);
    this.#log = this.#secrets.logger(options.logger ?? createStderrLogger(options.logLevel ?? logLevelFromEnv(env)));
    this.#once = new OnceLogger(this.#log);
    const config = options.loadConfig === false || this.disabled ? {} : loadConfig(this.dir);
    const thresholds = configThresholds(config);
    const pd = options.priceData === false ? undefined : (options.priceData ?? {});
    if (pd?.source !== undefined && (typeof pd.source !== 'string' || pd.source === '')) {
      throw new ValidationError('priceData.source', pd.source, 'must be a URL or a file path');
    }
    const chosen =
      pd?.source !== undefined
        ? resolveSource(pd.source, process.cwd())
        : config.price_data?.source && resolveSource(config.price_data.source, this.dir);
    this.#priceSource = pd === undefined ? undefined : (chosen ?? DEFAULT_PRICE_DATA_URL);
    this.#prices = new PriceBook({
      prices: options.prices ?? {},
      configPrices: configPrices(config),
      data: pd === undefined || this.disabled ? undefined : loadPriceData(this.dir, (m) => this.#log.warn(m), chosen),
      maxAgeDays: checkMaxAgeDays(pd?.maxAgeDays, 'priceData.maxAgeDays') ?? config.price_data?.max_age_days,
      warn: (m) => this.#log.warn(m),
      now: options.clock,
    });
    this.#keyIds = new KeyIdCache(options.keyIdSecret ?? env.TOKENMETER_KEY_ID_SECRET ?? DEFAULT_KEY_ID_SECRET);
    this.#keyIdOf = (k) => this.#keyIds.get(k);
    const m = options.metrics === false ? undefined : (options.metrics ?? {});
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
    if (options.ledger !== false && !this.disabled) {
      const l = options.ledger ?? {};
      const file = l.file ?? join(this.dir, 'ledger.db');
      const url = l.url ?? (env.TOKENMETER_LEDGER_URL || undefined);
      const store = l.store ?? (url === undefined ? undefined : openLedgerUrl(url, 'ledger.url'));
      this.#ledger = new LedgerWriter(
        // A store of the caller's is written from a timer on this thread; the SQLite file, which
        // the writer opens itself, by a writer thread (and reopened if deleted or replaced).
        store === undefined ? { file } : () => store,
        {
          onError: (message) => {
            this.#agg.internalError('ledger');
            this.#log.error(message);
          },
          onRecovered: (message) => this.#log.warn(message),
        },
        l,
      );
      try {
        this.#ledger.store();
      } catch (error) {
        // Reported now; the records wait in memory and the ledger is opened again at the next write.
        this.#agg.internalError('ledger');
        this.#log.error(`${(error as Error).message}; records are kept in memory and written once it opens`);
      }
    }
    this.#budgets = new Budgets(
      // The window's spending so far: the rollups, plus what is queued for them (nothing is written here).
      ledgerSeeder(
        () => {
          try {
            return this.#ledger?.store();
          } catch {
            return undefined;
          }
        },
        () => this.#ledger?.unwrittenSync() ?? [],
        // An asynchronous store (PostgreSQL): read beside the writer, off record()'s path; a failed read is reported, and seeds nothing.
        async (read) => {
          try {
            if (this.#ledger === undefined) return await read([]);
            return await this.#ledger.readBeside(read);
          } catch (error) {
            this.#agg.internalError('ledger');
            this.#log.error(`cannot read the ledger to seed a budget: ${(error as Error)?.message ?? String(error)}`);
            throw error;
          }
        },
      ),
      this.#prices,
      this.#log,
      options.clock,
      this.#ledger !== undefined,
    );
    this.#offTokenizerFailure = onTokenizerFailure(this.#onTokenizerFailure);
    // config.json's alert thresholds hold for every budget that sets none, those set in code too.
    this.#budgets.thresholds = thresholds;
    if (!this.disabled) {
      for (const spec of [...configBudgets(config), ...(options.budgets ?? [])]) this.#budgets.add(spec);
    }
    this.#agg.budgetGauges = () => this.#budgets.gauges();
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
    return this.#record(input, this.#context.current());
  }

  /**
   * Checks a call as `record()` does (this monitor's key-id secret, the running context) without
   * recording it, so that a batch can be checked whole before any of it is recorded; record what
   * it returns with {@link recordValidated}. Throws a ValidationError naming the field.
   */
  validate(input: UsageInput): ValidUsage {
    const u = this.#validate(input, this.#context.current());
    this.#checked.add(u);
    return u;
  }

  /** Records a call `validate()` returned, without checking it again (each once; anything else throws). */
  recordValidated(u: ValidUsage): RecordResult {
    if (!this.#checked.delete(u)) throw new ValidationError('usage', u, 'must be what validate() returned, recorded once');
    return this.#record(u, undefined, true);
  }

  #validate(input: UsageInput, ctx: CallContext | undefined): ValidUsage {
    const u = validateUsage(ctx === undefined || onlyRun(ctx) ? input : applyContext(input, ctx), this.#keyIdOf);
    if (u.error) {
      // A failed call's key is kept out of the log too (an instrumented client's is from the start),
      if (typeof input.apiKey === 'string') this.#secrets.add(input.apiKey);
      // and the keys of the clients this monitor meters out of a message recorded without its key
      // (track(), LangChain, the AI SDK).
      if (u.errorMessage !== null) u.errorMessage = this.#secrets.redact(u.errorMessage);
    }
    if (ctx?.runId !== undefined) {
      // The validated record's metadata is already its own copy: the run id is added in place.
      if (u.metadata === null) u.metadata = { run_id: ctx.runId };
      else u.metadata.run_id = ctx.runId;
    }
    return u;
  }

  /** Records one call in context `ctx` (its unset fields filled from it, its run id added); `checked`: `input` is what #validate returned. */
  #record(input: UsageInput | ValidUsage, ctx: CallContext | undefined, checked?: boolean): RecordResult {
    if (this.disabled || this.#closed) {
      if (this.#closed) this.#once.warn('closed', 'record() after close(): the call was not recorded');
      return { logged: false, record: null, costUsd: null, usageSummary: emptySummary(input?.provider), alerts: NO_ALERTS };
    }
    const u = checked === true ? (input as ValidUsage) : this.#validate(input as UsageInput, ctx);
    try {
      return this.#recordValid(u);
    } catch (error) {
      this.#internalError('record', error);
      return { logged: false, record: null, costUsd: null, usageSummary: emptySummary(u.provider), alerts: NO_ALERTS };
    }
  }

  /**
   * Runs `fn` with a context that tags every call made inside it, across awaits: user, thread,
   * agent, operation and metadata. Nested contexts merge, the inner one winning.
   */
  withContext<T>(context: CallContext, fn: () => T): T {
    checkContextKeys(context);
    return this.#context.run(context, fn);
  }

  /** The context of the code running now, if any. */
  currentContext(): CallContext | undefined {
    return this.#context.current();
  }

  /**
   * Makes `flush()` and `close()` wait for `work`: an instrumented stream's usage being estimated
   * (the tokenizer loads on first use), which then records. Used by instrumented clients.
   */
  waitFor(work: Promise<unknown>): void {
    const done = (): void => {
      this.#pending.delete(p);
    };
    const p: Promise<unknown> = work.then(done, done);
    this.#pending.add(p);
  }

  /** Resolves once the work `waitFor` was given, including any added meanwhile, is done. */
  async #settle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending);
  }

  /**
   * Records a call from the usage a provider's response reported (see `extractUsage`). Never
   * throws: a response tokenmeter cannot record is logged once and counted as an internal error.
   */
  recordUsage(usage: Usage, facts: CallFacts = {}): RecordResult | undefined {
    if (facts.held !== undefined) this.#budgets.settle(facts.held);
    try {
      const ctx = facts.context;
      let metadata = ctx?.metadata === undefined ? facts.metadata : { ...ctx.metadata, ...facts.metadata };
      if (ctx?.runId !== undefined) metadata = { ...metadata, run_id: ctx.runId };
      if (usage.usageSource !== 'reported' || usage.partial === true) {
        metadata = { ...metadata, usage: usage.usageSource, ...(usage.partial === true ? { partial: true } : {}) };
      }
      // A tier other than the standard one is kept with the record, and priced (see costPico).
      if (usage.serviceTier !== undefined) metadata = { ...metadata, service_tier: usage.serviceTier };
      const model = usage.model ?? usage.requestModel ?? facts.model ?? 'unknown';
      return this.#record(
        {
          provider: usage.provider,
          model,
          requestModel: usage.requestModel !== undefined && usage.requestModel !== model ? usage.requestModel : undefined,
          serviceType: facts.serviceType ?? usage.serviceType,
          operation: facts.operation ?? ctx?.operation ?? usage.operation,
          userId: ctx?.userId,
          threadId: ctx?.threadId,
          agent: ctx?.agent,
          inputTokens: usage.inputTokens,
          outputTokens: usage.outputTokens,
          cachedInputTokens: usage.cachedInputTokens,
          cacheWriteTokens: usage.cacheWriteTokens,
          cacheWrite1hTokens: usage.cacheWrite1hTokens,
          inputAudioTokens: usage.inputAudioTokens,
          cachedAudioTokens: usage.cachedAudioTokens,
          outputAudioTokens: usage.outputAudioTokens,
          outputImageTokens: usage.outputImageTokens,
          reasoningTokens: usage.reasoningTokens,
          totalTokens: usage.totalTokens,
          searchUnits: usage.searchUnits,
          webSearches: usage.webSearches,
          durationMs: facts.durationMs,
          apiKey: facts.apiKey,
          error: facts.error !== undefined,
          errorType: facts.error?.type,
          errorMessage: facts.error?.message,
          metadata,
        },
        facts.wholeContext === true ? undefined : this.#context.current(),
      );
    } catch (error) {
      this.#internalError('instrument', error);
      return undefined;
    }
  }

  /** Keeps `apiKey` out of every line this monitor logs (instrument() gives it each client's key). */
  addSecret(apiKey: string): void {
    this.#secrets.add(apiKey);
  }

  /** Records a call that `track` observed (the CallSink side of `track`), giving back what it held. Never throws. */
  recordCall(call: TrackedCall): void {
    let held = call.held as Held | undefined;
    try {
      const o = call.options;
      const usage = extractUsage({ provider: o.provider, request: call.request, response: call.response });
      const facts: CallFacts = { durationMs: call.durationMs, held };
      held = undefined; // recordUsage settles it
      if (call.error !== undefined) facts.error = call.error;
      if (o.model !== undefined) facts.model = o.model;
      if (o.operation !== undefined) facts.operation = o.operation;
      if (o.serviceType !== undefined) facts.serviceType = o.serviceType;
      this.recordUsage(usage, facts);
    } catch (error) {
      this.#budgets.settle(held);
      this.#internalError('instrument', error);
    }
  }

  /**
   * Before a `track()`ed or decorated function runs (the CallSink side of `track`): holds its
   * estimated cost against enforced budgets, as `admit` does for instrumented clients, or throws a
   * BudgetExceededError. The request is the first argument when it is an object (its `model`
   * winning over `options.model`), else the arguments' texts.
   */
  admitCall(options: TrackOptions, args: readonly unknown[]): Held | undefined {
    if (this.disabled || !this.#budgets.tracker.enforcing) return undefined;
    try {
      const first = args[0];
      const request = typeof first === 'object' && first !== null && !Array.isArray(first) ? first : args;
      const ctx = this.#context.current();
      return this.#budgets.admit(options.provider, request, ctx, null, ctx?.runId ?? null, options.model);
    } catch (error) {
      if (isBudgetExceededError(error)) throw error;
      this.#internalError('budgets', error);
      return undefined;
    }
  }

  /**
   * Meters every call of an official SDK client (openai, AzureOpenAI, @anthropic-ai/sdk, groq-sdk),
   * in place: the same client, same type, comes back. `options` tags all its calls (a
   * `withContext` around a call wins) and can name the provider. A client of a kind tokenmeter does
   * not know is returned untouched, with a warning.
   */
  instrument<C extends object>(client: C, options?: InstrumentOptions): C {
    checkInstrumentKeys(options);
    if (this.disabled) return client;
    try {
      if (!instrumentClient(client, this, options)) {
        this.#once.warn(
          `instrument:${(client as { constructor?: { name?: string } }).constructor?.name}`,
          'instrument(): not a client tokenmeter knows; its calls are not metered (use track() instead)',
        );
      }
    } catch (error) {
      this.#internalError('instrument', error);
    }
    return client;
  }

  /** Wraps a function that returns a provider response so each call is metered; errors are recorded and rethrown. */
  track<F extends (this: unknown, ...args: never[]) => unknown>(fn: F, options: TrackOptions): F {
    checkMethodOptions(options, TRACK_OPTION_KEYS, 'track options');
    return trackWith(() => this, fn, options);
  }

  #recordValid(u: ValidUsage): RecordResult {
    const s = this.#agg.seriesFor(u);
    let pico: number | null;
    if (u.costUsd !== null) {
      pico = usdToPico(u.costUsd);
    } else {
      const price = this.#priceFor(s, u);
      const tier = u.metadata?.service_tier;
      pico = price === null ? null : costPico(price, u, typeof tier === 'string' ? tier : undefined);
      if (pico === null) this.#warnUnpriced(u, price);
      else if (tier === 'priority' && price !== null && TIERED_PROVIDERS.has(u.provider)) {
        this.#once.warn(
          `priority:${u.provider}/${u.model}`,
          `a "${u.model}" call served at priority processing is costed at the standard rates (no priority prices are known), below what it is billed; set its price to the priority rates to count it right`,
        );
      }
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
    // Budgets count the record before the ledger has it: a budget state made for a user seen for
    // the first time is seeded from the ledger, which must not hold this record yet.
    let alerts: Alert[] | undefined;
    if (this.#budgets.tracker.size > 0) {
      try {
        alerts = this.#budgets.spend(u);
      } catch (error) {
        this.#internalError('budgets', error);
      }
    }
    let logged = true;
    if (this.#ledger !== undefined) {
      // The record returned is the one the ledger writes later: it is frozen so that neither can drift.
      Object.freeze(u);
      // With durability 'sync', whether it is on disk (if not, it stays queued and is retried).
      logged = this.#ledger.add(u);
    }
    return { logged, record: u, costUsd, usageSummary: t.snapshot(), alerts: alerts ?? NO_ALERTS };
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

  /**
   * Fetches newer genai-prices data from `priceData.source` (config.json `price_data.source`,
   * else genai-prices' own URL), checks it, keeps it in `<dir>/prices.json` and prices with it from
   * now on. Only when called: nothing is fetched otherwise. Refused data (broken, cut short, HTML,
   * empty) rejects with a PricingError naming the source, and the prices in force stay.
   */
  async refreshPrices(): Promise<RefreshResult> {
    if (this.#priceSource === undefined) throw new ValidationError('priceData', false, 'refreshed price data is turned off');
    const result = await refreshPriceData({ dir: this.dir, source: this.#priceSource });
    this.#prices.setData(loadPriceData(this.dir, (m) => this.#log.warn(m)));
    return result;
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
    return this.#budgets.alerts();
  }

  /** Calls `listener` with each alert as a budget crosses a threshold (once per level and window). */
  on(event: 'alert', listener: (alert: Alert) => void): this {
    if (event !== 'alert') throw new ValidationError('event', event, "must be 'alert'");
    this.#budgets.on(listener);
    return this;
  }

  off(event: 'alert', listener: (alert: Alert) => void): this {
    if (event === 'alert') this.#budgets.off(listener);
    return this;
  }

  /**
   * Sets a provider's subscription limit (the seed's limit types: max_plan_tokens,
   * free_tier_tokens, paid_tier_tokens in tokens; prepaid_credits, monthly_limit in USD) for this
   * process; `tokenmeter set-limit` or config.json keep it for every process. A value of 0 removes
   * the limit (0 is "not set", as in the seed's configs). `prepaid_credits` is a balance: what is
   * spent from `options.since` on (default: all the ledger holds) uses it up, and it never resets.
   */
  setLimit(provider: string, limitType: LimitType, value: number, options: LimitOptions = {}): void {
    checkMethodOptions(options, SET_LIMIT_OPTION_KEYS, 'setLimit options');
    const l = checkLimit(provider, limitType, value);
    if (l.value === 0) {
      this.#budgets.tracker.removeLike({ scope: 'provider', scopeId: l.provider, limit: 0, unit: unitOf(l.type), limitType: l.type });
      return;
    }
    const thresholds: { warning?: number; critical?: number } = {};
    if (options.warningThreshold !== undefined) thresholds.warning = options.warningThreshold;
    if (options.criticalThreshold !== undefined) thresholds.critical = options.criticalThreshold;
    const spec: BudgetSpec = {
      scope: 'provider',
      scopeId: l.provider,
      limit: l.value,
      unit: unitOf(l.type),
      limitType: l.type,
      thresholds,
    };
    if (l.type === 'prepaid_credits') spec.cycle = { kind: 'balance', since: options.since === undefined ? 0 : checkSince(options.since) };
    else if (options.cycle !== undefined) spec.cycle = options.cycle;
    if (options.enforce !== undefined) spec.enforce = options.enforce;
    this.#budgets.add(spec);
  }

  /** Sets several of a provider's limits at once, in the config file's layout (`{ monthly_limit: 50, max_plan_tokens: 1e6 }`). */
  setProviderLimit(provider: string, limits: Partial<Record<LimitType, number>>, options?: LimitOptions): void {
    for (const [type, value] of Object.entries(limits)) this.setLimit(provider, type as LimitType, value as number, options);
  }

  /** Adds (or replaces) a budget: per provider, user, API key id, team, agent, model, or everything; USD or tokens. */
  setBudget(spec: BudgetSpec): void {
    checkBudgetKeys(spec);
    this.#budgets.add(spec);
  }

  /** Removes a budget; false when there was none. */
  removeBudget(scope: BudgetSpec['scope'], scopeId: string): boolean {
    return this.#budgets.tracker.remove(scope, scopeId);
  }

  /** Every budget's standing in its current window, with calls in flight held. */
  budgetStatus(): BudgetStatus[] {
    return this.#budgets.tracker.states().map(statusOf);
  }

  /**
   * One run of a workflow with a budget of its own: calls made inside `run(fn)` count against it
   * (and are tagged `run_id` in metadata), `stats()` reports the run, `end()` drops its budget.
   */
  session(
    options: {
      budgetUsd?: number;
      budgetTokens?: number;
      enforce?: boolean;
      id?: string;
      thresholds?: { warning?: number; critical?: number };
    } = {},
  ): RunSession {
    checkSessionKeys(options);
    const id = options.id ?? `run-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    const started = Date.now();
    for (const [unit, limit] of [
      ['usd', options.budgetUsd],
      ['tokens', options.budgetTokens],
    ] as const) {
      if (limit === undefined) continue;
      const spec: BudgetSpec = { scope: 'run', scopeId: id, limit, unit, enforce: options.enforce ?? false };
      if (options.thresholds !== undefined) spec.thresholds = options.thresholds;
      this.#budgets.add(spec);
    }
    return {
      id,
      run: <T>(fn: () => T): T => this.#context.run({ runId: id }, fn),
      status: () => this.budgetStatus().filter((b) => b.scope === 'run' && b.scopeId === id),
      stats: async () => {
        const stats = await this.sessionStats({
          since: started,
          runId: id,
          ...(options.budgetUsd === undefined ? {} : { budgetUsd: options.budgetUsd }),
        });
        return stats;
      },
      end: () => {
        this.#budgets.tracker.remove('run', id);
      },
    };
  }

  /**
   * Before an instrumented call: holds its estimated cost against enforced budgets, or throws a
   * BudgetExceededError (the request is not sent). Undefined when no budget enforces.
   */
  admit(
    provider: string,
    body: unknown,
    context: CallContext | undefined,
    apiKey: string | undefined,
    apiKeyId?: string,
  ): Held | undefined {
    if (!this.#budgets.tracker.enforcing) return undefined;
    const ctx = context ?? this.#context.current();
    const keyId = apiKey === undefined ? (apiKeyId ?? null) : this.#keyIdOf(apiKey);
    return this.#budgets.admit(provider, body, ctx, keyId, ctx?.runId ?? null);
  }

  /** Gives back what `admit` held when a call ends without usage being recorded (the usage path settles on its own). */
  settle(held: Held | undefined): void {
    this.#budgets.settle(held);
  }

  /** The producer of tokenmeter's metrics, for a MetricReader of your own. */
  get metricProducer(): TokenmeterMetricProducer | undefined {
    return this.#export?.producer;
  }

  /** The Prometheus endpoint's URL once it listens (see `ready()`); undefined when off. */
  get metricsUrl(): string | undefined {
    return this.#export?.url;
  }

  /** Answers a Prometheus scrape on a server of your own; false when Prometheus export is off. */
  handleMetrics(req: IncomingMessage, res: ServerResponse): boolean {
    return this.#export?.handleMetrics(req, res) ?? false;
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

  /**
   * Makes everything recorded so far durable: the ledger written, metrics pushed. A ledger that
   * cannot be written is reported (log, `tokenmeter_internal_errors_total`, `health()`) and its
   * records kept in memory for the next try; flush itself does not throw.
   */
  async flush(): Promise<void> {
    await this.#settle();
    await this.#flushLedger();
    await this.flushMetrics();
  }

  async #flushLedger(): Promise<void> {
    try {
      await this.#ledger?.flush();
    } catch {
      // Reported by the writer's onError; the records stay queued.
    }
  }

  /** Whether the ledger is being written, how many records wait, and where metrics are served. */
  health(): Health {
    const ledger = this.#ledger?.health() ?? null;
    return { ok: ledger === null || ledger.ok, ledger, metricsUrl: this.metricsUrl };
  }

  /** Flushes, closes the ledger, and stops the endpoint and exporters. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#settle();
    await this.flushMetrics();
    this.#closed = true;
    this.#offTokenizerFailure();
    try {
      await this.#ledger?.close();
    } catch (error) {
      this.#internalError('ledger', error);
    }
    await this.#export?.close();
  }

  /** The ledger's store, once everything recorded so far is written to it. Throws a LedgerError when there is none or it cannot be opened. */
  async #store(): Promise<LedgerStore> {
    if (this.#ledger === undefined)
      throw new LedgerError(this.dir, this.disabled ? 'tracking is disabled' : 'this monitor keeps no ledger (ledger: false)');
    await this.#flushLedger();
    return this.#ledger.store();
  }

  /** The ledger's store as it is now (nothing flushed first); throws a LedgerError when it cannot do `what`. */
  #storeFor<K extends 'keepNotification' | 'receivedAlerts'>(what: K): NonNullable<LedgerStore[K]> {
    if (this.#ledger === undefined)
      throw new LedgerError(this.dir, this.disabled ? 'tracking is disabled' : 'this monitor keeps no ledger (ledger: false)');
    const store = this.#ledger.store();
    const f = store[what];
    if (f === undefined) throw new LedgerError(store.location, `this ledger (${store.kind}) keeps no Alertmanager notifications`);
    return f.bind(store) as NonNullable<LedgerStore[K]>;
  }

  /** Keeps a notification Alertmanager sent (`POST /v1/alertmanager`) in the ledger, its alerts by fingerprint and start. */
  keepAlertmanagerNotification(n: AlertmanagerNotification): KeptNotification {
    const kept = this.#storeFor('keepNotification')(n);
    if (kept.alerts < n.alerts.length) {
      // Past the per-request bound: counted (tokenmeter_internal_errors_total{component="alertmanager"}) and logged, not silent.
      this.#agg.internalError('alertmanager');
      this.#once.warn(
        'alertmanager-truncated',
        `an Alertmanager notification carried ${n.alerts.length} alerts: the first ${kept.alerts} were kept, the rest counted in its truncatedAlerts (set max_alerts in alertmanager.yml's webhook to send fewer)`,
      );
    }
    return kept;
  }

  /** The alerts Alertmanager sent, newest notified first (default limit 100). */
  alertmanagerAlerts(q: ReceivedAlertQuery = {}): ReceivedAlert[] {
    return this.#storeFor('receivedAlerts')(q);
  }

  /** Raw records from the ledger, newest first (default limit 100); `errors`: only the failed calls. */
  async records(q: ReportQuery & { limit?: number; errors?: boolean } = {}): Promise<UsageRecord[]> {
    checkQueryKeys(q, ['limit', 'errors'], 'a records query');
    return reports.records(await this.#store(), q);
  }

  /** Totals grouped by one dimension (default: provider) over a range (`days`, or `since`/`until`) and filters. */
  async summary(q: ReportQuery & { by?: Dimension } = {}): Promise<reports.Summary> {
    checkQueryKeys(q, ['by'], 'a summary query');
    return reports.summary(await this.#store(), q);
  }

  /** Usage by day split by one dimension (default: provider): a series per value, a point per day of the range. */
  async daily(q: ReportQuery & { by?: Dimension } = {}): Promise<reports.DailyBreakdown> {
    checkQueryKeys(q, ['by'], 'a daily query');
    return reports.daily(await this.#store(), q);
  }

  /** A range at a glance (the built-in page): totals, breakdowns by provider, model, agent, operation and user, and usage by day split by `split`. */
  async overview(q: ReportQuery & { split?: Dimension } = {}): Promise<reports.Overview> {
    checkQueryKeys(q, ['split'], 'an overview query');
    return reports.overview(await this.#store(), q);
  }

  /**
   * What the ledger says the team could save, in dollars, over the last 30 days (or `q`'s range):
   * caching, cheaper tiers (a what-if), prompt-size outliers, billed failures, reasoning and output
   * ceilings, batch and flex. Items under `q.minUsd` ($1) are left out; a thin ledger says so.
   */
  async advise(q: AdviceQuery = {}): Promise<Advice> {
    checkQueryKeys(q, ['minUsd', 'minCalls', 'minGroupCalls', 'scanLimit', 'cacheableShare'], 'an advice query');
    return advise(await this.#store(), (provider, model) => this.#prices.resolve(provider, model), q);
  }

  /** Per provider: totals, by service type and by model. */
  async providerSummaries(q: ReportQuery = {}): Promise<reports.ProviderSummary[]> {
    checkQueryKeys(q, [], 'a report query');
    return reports.providerSummaries(await this.#store(), q);
  }

  /** Across providers: period, totals, per provider, and each subscription limit's status. */
  async report(q: ReportQuery = {}): Promise<reports.Report> {
    checkQueryKeys(q, [], 'a report query');
    return reports.report(await this.#store(), q, this.budgetStatus());
  }

  /** Every budget and subscription limit: used, held by calls in flight, remaining, percentage, level and reset time. */
  status(): BudgetStatus[] {
    return this.budgetStatus();
  }

  /** One user's usage: totals, by model, requests by agent, daily trend. */
  async userUsage(userId: string, q: ReportQuery = {}): Promise<reports.SubjectUsage> {
    checkQueryKeys(q, [], 'a usage query');
    return reports.subjectUsage(await this.#store(), { ...q, userId });
  }

  /** One thread's usage: totals, by model, requests by agent, daily trend. */
  async threadUsage(threadId: string, q: ReportQuery = {}): Promise<reports.SubjectUsage> {
    checkQueryKeys(q, [], 'a usage query');
    return reports.subjectUsage(await this.#store(), { ...q, threadId });
  }

  /** Writes the records of a range to a CSV or JSON file, streaming. */
  async exportRecords(path: string, options: RecordExportOptions = {}): Promise<ExportResult> {
    checkQueryKeys(options, ['format', 'onProgress'], 'export options');
    return exportRecords(await this.#store(), path, options);
  }

  /** The dir of the monthly archives that `cleanup` writes: `<dir>/archive`. */
  get archiveDir(): string {
    return join(this.dir, 'archive');
  }

  /** Archives the records older than `days` whole days into monthly files, then deletes them from the ledger. */
  async cleanup(options: { days: number }): Promise<CleanupResult> {
    checkMethodOptions(options, CLEANUP_OPTION_KEYS, 'cleanup options');
    const days = options?.days;
    if (typeof days !== 'number' || !Number.isFinite(days) || days < 0)
      throw new ValidationError('days', days, 'must be a number of days, 0 or more');
    return cleanup(await this.#store(), this.archiveDir, days);
  }

  /** The monthly archive files, oldest first. */
  archives(): ArchiveInfo[] {
    return listArchives(this.archiveDir);
  }

  /** The records of one archive (a month such as `2026-10`, or a path), oldest first. */
  readArchive(monthOrPath: string): AsyncGenerator<UsageRecord> {
    return readArchive(monthOrPath, this.archiveDir);
  }

  /** Statistics of this monitor's session (since it started, unless `since` says otherwise). */
  async sessionStats(q: ReportQuery & { budgetUsd?: number } = {}): Promise<reports.SessionStats> {
    checkQueryKeys(q, ['budgetUsd'], 'a session query');
    return reports.sessionStats(await this.#store(), { since: this.#startedAt, ...q });
  }
}

/** Fills a call's unset fields from the context it runs in; the call's own fields win. */
function applyContext(input: UsageInput, ctx: CallContext): UsageInput {
  const out: UsageInput = { ...input };
  if (out.userId === undefined && ctx.userId !== undefined) out.userId = ctx.userId;
  if (out.threadId === undefined && ctx.threadId !== undefined) out.threadId = ctx.threadId;
  if (out.agent === undefined && ctx.agent !== undefined) out.agent = ctx.agent;
  if (ctx.operation !== undefined && (out.operation === undefined || CALL_KINDS.has(out.operation))) {
    out.operation = ctx.operation;
  }
  if (ctx.metadata !== undefined) out.metadata = { ...ctx.metadata, ...out.metadata };
  return out;
}

/** A context that only names a run (`session().run(fn)`): nothing to copy into the call. */
function onlyRun(ctx: CallContext): boolean {
  return (
    ctx.userId === undefined &&
    ctx.threadId === undefined &&
    ctx.agent === undefined &&
    ctx.operation === undefined &&
    ctx.metadata === undefined
  );
}

const CLEANUP_OPTION_KEYS: ReadonlySet<string> = new Set(['days']);

/** The kinds of call instrumented calls are labelled with until a context names the operation. */
const CALL_KINDS = new Set(['chat', 'text_completion', 'generate_content', 'embeddings', 'rerank']);

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
