import type { Provider } from '@pydantic/genai-prices';
import { GENAI_PRICES_PROVIDER } from './genai-prices.ts';

/** Why data was refused; the caller names the source and what stays in force. */
export class Refused extends Error {}

/** A plain object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isPrice(v: unknown): boolean {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

function checkMatch(m: unknown, where: string): void {
  if (!isObject(m)) throw new Refused(`${where} is not a match rule`);
  const list = m.or ?? m.and;
  if (list !== undefined) {
    if (!Array.isArray(list) || list.length === 0) throw new Refused(`${where} has an empty or/and list`);
    list.forEach((x, i) => {
      checkMatch(x, `${where}.${'or' in m ? 'or' : 'and'}[${i}]`);
    });
    return;
  }
  const key = ['equals', 'starts_with', 'ends_with', 'contains', 'regex'].find((k) => typeof m[k] === 'string');
  if (key === undefined) throw new Refused(`${where} is not a match rule: ${JSON.stringify(m).slice(0, 80)}`);
  if (key === 'regex') {
    try {
      new RegExp(m.regex as string);
    } catch {
      throw new Refused(`${where}.regex is not a regular expression: ${JSON.stringify(m.regex)}`);
    }
  }
}

/** A model's prices: USD amounts, or a base with long-context tiers. Returns how many it sets. */
function checkModelPrice(p: unknown, where: string): number {
  if (!isObject(p)) throw new Refused(`${where} is not an object of prices`);
  let n = 0;
  for (const [k, v] of Object.entries(p)) {
    if (v === undefined || v === null) continue;
    if (isObject(v)) {
      const tiers = v.tiers;
      const ok =
        isPrice(v.base) &&
        Array.isArray(tiers) &&
        tiers.every((t) => isObject(t) && isPrice(t.price) && Number.isSafeInteger(t.start) && (t.start as number) >= 0);
      if (!ok) throw new Refused(`${where}.${k} is not a price with tiers: ${JSON.stringify(v).slice(0, 80)}`);
    } else if (!isPrice(v)) {
      throw new Refused(`${where}.${k} is not a price: ${JSON.stringify(v)}`);
    }
    n++;
  }
  return n;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TIME = /^\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;

function checkConstraint(c: unknown, where: string): void {
  if (c === undefined) return;
  if (isObject(c) && typeof c.start_date === 'string' && DATE.test(c.start_date) && !Number.isNaN(Date.parse(c.start_date))) return;
  if (isObject(c) && typeof c.start_time === 'string' && typeof c.end_time === 'string' && TIME.test(c.start_time) && TIME.test(c.end_time))
    return;
  throw new Refused(`${where} is neither a start date nor a time of day: ${JSON.stringify(c).slice(0, 80)}`);
}

/** Counts of a checked data set. */
export interface PriceDataCounts {
  providers: number;
  models: number;
}

/**
 * Checks the shape of genai-prices provider data, as far as tokenmeter and genai-prices read it:
 * a non-empty list of providers, each with an id and a list of models, each model with an id, a
 * match rule and prices (numbers, or a base with tiers, or a list of dated ones), and among them
 * the providers tokenmeter maps its ids to (a file without OpenAI's or Anthropic's prices is not
 * the data it asked for). Throws `Refused` with the first problem.
 */
export function checkProviders(raw: unknown): PriceDataCounts {
  if (!Array.isArray(raw)) throw new Refused(`is not a list of providers (the top level is ${isObject(raw) ? 'an object' : typeof raw})`);
  if (raw.length === 0) throw new Refused('is an empty list of providers');
  let models = 0;
  let priced = 0;
  const ids = new Set<string>();
  raw.forEach((p, i) => {
    if (!isObject(p) || typeof p.id !== 'string' || p.id === '') throw new Refused(`providers[${i}] has no id`);
    const at = `provider "${p.id}"`;
    if (!Array.isArray(p.models)) throw new Refused(`${at} has no list of models`);
    if (p.provider_match !== undefined) checkMatch(p.provider_match, `${at} provider_match`);
    if (p.model_match !== undefined) checkMatch(p.model_match, `${at} model_match`);
    if (
      p.fallback_model_providers !== undefined &&
      !(Array.isArray(p.fallback_model_providers) && p.fallback_model_providers.every((f) => typeof f === 'string'))
    )
      throw new Refused(`${at} fallback_model_providers is not a list of provider ids`);
    ids.add(p.id);
    p.models.forEach((m, j) => {
      if (!isObject(m) || typeof m.id !== 'string' || m.id === '') throw new Refused(`${at} models[${j}] has no id`);
      const where = `${at} model "${m.id}"`;
      checkMatch(m.match, `${where} match`);
      if (Array.isArray(m.prices)) {
        if (m.prices.length === 0) throw new Refused(`${where} has an empty list of prices`);
        let n = 0;
        m.prices.forEach((c, k) => {
          if (!isObject(c)) throw new Refused(`${where} prices[${k}] is not an object`);
          checkConstraint(c.constraint, `${where} prices[${k}].constraint`);
          n += checkModelPrice(c.prices, `${where} prices[${k}].prices`);
        });
        if (n > 0) priced++;
      } else if (m.prices === undefined) {
        throw new Refused(`${where} has no prices`);
      } else if (checkModelPrice(m.prices, `${where} prices`) > 0) {
        priced++;
      }
      models++;
    });
  });
  const missing = [...new Set(Object.values(GENAI_PRICES_PROVIDER))].filter((id) => !ids.has(id));
  if (missing.length > 0) throw new Refused(`lacks the providers ${missing.join(', ')}`);
  if (priced === 0) throw new Refused('prices no model');
  return { providers: raw.length, models };
}

/** Parses and checks fetched text; throws `Refused` naming the problem. */
export function parseProviders(text: string): Provider[] {
  const start = text.trimStart();
  if (start === '') throw new Refused('is empty');
  if (start.startsWith('<')) throw new Refused('is HTML or XML, not JSON (an error or login page, or the wrong URL?)');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new Refused(`is not valid JSON, cut short or damaged (${(cause as Error).message})`);
  }
  checkProviders(raw);
  return raw as Provider[];
}
