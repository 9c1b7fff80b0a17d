import type { CallContext } from '../context.ts';
import { ValidationError } from '../errors.ts';
import type { SecretKeys } from '../logger.ts';
import { picoToUsd, usdToPico } from '../pricing/money.ts';
import { type CostSplit, costPico, TIERED_PROVIDERS } from '../pricing/price-book.ts';
import type { PriceCache } from '../pricing/price-cache.ts';
import type { ResolvedPrice } from '../pricing/types.ts';
import type { RecordSink, SinkAnswer } from '../record-sink.ts';
import type { UsageInput, UsageRecord, ValidUsage } from '../usage.ts';
import type { InputCounts } from '../usage-fields.ts';
import { emptySummary, type UsageSummary, UsageTotals } from './totals.ts';
import { validateInContext } from './validate.ts';

/**
 * What `record()` returns. `A` is the sinks' alert type (the budgets' Alert, which the facade names):
 * the pipeline passes alerts through without knowing what they are.
 */
export interface RecordResult<A = unknown> {
  /**
   * False when tracking is disabled or the monitor is closed; with `ledger: { durability: 'sync' }`,
   * also when the record could not be written to the ledger (it stays queued and is retried).
   */
  logged: boolean;
  record: UsageRecord | null;
  /** The call's cost in USD, null when its model has no known price. */
  costUsd: number | null;
  usageSummary: UsageSummary;
  alerts: A[];
}

/** How the pipeline reports what goes wrong inside it (never thrown into the caller). */
export interface PipelineHooks {
  /** Counts (`tokenmeter_internal_errors_total{component}`) and logs a failure; never throws. */
  internalError(component: string, error: unknown): void;
  /** Logs a warning once per key. */
  warnOnce(key: string, message: string): void;
}

const NO_ALERTS: never[] = [];
Object.freeze(NO_ALERTS);

/**
 * The recording path: validate → price → one frozen record handed to each sink, in order. The
 * sinks (metrics, budgets, the ledger) know nothing of each other, nor this of them: a sink that
 * throws is counted under its name and the others still get the record. Budgets come before the
 * ledger: a budget state made for a subject seen for the first time is seeded from the ledger,
 * which must not hold the record that made it (that one is counted as it comes).
 */
export class RecordPipeline<A = unknown> {
  readonly #sinks: readonly RecordSink[];
  readonly #prices: PriceCache;
  readonly #hooks: PipelineHooks;
  readonly #keyIdOf: (apiKey: string) => string;
  readonly #secrets: SecretKeys;
  readonly #totals = new UsageTotals();
  /** Where costPico leaves each call's input and output sides: one object, read after each call. */
  readonly #split: CostSplit = { inputPico: 0, outputPico: 0 };
  /** What validate() returned and recordValidated() has not recorded yet. */
  readonly #checked = new WeakSet<ValidUsage>();
  /** True when some sink keeps records past the call: each is frozen. */
  readonly #freeze: boolean;
  /** Set when records are no longer taken: 'disabled' or 'closed'. */
  #off: 'disabled' | 'closed' | undefined;

  constructor(options: {
    sinks: readonly RecordSink[];
    prices: PriceCache;
    hooks: PipelineHooks;
    keyIdOf: (apiKey: string) => string;
    secrets: SecretKeys;
    disabled?: boolean;
  }) {
    this.#sinks = options.sinks;
    this.#freeze = options.sinks.some((s) => s.keeps === true);
    this.#prices = options.prices;
    this.#hooks = options.hooks;
    this.#keyIdOf = options.keyIdOf;
    this.#secrets = options.secrets;
    if (options.disabled === true) this.#off = 'disabled';
  }

  /** Takes no more records (after `close()`): each is refused with one warning. */
  close(): void {
    this.#off ??= 'closed';
  }

  /** Checks a call in context `ctx` without recording it; recordValidated() takes what this returns, once. */
  validate(input: UsageInput, ctx: CallContext | undefined): ValidUsage {
    const u = validateInContext(input, ctx, this.#keyIdOf, this.#secrets);
    this.#checked.add(u);
    return u;
  }

  /** Records a call `validate()` returned, without checking it again (each once; anything else throws). */
  recordValidated(u: ValidUsage): RecordResult<A> {
    if (!this.#checked.delete(u)) throw new ValidationError('usage', u, 'must be what validate() returned, recorded once');
    return this.#record(u, undefined, true);
  }

  /**
   * Records one call in context `ctx`: a ValidationError naming the field when it is wrong (nothing
   * recorded). With `counts`, `input` is one tokenmeter built and its counts are read from `counts`
   * (see validateBuilt).
   */
  record(input: UsageInput, ctx: CallContext | undefined, counts?: InputCounts): RecordResult<A> {
    return this.#record(input, ctx, false, counts);
  }

  #record(input: UsageInput | ValidUsage, ctx: CallContext | undefined, checked: boolean, counts?: InputCounts): RecordResult<A> {
    if (this.#refuses()) {
      return { logged: false, record: null, costUsd: null, usageSummary: emptySummary(input?.provider), alerts: NO_ALERTS };
    }
    const u = checked ? (input as ValidUsage) : validateInContext(input as UsageInput, ctx, this.#keyIdOf, this.#secrets, counts);
    let result: RecordResult<A>;
    try {
      this.#priced(u);
      result = { logged: true, record: u, costUsd: u.costUsd, usageSummary: this.#totals.add(u), alerts: NO_ALERTS };
    } catch (error) {
      this.#hooks.internalError('record', error);
      return { logged: false, record: null, costUsd: null, usageSummary: emptySummary(u.provider), alerts: NO_ALERTS };
    }
    this.#give(u, result);
    return result;
  }

  /**
   * Records one call whose result nobody reads (instrumented clients): as `record()`, without
   * building the result or a snapshot of the running totals, which every metered call would
   * otherwise allocate and drop. Throws a ValidationError as `record()` does.
   */
  meter(input: UsageInput, ctx: CallContext | undefined, counts?: InputCounts): void {
    if (this.#refuses()) return;
    const u = validateInContext(input, ctx, this.#keyIdOf, this.#secrets, counts);
    try {
      this.#priced(u);
      this.#totals.count(u);
    } catch (error) {
      this.#hooks.internalError('record', error);
      return;
    }
    // One answer object, reused: no sink keeps it past accept().
    const answer = this.#scratch;
    answer.logged = true;
    answer.alerts = NO_ALERTS;
    this.#give(u, answer);
  }

  /** True when records are no longer taken (disabled, or closed: said once). */
  #refuses(): boolean {
    if (this.#off === undefined) return false;
    if (this.#off === 'closed') this.#hooks.warnOnce('closed', 'record() after close(): the call was not recorded');
    return true;
  }

  readonly #scratch: SinkAnswer = { logged: true, alerts: NO_ALERTS };

  /** Prices a validated record in place, frozen after when a sink keeps it. */
  #priced(u: ValidUsage): void {
    const pico = this.#price(u);
    u.costUsd = pico === null ? null : picoToUsd(pico);
    u.costPicoUsd = pico;
    // #price set #split to -1 when the split is unknown (a cost the caller gave without one, or none).
    const split = this.#split;
    u.inputCostUsd = split.inputPico < 0 ? null : picoToUsd(split.inputPico);
    u.outputCostUsd = split.outputPico < 0 ? null : picoToUsd(split.outputPico);
    // One record for every sink, and the one returned: frozen when a sink keeps it (see RecordSink.keeps).
    if (this.#freeze) Object.freeze(u);
  }

  /** Hands the record to each sink in order; one that throws is counted and the others still get it. */
  #give(u: ValidUsage, answer: SinkAnswer): void {
    const sinks = this.#sinks;
    for (let i = 0; i < sinks.length; i++) {
      const sink = sinks[i] as RecordSink;
      try {
        sink.accept(u, answer);
      } catch (error) {
        this.#hooks.internalError(sink.name, error);
      }
    }
  }

  /** The record's cost in picodollars: the caller's, else from its model's price; null when unknown. */
  #price(u: ValidUsage): number | null {
    const split = this.#split;
    split.inputPico = -1;
    split.outputPico = -1;
    if (u.costUsd !== null) {
      const total = usdToPico(u.costUsd);
      // The caller's split, when it gave one (validation checked that it adds up).
      if (u.outputCostUsd !== null) {
        split.outputPico = Math.min(usdToPico(u.outputCostUsd), total);
        split.inputPico = total - split.outputPico;
      }
      return total;
    }
    const price = this.#prices.get(u.provider, u.model, u.timestamp);
    const tier = u.metadata?.service_tier;
    const pico = price === null ? null : costPico(price, u, typeof tier === 'string' ? tier : undefined, split);
    if (pico === null) this.#warnUnpriced(u, price);
    else if (tier === 'priority' && price !== null && TIERED_PROVIDERS.has(u.provider)) {
      this.#hooks.warnOnce(
        `priority:${u.provider}/${u.model}`,
        `a "${u.model}" call served at priority processing is costed at the standard rates (no priority prices are known), below what it is billed; set its price to the priority rates to count it right`,
      );
    }
    return pico;
  }

  #warnUnpriced(u: ValidUsage, price: ResolvedPrice | null): void {
    if (price === null) {
      this.#hooks.warnOnce(
        `unpriced:${u.provider}/${u.model}`,
        `no price known for model "${u.model}" of provider "${u.provider}": its calls record costUsd null and count in tokenmeter_unpriced_requests_total (set one with prices or config.json "pricing")`,
      );
    } else if (!u.error) {
      this.#hooks.warnOnce(
        `unknown-usage:${u.provider}/${u.model}`,
        `cost of a "${u.model}" call is unknown: its usage was not reported, or it billed a kind of usage its price (${price.sourceDetail}) does not cover`,
      );
    }
  }

  /** Running totals per provider since start (one, or all). */
  summary(provider: string): UsageSummary;
  summary(): UsageSummary[];
  summary(provider?: string): UsageSummary | UsageSummary[] {
    return provider === undefined ? this.#totals.all() : this.#totals.get(provider);
  }
}
