import { ValidationError } from '../errors.ts';
import { PROVIDER_REGISTRY, providerEntry } from '../providers/registry.ts';
import { type CountField, identifier, PART_RULES, PRICE_KEYS, type PriceKey, type RecordCounts } from '../usage-fields.ts';
import { lookupGenaiPrice } from './genai-prices.ts';
import { perMillionToPico, usdToPico } from './money.ts';
import { DEFAULT_MAX_AGE_DAYS, staleDataWarning } from './price-data.ts';
import { type RatePriceKey, rateName } from './rate-names.ts';
import { findRerankPrice } from './rerank-prices.ts';
import type { PriceData, PriceOverride, PriceSource, Rate, ResolvedPrice } from './types.ts';

/**
 * The counts a cost is computed from (a validated usage record has them all): the table's counts
 * (usage-fields.ts), optional but for those every cost reads.
 */
export type BillableUsage = Pick<
  RecordCounts,
  'inputTokens' | 'outputTokens' | 'cachedInputTokens' | 'cacheWriteTokens' | 'totalTokens' | 'searchUnits'
> &
  Partial<RecordCounts> & { error: boolean };

/** The price keys, from the table of record fields (usage-fields.ts). */
const OVERRIDE_FIELDS: readonly PriceKey[] = PRICE_KEYS.map(([k]) => k);

/** Checks a user price; `where` names it in errors, e.g. `prices["gpt-4o"]`. */
export function validatePriceOverride(where: string, value: unknown): PriceOverride {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError(where, value, 'must be an object of USD prices per 1M tokens');
  }
  const out: PriceOverride = {};
  for (const [k, v] of Object.entries(value)) {
    if (!(OVERRIDE_FIELDS as readonly string[]).includes(k)) {
      throw new ValidationError(`${where}.${k}`, v, `unknown price field; use ${OVERRIDE_FIELDS.join(', ')}`);
    }
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1_000_000) {
      throw new ValidationError(`${where}.${k}`, v, 'must be a non-negative number of USD');
    }
    out[k as PriceKey] = v;
  }
  if (Object.keys(out).length === 0) throw new ValidationError(where, value, 'names no price');
  return out;
}

function flat(pico: number): Rate {
  return { base: pico, tiers: [] };
}

function fromOverride(provider: string, model: string, o: PriceOverride, source: PriceSource, key: string): ResolvedPrice {
  const p: ResolvedPrice = {
    provider,
    model,
    matchedModel: key,
    source,
    sourceDetail: source === 'config' ? `config.json pricing["${key}"]` : `prices["${key}"] set in code`,
    expiresAt: Number.POSITIVE_INFINITY,
  };
  for (const [k] of PRICE_KEYS) {
    const usd = o[k];
    if (usd === undefined) continue;
    if (k === 'searchUnit') p.perSearchUnit = usdToPico(usd);
    else p[rateName(k)] = flat(perMillionToPico(usd));
  }
  return p;
}

function rateFor(r: Rate, basis: number): number {
  let pico = r.base;
  for (const t of r.tiers) if (basis > t.start) pico = t.pico;
  return pico;
}

/**
 * The cost of the input's audio tokens, and how many of them were cached: `[pico, cachedAudio,
 * freshAudio]`. `fresh` is the input neither read from the cache nor written to it.
 *
 * Each token is priced at the most specific rate the model has, as genai-prices does (a unit's
 * tokens are those of its count not claimed by a more specific priced unit): cached audio at the
 * cached-audio rate, the rest of the audio at the audio input rate, the rest of the cache reads at
 * the cache-read rate, the rest of the input at the input rate.
 *
 * Cached audio without a rate of its own: genai-prices never leaves it so (a model that prices
 * both cache reads and audio input always prices cached audio, and refuses usage that lacks the
 * count), so this only happens for a model with a cache-read price or an audio price but not both
 * (then it takes the one there is, as genai-prices would), or for a price set by hand. Then the
 * cache-read rate comes first: what providers charge for cached audio is the cache discount, far
 * nearer cached text than fresh audio (per 1M, cached audio / cached text / fresh audio: gpt-realtime
 * $0.40 / $0.40 / $32, gpt-4o-realtime-preview $2.50 / $2.50 / $40, gpt-realtime-mini $0.30 / $0.06 /
 * $10, gemini-2.5-flash $0.10 / $0.03 / $1), so it errs least.
 *
 * A cached-audio count the provider did not send (OpenAI's Chat Completions has none) is taken as
 * the least the other counts allow: audio beyond the input that was neither cached nor written
 * must have come from the cache. It is 0 whenever the audio fits in the uncached input.
 */
function audioInputCost(
  p: ResolvedPrice,
  inputRate: Rate,
  u: BillableUsage,
  input: number,
  cached: number,
  fresh: number,
): [number, number, number] {
  const audio = Math.min(u.inputAudioTokens ?? 0, input);
  const cachedAudio = Math.max(0, Math.min(Math.max(u.cachedAudioTokens ?? 0, audio - fresh), cached, audio));
  const freshAudio = Math.max(0, Math.min(audio - cachedAudio, fresh));
  let pico = 0;
  if (cachedAudio > 0) pico += cachedAudio * rateFor(p.cacheAudioRead ?? p.cacheRead ?? p.inputAudio ?? inputRate, input);
  if (freshAudio > 0) pico += freshAudio * rateFor(p.inputAudio ?? inputRate, input);
  return [pico, cachedAudio, freshAudio];
}

/**
 * The parts of the output priced at their own rate where the model has one (spoken output,
 * generated images): each count of the table that has a price and is part of `outputTokens`, in
 * table order.
 */
const OUTPUT_PARTS: readonly (readonly [CountField, RatePriceKey])[] = PRICE_KEYS.filter(
  ([k, f]) => k !== 'searchUnit' && PART_RULES.some((r) => r.part === f && r.of === 'outputTokens'),
).map(([k, f]) => [f, k as RatePriceKey] as const);

/**
 * The cost of `output` tokens: each part of OUTPUT_PARTS, up to what the parts before it left, at
 * its own rate (else the output rate); the rest (text, reasoning) at the output rate. Written out
 * from the table at load, each count and rate read by name: it runs for every priced call (see
 * compileLiteral in usage-fields.ts for why not a loop).
 */
const outputCost: (p: ResolvedPrice, outputRate: Rate, u: BillableUsage, output: number, basis: number) => number = new Function(
  'rateFor',
  `'use strict'; return function outputCost(p, outputRate, u, output, basis) { let rest = output, cost = 0, n;
${OUTPUT_PARTS.map(([f, k]) => `n = Math.min(u.${identifier(f)} ?? 0, rest); if (n > 0) { cost += n * rateFor(p.${identifier(rateName(k))} ?? outputRate, basis); rest -= n; }`).join('\n')}
return cost + rest * rateFor(outputRate, basis); };`,
)(rateFor);

/**
 * Providers whose `flex` processing tier is billed at half the standard rates (OpenAI: "priced at
 * Batch API rates"; Azure OpenAI: "a 50% discount compared with Standard processing").
 */
export const TIERED_PROVIDERS: ReadonlySet<string> = new Set(PROVIDER_REGISTRY.filter((p) => p.pricing.flexAtHalf).map((p) => p.id));

/**
 * Where a call's cost splits, in picodollars: `costPico` fills it when given one (the caller keeps
 * one object and reads it after each call, so pricing allocates nothing per call). The input side
 * is every input-side count priced (input, cache reads and writes, audio input) and every fee per
 * search or per request (search units, web searches); the output side every generated count
 * (output, reasoning, audio and image output). The two add up to the cost exactly.
 */
export interface CostSplit {
  inputPico: number;
  outputPico: number;
}

/**
 * The output side of the last tokenCost, in picodollars (read right after it; one thread runs
 * pricing at a time). A field of an object, not a module variable: a double kept in a variable
 * is boxed anew on every write, an object's double field in place.
 */
const last = { outputPico: 0 };

/**
 * The cost of one call in picodollars, or null when it cannot be known: the model bills a kind of
 * usage it has no price for, or the usage itself is unknown. A failed call that reports no usage
 * costs 0 (providers do not bill failed requests). Audio tokens cost their own rates where the
 * model has them (see audioInputCost); a model without audio prices bills them as text. A
 * call served at the `flex` tier (`serviceTier`) costs half, where the provider bills it so.
 * `split`, when given, receives the cost's input and output sides (see {@link CostSplit}); it is
 * left as it was when the cost is unknown.
 */
export function costPico(p: ResolvedPrice, u: BillableUsage, serviceTier?: string, split?: CostSplit): number | null {
  let cost = tokenCost(p, u);
  if (cost === null) return null;
  let output = last.outputPico;
  // Flex: every token at half its standard rate, cache discounts included. The output side is
  // halved on its own and the input side is what is left, so the two still add up to the cost.
  if (serviceTier === 'flex' && TIERED_PROVIDERS.has(p.provider)) {
    cost = Math.round(cost / 2);
    output = Math.round(output / 2);
  }
  // Web searches the provider bills per search (whatever the tier); a model with no such price adds nothing for them.
  const searches = u.webSearches ?? 0;
  if (searches > 0 && p.perWebSearch !== undefined) cost += searches * p.perWebSearch;
  if (split !== undefined) {
    split.outputPico = output;
    split.inputPico = cost - output;
  }
  return cost;
}

/**
 * The cost of a call's tokens (and search units) at the standard rates; null when unknown. Its
 * output side is left in `last.outputPico`.
 */
function tokenCost(p: ResolvedPrice, u: BillableUsage): number | null {
  last.outputPico = 0;
  let input = u.inputTokens;
  const output = u.outputTokens;
  // Embedding and rerank APIs often report only a total, which is all input.
  if (input === null && output === null && u.totalTokens !== null) input = u.totalTokens;
  const bySearch = p.perSearchUnit !== undefined;
  if (input === null && output === null && u.searchUnits === null) return u.error ? 0 : null;

  let cost = 0;
  if (bySearch) {
    if (u.searchUnits === null) return null;
    cost += u.searchUnits * (p.perSearchUnit as number);
  }
  if (input !== null && input > 0 && p.input !== undefined) {
    const cached = u.cachedInputTokens ?? 0;
    const written = u.cacheWriteTokens ?? 0;
    let fresh = input - cached - written;
    let cachedText = cached;
    if ((u.inputAudioTokens ?? 0) > 0) {
      const [pico, cachedAudio, freshAudio] = audioInputCost(p, p.input, u, input, cached, fresh);
      cost += pico;
      cachedText -= cachedAudio;
      fresh -= freshAudio;
    }
    cost += fresh * rateFor(p.input, input);
    if (cachedText > 0) cost += cachedText * rateFor(p.cacheRead ?? p.input, input);
    if (written > 0) {
      // One-hour writes at their own rate where the model has one; the rest (five-minute) at the cache-write rate.
      const hour = Math.min(u.cacheWrite1hTokens ?? 0, written);
      const write = p.cacheWrite ?? p.input;
      cost += (written - hour) * rateFor(write, input);
      if (hour > 0) cost += hour * rateFor(p.cacheWrite1h ?? write, input);
    }
  } else if (input !== null && input > 0 && !bySearch) {
    return null;
  } else if (input === null && !bySearch) {
    return null;
  }
  if (output !== null && output > 0) {
    if (p.output !== undefined) {
      const out = outputCost(p, p.output, u, output, input ?? 0);
      cost += out;
      last.outputPico = out;
    } else if (!bySearch) return null;
  }
  return cost;
}

/** Options of a {@link PriceBook}. */
export interface PriceBookOptions {
  /** Prices set in code, keyed by model or `provider/model`; they win over every other source. */
  prices?: Record<string, PriceOverride>;
  /** Prices from the config file, same keys; they win over the bundled data. */
  configPrices?: Record<string, PriceOverride>;
  /** genai-prices data to use instead of the bundled data (a refreshed file, see loadPriceData). @default the bundled data */
  data?: PriceData | undefined;
  /** Warn once when the genai-prices data in use is older than this many days. @default 60 */
  maxAgeDays?: number | undefined;
  /** Where that warning goes. @default nowhere */
  warn?: ((message: string) => void) | undefined;
  /** The clock the data's age is read by. @default Date.now */
  now?: (() => number) | undefined;
}

/**
 * Finds each model's price once and keeps it. Order: prices set in code, then the config file,
 * then local providers (Ollama: free), then the rerank table, then genai-prices' bundled data.
 */
export class PriceBook {
  readonly #code = new Map<string, PriceOverride>();
  readonly #config = new Map<string, PriceOverride>();
  readonly #cache = new Map<string, ResolvedPrice | null>();
  /** The last lookup: calls mostly repeat the model of the call before (a key built and hashed costs ~0.4 µs). */
  #last: { provider: string; model: string; price: ResolvedPrice | null } | undefined;
  #data: PriceData | undefined;
  readonly #maxAgeDays: number;
  readonly #warn: ((message: string) => void) | undefined;
  readonly #now: () => number;
  /** The data whose age was checked: each data set is checked (and warned about) once. */
  #agedChecked: PriceData | undefined | null = null;
  /** Bumped on every change, so holders of a resolved price know to look it up again. */
  version = 0;

  constructor(options: PriceBookOptions = {}) {
    for (const [k, v] of Object.entries(options.prices ?? {})) this.#code.set(k, validatePriceOverride(`prices["${k}"]`, v));
    for (const [k, v] of Object.entries(options.configPrices ?? {})) {
      this.#config.set(k, validatePriceOverride(`pricing["${k}"]`, v));
    }
    this.#data = options.data;
    this.#maxAgeDays = options.maxAgeDays ?? DEFAULT_MAX_AGE_DAYS;
    this.#warn = options.warn;
    this.#now = options.now ?? Date.now;
  }

  /** The genai-prices data in use; undefined for the bundled data. */
  get data(): PriceData | undefined {
    return this.#data;
  }

  /** Uses other genai-prices data from now on (a refresh); every price is looked up again. */
  setData(data: PriceData | undefined): void {
    this.#data = data;
    this.#changed();
  }

  #changed(): void {
    this.#cache.clear();
    this.#last = undefined;
    this.version++;
  }

  /** Sets (or replaces) a price for `model` or `provider/model`, in USD per 1M tokens. */
  setPrice(key: string, price: PriceOverride): void {
    if (typeof key !== 'string' || key === '') throw new ValidationError('model', key, 'must be a model name or provider/model');
    this.#code.set(key, validatePriceOverride(`prices["${key}"]`, price));
    this.#changed();
  }

  /** The price of a model, or null when no source knows it. Cached per provider and model. */
  resolve(provider: string, model: string, at: number = Date.now()): ResolvedPrice | null {
    const last = this.#last;
    if (last !== undefined && last.provider === provider && last.model === model && (last.price === null || at < last.price.expiresAt)) {
      return last.price;
    }
    const key = `${provider}\u0000${model}`;
    let price = this.#cache.get(key);
    if (price === undefined || (price !== null && at >= price.expiresAt)) {
      price = this.#lookup(provider, model, new Date(at)) ?? null;
      this.#cache.set(key, price);
    }
    this.#last = { provider, model, price };
    return price;
  }

  #lookup(provider: string, model: string, at: Date): ResolvedPrice | undefined {
    for (const [map, source] of [
      [this.#code, 'override'],
      [this.#config, 'config'],
    ] as const) {
      const scoped = `${provider}/${model}`;
      const o = map.get(scoped) ?? map.get(model);
      if (o) return fromOverride(provider, model, o, source, map.has(scoped) ? scoped : model);
    }
    if (providerEntry(provider)?.pricing.local === true) {
      return {
        provider,
        model,
        matchedModel: model,
        source: 'local',
        sourceDetail: `${provider} runs models locally: no per-token charge (set a price to count hardware cost)`,
        input: flat(0),
        output: flat(0),
        expiresAt: Number.POSITIVE_INFINITY,
      };
    }
    const rerank = findRerankPrice(provider, model);
    if (rerank) {
      const p: ResolvedPrice = {
        provider,
        model,
        matchedModel: rerank.model,
        source: 'rerank-table',
        sourceDetail: `tokenmeter rerank table: ${rerank.provider}/${rerank.model}, ${rerank.source}`,
        expiresAt: Number.POSITIVE_INFINITY,
      };
      if (rerank.perSearchUnit !== undefined) p.perSearchUnit = usdToPico(rerank.perSearchUnit);
      if (rerank.perMillionTokens !== undefined) p.input = flat(perMillionToPico(rerank.perMillionTokens));
      return p;
    }
    const price = lookupGenaiPrice(provider, model, at, this.#data);
    if (price !== undefined && this.#agedChecked !== this.#data) {
      // Checked when a price from the data is first used (not per call: prices are kept), and
      // again after a refresh.
      this.#agedChecked = this.#data;
      const message = price.data && staleDataWarning(price.data, this.#now(), this.#maxAgeDays);
      if (message) this.#warn?.(message);
    }
    return price;
  }
}
