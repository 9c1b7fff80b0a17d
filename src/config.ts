import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ValidationError } from './errors.ts';
import type { Env } from './logger.ts';
import type { PriceOverride } from './pricing/types.ts';

/** The storage dir: the `dir` option, else `$TOKENMETER_DIR`, else `~/.tokenmeter`. */
export function resolveDir(dir?: string, env: Env = process.env): string {
  return dir ?? (env.TOKENMETER_DIR || join(homedir(), '.tokenmeter'));
}

const price = z
  .object({
    input: z.number().nonnegative().finite().optional(),
    output: z.number().nonnegative().finite().optional(),
    cached_input: z.number().nonnegative().finite().optional(),
    cache_write: z.number().nonnegative().finite().optional(),
    search_unit: z.number().nonnegative().finite().optional(),
  })
  .strict();

/**
 * `config.json` in the storage dir, in the layout of the seed's `monitor_config.json`. Keys other
 * issues define (subscription_limits, alerts) are kept as they are.
 */
const configSchema = z
  .object({
    /** USD per 1M tokens (and per search unit), keyed by model or provider/model. */
    pricing: z.record(z.string().min(1), price).optional(),
  })
  .passthrough();

export type ConfigFile = z.infer<typeof configSchema>;

function pathOf(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const p of path) v = typeof v === 'object' && v !== null ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

/** Checks a parsed config object; throws a ValidationError naming the key. */
export function parseConfig(raw: unknown, file = 'config.json'): ConfigFile {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0] as z.core.$ZodIssue;
    const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0] as string] : issue.path;
    throw new ValidationError(`${file} ${pathOf(path) || '(root)'}`, valueAt(raw, path), issue.message);
  }
  return result.data;
}

/** Reads `config.json` from the dir; an absent file is an empty config. */
export function loadConfig(dir: string): ConfigFile {
  const file = join(dir, 'config.json');
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
    if (p.input !== undefined) o.input = p.input;
    if (p.output !== undefined) o.output = p.output;
    if (p.cached_input !== undefined) o.cachedInput = p.cached_input;
    if (p.cache_write !== undefined) o.cacheWrite = p.cache_write;
    if (p.search_unit !== undefined) o.searchUnit = p.search_unit;
    out[model] = o;
  }
  return out;
}
