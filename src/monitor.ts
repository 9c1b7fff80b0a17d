import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Held } from './budgeting.ts';
import type { Alert } from './budgets/budget-spec.ts';
import { composeMonitor, healthOf, type MonitorParts, refreshPrices, reportSources } from './compose.ts';
import { type CallContext, ContextStore } from './context.ts';
import { type InstrumentOptions, instrumentClient } from './instrument/index.ts';
import { type CallSink, type TrackedCall, type TrackOptions, trackWith } from './instrument/track.ts';
import type { TokenmeterMetricProducer } from './metrics/producer.ts';
import { BudgetControls } from './monitor-budgets.ts';
import type { Health, TokenMonitorOptions } from './monitor-options.ts';
import { checkContextKeys, checkInstrumentKeys, checkMethodOptions, TRACK_OPTION_KEYS } from './option-keys.ts';
import type { RecordResult as PipelineResult } from './pipeline/pipeline.ts';
import type { UsageSummary } from './pipeline/totals.ts';
import { type CallFacts, usageOfCall } from './pipeline/usage-input.ts';
import type { RefreshResult } from './pricing/price-data.ts';
import type { PriceOverride, ResolvedPrice } from './pricing/types.ts';
import type { Usage } from './providers/index.ts';
import type { UsageInput, ValidUsage } from './usage.ts';

export type { LimitOptions } from './budgeting.ts';
/** A budget or limit crossing. */
export type { Alert } from './budgets/budget-spec.ts';
export type { Health, LedgerOptions, MetricsOptions, TokenMonitorOptions } from './monitor-options.ts';
export type { UsageSummary } from './pipeline/totals.ts';
export type { CallFacts } from './pipeline/usage-input.ts';
export type { RunSession } from './session.ts';

/** What `record()` returns: the record, its cost, the running totals and the budget alerts it raised. */
export type RecordResult = PipelineResult<Alert>;

/**
 * Meters LLM, embedding and rerank calls: a thin facade over the recording pipeline (validate →
 * price → metrics, budgets and ledger sinks; see compose.ts, where the parts are wired) and the
 * ledger's report queries.
 */
export class TokenMonitor extends BudgetControls implements CallSink {
  /** The storage dir. */
  readonly dir: string;
  /** True when tracking is off (`disabled` or `TOKENMETER_DISABLED`). */
  readonly disabled: boolean;
  readonly #p: MonitorParts;
  readonly #context: ContextStore;
  readonly #later: MonitorParts['later'];
  /** Records still being prepared (streams' token estimates): flush() and close() wait for them. */
  readonly #pending = new Set<Promise<unknown>>();
  #closed = false;

  constructor(options: TokenMonitorOptions = {}) {
    const p = composeMonitor(options);
    const context = new ContextStore();
    super(p, context, reportSources(p));
    this.#p = p;
    this.#context = context;
    this.#later = p.later;
    this.dir = p.dir;
    this.disabled = p.disabled;
  }

  /**
   * Records one call: validates it (throwing a ValidationError that names the field, with nothing
   * recorded), prices it and hands it to metrics, budgets and the ledger. Failures inside
   * tokenmeter after validation are logged and counted, never thrown.
   */
  record(input: UsageInput): RecordResult {
    if (this.#later.size !== 0) this.#later.drain();
    return this.#p.pipeline.record(input, this.#context.current());
  }

  /**
   * Checks a call as `record()` does (this monitor's key-id secret, the running context) without
   * recording it, so that a batch can be checked whole before any of it is recorded; record what
   * it returns with {@link recordValidated}. Throws a ValidationError naming the field.
   */
  validate(input: UsageInput): ValidUsage {
    return this.#p.pipeline.validate(input, this.#context.current());
  }

  /** Records a call `validate()` returned, without checking it again (each once; anything else throws). */
  recordValidated(u: ValidUsage): RecordResult {
    this.#later.drain();
    return this.#p.pipeline.recordValidated(u);
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
    const done = (): void => void this.#pending.delete(p);
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
    this.#later.drain();
    return this.#usage(usage, facts, false);
  }

  /**
   * As `recordUsage`, for a caller that reads no result (instrumented clients): none is built. A
   * call that brings its whole context (`facts.wholeContext`) is recorded at the event loop's next
   * turn, with others that ended meanwhile (see LaterQueue); every read of what was recorded
   * (totals, metrics, ledger, budgets, `flush()`) records what waits first.
   */
  meterUsage(usage: Usage, facts: CallFacts): void {
    if (facts.wholeContext === true) {
      facts.timestamp ??= Date.now();
      this.#later.push(usage, facts);
      return;
    }
    this.#usage(usage, facts, true);
  }

  #usage(usage: Usage, facts: CallFacts, meter: boolean): RecordResult | undefined {
    return this.#p.recordCall(usage, facts, facts.wholeContext === true ? undefined : this.#context.current(), meter);
  }

  /** Keeps `apiKey` out of every line this monitor logs (instrument() gives it each client's key). */
  addSecret(apiKey: string): void {
    this.#p.secrets.add(apiKey);
  }

  /** Records a call that `track` observed (the CallSink side of `track`), giving back what it held. Never throws. */
  recordCall(call: TrackedCall): void {
    try {
      const { usage, facts } = usageOfCall(call);
      this.meterUsage(usage, facts); // settles the hold
    } catch (error) {
      this.#p.budgets.settle(call.held as Held | undefined);
      this.#p.internalError('instrument', error);
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
        this.#p.once.warn(
          `instrument:${(client as { constructor?: { name?: string } }).constructor?.name}`,
          'instrument(): not a client tokenmeter knows; its calls are not metered (use track() instead)',
        );
      }
    } catch (error) {
      this.#p.internalError('instrument', error);
    }
    return client;
  }

  /** Wraps a function that returns a provider response so each call is metered; errors are recorded and rethrown. */
  track<F extends (this: unknown, ...args: never[]) => unknown>(fn: F, options: TrackOptions): F {
    checkMethodOptions(options, TRACK_OPTION_KEYS, 'track options');
    return trackWith(() => this, fn, options);
  }

  /** Sets a price in USD per 1M tokens (and per search unit) for `model` or `provider/model`. */
  setPrice(model: string, price: PriceOverride): void {
    this.#p.prices.setPrice(model, price);
  }

  /** The price tokenmeter applies to a model, and where it came from; null when unknown. */
  price(provider: string, model: string): ResolvedPrice | null {
    return this.#p.prices.resolve(provider, model);
  }

  /**
   * Fetches newer genai-prices data from `priceData.source` (config.json `price_data.source`,
   * else genai-prices' own URL), checks it, keeps it in `<dir>/prices.json` and prices with it from
   * now on. Only when called: nothing is fetched otherwise. Refused data (broken, cut short, HTML,
   * empty) rejects with a PricingError naming the source, and the prices in force stay.
   */
  async refreshPrices(): Promise<RefreshResult> {
    return refreshPrices(this.#p);
  }

  /** Running totals per provider since start (all providers, or one). */
  usageSummary(provider: string): UsageSummary;
  usageSummary(): UsageSummary[];
  usageSummary(provider?: string): UsageSummary | UsageSummary[] {
    this.#later.drain();
    return provider === undefined ? this.#p.pipeline.summary() : this.#p.pipeline.summary(provider);
  }

  /** The producer of tokenmeter's metrics, for a MetricReader of your own. */
  get metricProducer(): TokenmeterMetricProducer | undefined {
    return this.#p.export?.producer;
  }

  /** The Prometheus endpoint's URL once it listens (see `ready()`); undefined when off. */
  get metricsUrl(): string | undefined {
    return this.#p.export?.url;
  }

  /** Answers a Prometheus scrape on a server of your own; false when Prometheus export is off. */
  handleMetrics(req: IncomingMessage, res: ServerResponse): boolean {
    return this.#p.export?.handleMetrics(req, res) ?? false;
  }

  /** Resolves once the endpoint listens (a failure to listen is logged, not thrown). */
  async ready(): Promise<void> {
    await this.#p.export?.ready();
  }

  /** Pushes metrics to OTLP and any extra readers now. */
  async flushMetrics(): Promise<void> {
    try {
      await this.#p.export?.forceFlush();
    } catch (error) {
      this.#p.internalError('flush', error);
    }
  }

  /**
   * Makes everything recorded so far durable and counted: budgets seeded from the ledger, the
   * ledger written, metrics pushed. A ledger that cannot be written is reported (log,
   * `tokenmeter_internal_errors_total`, `health()`) and its records kept in memory for the next
   * try; flush itself does not throw.
   */
  async flush(): Promise<void> {
    this.#later.drain();
    await this.#settle();
    await this.#p.budgets.tracker.seeded();
    await this.#flushLedger();
    await this.flushMetrics();
  }

  async #flushLedger(): Promise<void> {
    try {
      await this.#p.ledger?.flush();
    } catch {
      // Reported by the writer's onError; the records stay queued.
    }
  }

  /** Whether the ledger is being written, how many records wait, and where metrics are served. */
  health(): Health {
    return healthOf(this.#p);
  }

  /** Flushes, closes the ledger, and stops the endpoint and exporters. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#settle();
    await this.#p.budgets.tracker.seeded();
    await this.flushMetrics();
    this.#closed = true;
    await this.#p.budgetSync.close();
    this.#later.drain();
    this.#p.pipeline.close();
    this.#p.offTokenizerFailure();
    try {
      await this.#p.ledger?.close();
    } catch (error) {
      this.#p.internalError('ledger', error);
    }
    await this.#p.export?.close();
  }
}
