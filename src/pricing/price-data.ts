import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Provider } from '@pydantic/genai-prices';
import { PricingError, ValidationError } from '../errors.ts';
import { bundledOrigin, genaiPricesVersion } from './genai-prices.ts';
import { genaiPrices } from './genai-prices-module.ts';
import { checkProviders, isObject, parseProviders, Refused } from './price-data-check.ts';
import { displaySource, readSource } from './price-source.ts';
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
export const DEFAULT_PRICE_DATA_URL: string = genaiPrices.REMOTE_DATA_JSON_URL;

/** Days after which the data in use is called old. Providers change some price most months. */
export const DEFAULT_MAX_AGE_DAYS = 60;

/** The stored file's format version; a file of another is refused, not misread. */
const FORMAT = 1;
const DAY_MS = 86_400_000;

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
  const old = pricesByModel(before?.providers ?? (await genaiPrices.waitForUpdate()) ?? []);
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
