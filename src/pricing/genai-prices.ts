import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { MatchLogic, ModelInfo, ModelPrice, Provider, TieredPrices } from '@pydantic/genai-prices';
import { PROVIDER_REGISTRY, providerEntry } from '../providers/registry.ts';
import { fieldSpec, PRICE_KEYS } from '../usage-fields.ts';
import { genaiPrices } from './genai-prices-module.ts';
import { perMillionToPico, usdToPico } from './money.ts';
import { rateName } from './rate-names.ts';
import type { PriceData, PriceDataOrigin, Rate, ResolvedPrice } from './types.ts';

/**
 * Prices from @pydantic/genai-prices, which ships its data inside the package (no network). Its
 * `calcPrice` scans the table on every call, so tokenmeter calls it once per model to find the
 * entry and keeps the rates.
 *
 * Newer data (a file `tokenmeter pricing --refresh` fetched, see price-data.ts) is looked up in
 * that data, passed in: not through genai-prices' `updatePrices`, which swaps the data of the
 * whole process, so two monitors (or a test and its neighbour) could not hold different data.
 */

/** Our provider ids → genai-prices provider ids, from the registry. Others are passed through, then matched by model. */
export const GENAI_PRICES_PROVIDER: Readonly<Record<string, string>> = Object.fromEntries(
  PROVIDER_REGISTRY.flatMap((p) => (p.pricing.genaiPrices === undefined ? [] : [[p.id, p.pricing.genaiPrices]])),
);

type Calc = NonNullable<ReturnType<typeof genaiPrices.calcPrice>>;

function tryCalc(model: string, providerId: string | undefined, at: Date): Calc | null {
  try {
    return genaiPrices.calcPrice({ input_tokens: 0 }, model, providerId === undefined ? { timestamp: at } : { providerId, timestamp: at });
  } catch {
    return null;
  }
}

// genai-prices' match logic (not exported), for finding a provider in data passed in.
function matches(m: MatchLogic, text: string): boolean {
  const t = text.toLowerCase();
  if ('or' in m) return m.or.some((x) => matches(x, text));
  if ('and' in m) return m.and.every((x) => matches(x, text));
  if ('equals' in m) return t === m.equals.toLowerCase();
  if ('starts_with' in m) return t.startsWith(m.starts_with.toLowerCase());
  if ('ends_with' in m) return t.endsWith(m.ends_with.toLowerCase());
  if ('contains' in m) return t.includes(m.contains.toLowerCase());
  if ('regex' in m) return new RegExp(m.regex).test(text);
  return false;
}

/** A provider without its fallbacks: calcPrice would look those up in its bundled data. */
const ownModels = new WeakMap<Provider, Provider>();
function withoutFallbacks(p: Provider): Provider {
  let own = ownModels.get(p);
  if (own === undefined) {
    const { fallback_model_providers: _, ...rest } = p;
    own = rest;
    ownModels.set(p, own);
  }
  return own;
}

/**
 * calcPrice's lookup, in `providers` instead of its bundled data: the provider by id (else by its
 * provider_match), or by model name when no id is given; the model in it, else in its fallback
 * providers (Azure's models are OpenAI's), reported under the provider asked for, as calcPrice does.
 */
function tryCalcIn(providers: readonly Provider[], model: string, providerId: string | undefined, at: Date): Calc | null {
  let name = model.toLowerCase().trim();
  let id = providerId?.toLowerCase().trim();
  // LiteLLM names carry the provider: openai/gpt-4o.
  if (id === 'litellm' && name.includes('/')) {
    const slash = name.indexOf('/');
    const prefix = name.slice(0, slash);
    if (prefix !== '' && slash < name.length - 1 && findIn(providers, prefix) !== undefined) {
      id = prefix;
      name = name.slice(slash + 1);
    }
  }
  let provider = id === undefined ? undefined : findIn(providers, id);
  if (provider === undefined && (id === undefined || id === 'litellm')) {
    provider = providers.find((p) => p.model_match !== undefined && matches(p.model_match, name));
  }
  if (provider === undefined) return null;
  const chain = [provider, ...(provider.fallback_model_providers ?? []).flatMap((f) => providers.find((p) => p.id === f) ?? [])];
  for (const p of chain) {
    try {
      const calc = genaiPrices.calcPrice({ input_tokens: 0 }, name, { provider: withoutFallbacks(p), timestamp: at });
      if (calc !== null) return { ...calc, provider };
    } catch {
      // A price the data cannot apply: try the next, as for the bundled data.
    }
  }
  return null;
}

function findIn(providers: readonly Provider[], id: string): Provider | undefined {
  return providers.find((p) => p.id === id) ?? providers.find((p) => p.provider_match !== undefined && matches(p.provider_match, id));
}

function rate(value: number | TieredPrices | undefined): Rate | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return { base: perMillionToPico(value), tiers: [] };
  return {
    base: perMillionToPico(value.base),
    tiers: [...value.tiers].sort((a, b) => a.start - b.start).map((t) => ({ start: t.start, pico: perMillionToPico(t.price) })),
  };
}

/** The next dated price change after `at`, so a cached price is looked up again then. */
function nextChange(model: ModelInfo, at: Date): number {
  if (!Array.isArray(model.prices)) return Number.POSITIVE_INFINITY;
  let next = Number.POSITIVE_INFINITY;
  for (const p of model.prices) {
    if (p.constraint?.type === 'start_date') {
      const t = Date.parse(p.constraint.start_date);
      if (t > at.getTime() && t < next) next = t;
    } else if (p.constraint?.type === 'time_of_date') {
      // Time-of-day prices (off-peak discounts) change within a day: look again within the hour.
      next = Math.min(next, at.getTime() + 3_600_000);
    }
  }
  return next;
}

function link(calc: Calc): string {
  const url = /https?:\/\/\S+/.exec(calc.model.price_comments ?? '')?.[0] ?? calc.provider.pricing_urls?.[0];
  return url === undefined ? '' : `, ${url.replace(/[,.)]+$/, '')}`;
}

/** Where the bundled data comes from: genai-prices dates none of it (0.1.x exports no date). */
export function bundledOrigin(): PriceDataOrigin {
  return { kind: 'bundled', packageVersion: genaiPricesVersion(), asOf: null };
}

let version: string | undefined;
/** The installed genai-prices version, for "where did this price come from". */
export function genaiPricesVersion(): string {
  if (version === undefined) {
    try {
      const entry = createRequire(import.meta.url).resolve('@pydantic/genai-prices');
      const pkg = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version: string };
      version = pkg.version;
    } catch {
      version = 'unknown';
    }
  }
  return version;
}

/**
 * Looks a model up in genai-prices' data: `data` (refreshed) when given, else the bundled data;
 * undefined when it has no price.
 */
export function lookupGenaiPrice(provider: string, model: string, at: Date = new Date(), data?: PriceData): ResolvedPrice | undefined {
  const find = data === undefined ? tryCalc : (m: string, id: string | undefined, t: Date) => tryCalcIn(data.providers, m, id, t);
  const entry = providerEntry(provider);
  const mapped = entry?.pricing.genaiPrices;
  // The names the provider's models go by, in order (Bedrock: the inference profile's id, then the bare model id).
  const names = entry?.pricing.modelNames?.(model) ?? [model];
  let calc: Calc | null = null;
  for (const name of names) {
    calc = find(name, mapped ?? provider, at);
    if (calc !== null) break;
  }
  // A provider genai-prices does not know (a gateway, a self-hosted endpoint): match by model name.
  if (calc === null && mapped === undefined) calc = find(names[0] ?? model, undefined, at);
  if (calc === null) return undefined;
  const prices: ModelPrice = calc.model_price;
  const origin = data?.origin ?? bundledOrigin();
  const which =
    origin.kind === 'bundled'
      ? `genai-prices ${origin.packageVersion}`
      : `genai-prices data refreshed ${origin.fetchedAt?.slice(0, 10)} from ${origin.source}`;
  const resolved: ResolvedPrice = {
    provider,
    model,
    matchedModel: calc.model.id,
    source: 'genai-prices',
    sourceDetail: `${which}: ${calc.provider.id}/${calc.model.id}${link(calc)}`,
    expiresAt: nextChange(calc.model, at),
    data: origin,
  };
  // Each priced count's rate, by its genai-prices key in the table of record fields (audio tokens
  // at their own rates: gpt-audio, $32 audio in against $2.50 text in).
  for (const [k, f] of PRICE_KEYS) {
    const key = fieldSpec(f).genaiPrices;
    if (key === undefined || k === 'searchUnit') continue;
    const r = rate(prices[key]);
    if (r) resolved[rateName(k)] = r;
  }
  // USD per thousand searches.
  const searches = prices.web_searches_kcount;
  if (typeof searches === 'number') resolved.perWebSearch = usdToPico(searches / 1000);
  return resolved;
}
