import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { LimitType } from './budgets/limits.ts';
import { configThresholds } from './config-budgets.ts';
import type * as Schema from './config-schema.ts';
import type { ConfigFile } from './config-schema.ts';
import { ValidationError } from './errors.ts';
import type { PriceOverride } from './pricing/types.ts';
import { PRICE_KEYS, snakeCase } from './usage-fields.ts';

export { resolveDir } from './storage-dir.ts';

let schema: typeof Schema | undefined;

/**
 * Checks a config file's contents against config-schema.ts. The schema and zod (some 3.5 MB of
 * heap) are loaded at the first config file read, synchronously (`require` of an ES module, which
 * Node runs from 22.12): an app without a config file never holds them.
 */
function parseConfig(raw: unknown, file: string): ConfigFile {
  schema ??= createRequire(import.meta.url)(`./config-schema${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`) as typeof Schema;
  return schema.parseConfig(raw, file);
}

/** The Graphiti monitor's config file name, read (and written) when a dir has no config.json. */
export const SEED_CONFIG_FILE = 'monitor_config.json';

/**
 * The config file of a storage dir: `config.json`, else the Graphiti monitor's
 * `monitor_config.json` when only that one is there (so its users' file is read and edited in place).
 */
export function configPath(dir: string): string {
  const file = join(dir, 'config.json');
  if (existsSync(file)) return file;
  const seed = join(dir, SEED_CONFIG_FILE);
  return existsSync(seed) ? seed : file;
}

/** Reads the dir's config file (see `configPath`); an absent file is an empty config. */
export function loadConfig(dir: string): ConfigFile {
  const file = configPath(dir);
  if (!existsSync(file)) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new ValidationError(file, undefined, `is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  return parseConfig(raw, file);
}

/** The config file's prices, in the shape of code overrides. */
export function configPrices(config: ConfigFile): Record<string, PriceOverride> {
  const out: Record<string, PriceOverride> = {};
  for (const [model, p] of Object.entries(config.pricing ?? {})) {
    const o: PriceOverride = {};
    for (const [k] of PRICE_KEYS) {
      const v = p[snakeCase(k)];
      if (v !== undefined) o[k] = v;
    }
    out[model] = o;
  }
  return out;
}

/**
 * Sets one value (undefined: removes it) in the config file and writes it back (through a temporary file and a rename,
 * so a reader never sees half a file), keeping every other key. The result is validated first:
 * a bad value leaves the file as it was.
 */
export function updateConfig(dir: string, path: readonly string[], value: unknown): ConfigFile {
  const file = configPath(dir);
  let raw: Record<string, unknown> = {};
  if (existsSync(file)) {
    try {
      raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (cause) {
      throw new ValidationError(file, undefined, `is not valid JSON: ${(cause as Error).message}`, { cause });
    }
  }
  let node: Record<string, unknown> = raw;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  // undefined removes the key.
  if (value === undefined) delete node[path[path.length - 1] as string];
  else node[path[path.length - 1] as string] = value;
  const parsed = parseConfig(raw, file);
  configThresholds(parsed);
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(raw, null, 2)}\n`);
  renameSync(tmp, file);
  return parsed;
}

/**
 * Writes one provider's subscription limit to the dir's config file, as `tokenmeter set-limit`
 * and the seed-style `setProviderLimit` do: 0 removes it (0 is "not set"), and a new
 * prepaid_credits balance is dated now (`prepaid_credits_since`; the same balance set again keeps
 * its date, so a program that sets it at every start does not refill it).
 */
export function writeLimit(dir: string, provider: string, type: LimitType, value: number): ConfigFile {
  const at = (key: string) => ['subscription_limits', provider, key];
  if (value === 0) {
    let config = updateConfig(dir, at(type), undefined);
    if (type === 'prepaid_credits') config = updateConfig(dir, at('prepaid_credits_since'), undefined);
    // A provider left with no limit (nor cycle) goes too.
    const rest = config.subscription_limits?.[provider];
    if (rest !== undefined && Object.values(rest).every((v) => v === undefined)) {
      config = updateConfig(dir, ['subscription_limits', provider], undefined);
    }
    return config;
  }
  const before = type === 'prepaid_credits' ? loadConfig(dir).subscription_limits?.[provider] : undefined;
  let config = updateConfig(dir, at(type), value);
  if (type === 'prepaid_credits' && (before?.prepaid_credits !== value || before.prepaid_credits_since === undefined)) {
    config = updateConfig(dir, at('prepaid_credits_since'), new Date().toISOString());
  }
  return config;
}
