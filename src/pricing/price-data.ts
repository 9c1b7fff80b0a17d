import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Provider, REMOTE_DATA_JSON_URL, waitForUpdate } from '@pydantic/genai-prices';
import { PricingError, ValidationError } from '../errors.ts';
import { redactSecrets } from '../logger.ts';
import { bundledOrigin, GENAI_PRICES_PROVIDER, genaiPricesVersion } from './genai-prices.ts';
import type { PriceData, PriceDataOrigin } from './types.ts';

/**
 * Newer genai-prices data, opted into: `tokenmeter pricing --refresh` (or monitor.refreshPrices())
 * reads it once from a URL or a file, checks it, and keeps it in the storage dir
 * (`<dir>/prices.json`); monitors and the CLI read that file when it is there, offline. Nothing
 * here runs unless asked: no download at install or at run time.
 */

/** The file in the storage dir that keeps refreshed price data. */
export function priceDataPath(dir: string): string {
  return join(dir, 'prices.json');
}

/** Where refreshed data comes from by default: the URL the installed genai-prices names for its own data format. */
export const DEFAULT_PRICE_DATA_URL: string = REMOTE_DATA_JSON_URL;

/** Days after which the data in use is called old. Providers change some price most months. */
export const DEFAULT_MAX_AGE_DAYS = 60;

/** The stored file's format version; a file of another is refused, not misread. */
const FORMAT = 1;
/** genai-prices' data is about 0.5 MB; far more is not price data. */
const MAX_BYTES = 64 * 1024 * 1024;
const FETCH_TIMEOUT_MS = 30_000;
const DAY_MS = 86_400_000;

/** Why data was refused; the caller names the source and what stays in force. */
class Refused extends Error {}

function isObject(v: unknown): v is Record<string, unknown> {
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
function checkProviders(raw: unknown): PriceDataCounts {
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
function parseProviders(text: string): Provider[] {
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

/** A source as given in config.json or an option: URLs as they are, a relative file path from `base`. */
export function resolveSource(source: string, base: string): string {
  return /^(?:https?|file):/i.test(source) ? source : resolve(base, source);
}

/** A source as it may be shown and kept: a URL without its credentials, a file as given. */
export function displaySource(source: string): string {
  if (!/^https?:\/\//i.test(source)) return source;
  try {
    const url = new URL(source);
    url.username = '';
    url.password = '';
    return redactSecrets(url.href);
  } catch {
    return redactSecrets(source);
  }
}

async function readBody(res: Response): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (declared > MAX_BYTES) throw new Refused(`is ${declared} bytes, far more than price data`);
  if (res.body === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.byteLength;
    if (size > MAX_BYTES) throw new Refused(`is more than ${MAX_BYTES} bytes, far more than price data`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads a URL or a file; the source's own date where it gives one. */
async function readSource(source: string): Promise<{ text: string; sourceDate: string | undefined }> {
  if (/^https?:\/\//i.test(source)) {
    let res: Response;
    try {
      res = await fetch(source, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), headers: { accept: 'application/json' } });
    } catch (error) {
      const cause = (error as { cause?: { message?: string; code?: string } }).cause;
      throw new Refused(`could not be fetched: ${(error as Error).message}${cause ? ` (${cause.code ?? cause.message})` : ''}`);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new Refused(`answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
    }
    const text = await readBody(res);
    const modified = Date.parse(res.headers.get('last-modified') ?? '');
    return { text, sourceDate: Number.isNaN(modified) ? undefined : new Date(modified).toISOString() };
  }
  const path = source.startsWith('file:') ? fileURLToPath(source) : source;
  try {
    const stat = statSync(path);
    if (stat.size > MAX_BYTES) throw new Refused(`is ${stat.size} bytes, far more than price data`);
    return { text: readFileSync(path, 'utf8'), sourceDate: stat.mtime.toISOString() };
  } catch (error) {
    if (error instanceof Refused) throw error;
    throw new Refused(`could not be read: ${(error as Error).message}`);
  }
}

/** The text of the stored file. */
interface StoredFile {
  tokenmeter_price_data: number;
  source: string;
  fetched_at: string;
  source_date: string | null;
  genai_prices_version: string;
  providers: unknown;
}

/**
 * Reads the refreshed data kept in the storage dir; undefined when there is none. A file that
 * is there but cannot be used throws a PricingError naming it.
 */
export function readStoredPriceData(dir: string): PriceData | undefined {
  const file = priceDataPath(dir);
  if (!existsSync(file)) return undefined;
  let stored: Partial<StoredFile>;
  try {
    const raw: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (!isObject(raw)) throw new Refused('is not a tokenmeter price data file');
    stored = raw as Partial<StoredFile>;
    if (stored.tokenmeter_price_data !== FORMAT) {
      throw new Refused(
        `is not a tokenmeter price data file of format ${FORMAT} (tokenmeter_price_data: ${JSON.stringify(stored.tokenmeter_price_data)})`,
      );
    }
    if (typeof stored.fetched_at !== 'string' || Number.isNaN(Date.parse(stored.fetched_at))) throw new Refused('has no fetched_at time');
    checkProviders(stored.providers);
  } catch (error) {
    const reason = error instanceof Refused ? error.message : `is not valid JSON (${(error as Error).message})`;
    throw new PricingError(`${file} ${reason}`, { source: file, cause: error });
  }
  const origin: PriceDataOrigin = {
    kind: 'refreshed',
    packageVersion: genaiPricesVersion(),
    source: typeof stored.source === 'string' ? stored.source : 'unknown',
    file,
    fetchedAt: stored.fetched_at,
    asOf: stored.source_date ?? stored.fetched_at,
  };
  if (typeof stored.source_date === 'string') origin.sourceDate = stored.source_date;
  return { providers: stored.providers as Provider[], origin };
}

/** What to do about refreshed data: where it comes from, and when it is old. */
export interface PriceDataOptions {
  /**
   * Where `monitor.refreshPrices()` reads newer genai-prices data: an http(s) URL or a file
   * (a relative path from the working directory).
   * @default config.json `price_data.source`, else the URL the installed genai-prices names for its data
   */
  source?: string;
  /**
   * Warn once when the data in use is older than this many days (refreshed data: from its
   * source's Last-Modified date, else its fetch time; bundled data is not dated, so never).
   * @default config.json `price_data.max_age_days`, else 60
   */
  maxAgeDays?: number;
}

/**
 * The refreshed data of a storage dir for a monitor or the CLI, read offline: undefined (the
 * bundled data) when there is none or it cannot be used; then `warn` says why, once.
 * `configuredSource` is the source the user opted into, if any: opted in but never refreshed
 * is worth a word too.
 */
export function loadPriceData(dir: string, warn: (message: string) => void, configuredSource?: string): PriceData | undefined {
  try {
    const data = readStoredPriceData(dir);
    if (data === undefined && configuredSource !== undefined) {
      warn(
        `price data source ${displaySource(configuredSource)} is set but not fetched yet (no ${priceDataPath(dir)}): using the prices bundled with genai-prices ${genaiPricesVersion()}; run tokenmeter pricing --refresh`,
      );
    }
    return data;
  } catch (error) {
    warn(
      `${(error as Error).message}: using the prices bundled with genai-prices ${genaiPricesVersion()} instead; run tokenmeter pricing --refresh to fetch them again`,
    );
    return undefined;
  }
}

/** What a refresh fetched, and how it differs from the data in force before. */
export interface RefreshResult {
  origin: PriceDataOrigin;
  providers: number;
  models: number;
  /** `provider/model` of each model whose prices differ from the data in force before. */
  changed: string[];
  /** Models the data in force before did not have. */
  added: string[];
  /** Models it had and the new data has not. */
  removed: string[];
}

function pricesByModel(providers: readonly Provider[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of providers) for (const m of p.models) out.set(`${p.id}/${m.id}`, JSON.stringify(m.prices));
  return out;
}

/** Says what data is in force, for messages: "the refreshed data of <file> (fetched ...)" or the bundled data. */
export function describeOriginShort(origin: PriceDataOrigin): string {
  return origin.kind === 'bundled'
    ? `the prices bundled with genai-prices ${origin.packageVersion}`
    : `the prices in ${origin.file} (fetched ${origin.fetchedAt} from ${origin.source})`;
}

/**
 * Fetches genai-prices data from `source` (an http(s) URL, a file:// URL or a path), checks it,
 * and keeps it in `<dir>/prices.json` (a temporary file renamed into place, so a reader never
 * sees half a file). Data that is broken, cut short, HTML or empty is refused with a PricingError
 * naming the source, and the file in force stays as it was.
 */
export async function refreshPriceData(options: { dir: string; source: string; now?: () => number }): Promise<RefreshResult> {
  const { dir } = options;
  const source = displaySource(options.source);
  let before: PriceData | undefined;
  try {
    before = readStoredPriceData(dir);
  } catch {
    before = undefined; // A broken file is replaced; the bundled data was in force.
  }
  const inForce = before?.origin ?? bundledOrigin();
  let providers: Provider[];
  let sourceDate: string | undefined;
  try {
    const read = await readSource(options.source);
    sourceDate = read.sourceDate;
    providers = parseProviders(read.text);
  } catch (error) {
    if (!(error instanceof Refused)) throw error;
    throw new PricingError(`Refused the price data from ${source}: it ${error.message}. Still in force: ${describeOriginShort(inForce)}`, {
      source,
      cause: error,
    });
  }
  const fetchedAt = new Date((options.now ?? Date.now)()).toISOString();
  const stored: StoredFile = {
    tokenmeter_price_data: FORMAT,
    source,
    fetched_at: fetchedAt,
    source_date: sourceDate ?? null,
    genai_prices_version: genaiPricesVersion(),
    providers,
  };
  const file = priceDataPath(dir);
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    writeFileSync(tmp, JSON.stringify(stored));
    renameSync(tmp, file);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw new PricingError(`Could not keep the price data from ${source} in ${file}: ${(error as Error).message}`, {
      source,
      cause: error,
    });
  }
  const after = readStoredPriceData(dir) as PriceData;
  const old = pricesByModel(before?.providers ?? (await waitForUpdate()) ?? []);
  const now = pricesByModel(after.providers);
  const result: RefreshResult = {
    origin: after.origin,
    providers: providers.length,
    models: now.size,
    changed: [],
    added: [],
    removed: [],
  };
  for (const [k, v] of now) {
    const was = old.get(k);
    if (was === undefined) result.added.push(k);
    else if (was !== v) result.changed.push(k);
  }
  for (const k of old.keys()) if (!now.has(k)) result.removed.push(k);
  return result;
}

/** Days since the data's date; undefined when it has none (bundled data). */
export function dataAgeDays(origin: PriceDataOrigin, now: number): number | undefined {
  if (origin.asOf === null) return undefined;
  return (now - Date.parse(origin.asOf)) / DAY_MS;
}

/** The warning for data older than `maxAgeDays`; undefined when it is not (or its age is unknown). */
export function staleDataWarning(origin: PriceDataOrigin, now: number, maxAgeDays: number): string | undefined {
  const age = dataAgeDays(origin, now);
  if (age === undefined || age <= maxAgeDays) return undefined;
  const dated = origin.sourceDate === undefined ? `fetched ${origin.fetchedAt}` : `dated ${origin.sourceDate} by its source`;
  return `the price data in use is ${Math.floor(age)} days old (${origin.file}, ${dated} from ${origin.source}), older than price_data.max_age_days (${maxAgeDays}): prices may have changed since; run tokenmeter pricing --refresh`;
}

/** One line on where the data came from and how old it is, for `tokenmeter pricing`. */
export function describeOrigin(origin: PriceDataOrigin, now: number): string {
  if (origin.kind === 'bundled') return `bundled with @pydantic/genai-prices ${origin.packageVersion} (the package does not date its data)`;
  const age = Math.max(0, Math.floor(dataAgeDays(origin, now) ?? 0));
  const dated = origin.sourceDate === undefined ? '' : `, dated ${origin.sourceDate} by the source`;
  return `refreshed from ${origin.source} at ${origin.fetchedAt}${dated} (${age} day${age === 1 ? '' : 's'} old), kept in ${origin.file}`;
}

/** Checks a max age in days; `where` names it in errors (`priceData.maxAgeDays`). */
export function checkMaxAgeDays(value: unknown, where: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ValidationError(where, value, 'must be a positive number of days');
  }
  return value;
}
