import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { BudgetSpec } from './budgets/budget-spec.ts';
import { type BillingCycle, DEFAULT_THRESHOLDS, LIMIT_TYPES, type LimitType, type Thresholds, unitOf } from './budgets/limits.ts';
import { ValidationError } from './errors.ts';
import { closestKey } from './keys.ts';
import type { PriceOverride } from './pricing/types.ts';
import { PRICE_KEYS, snakeCase } from './usage-fields.ts';

export { resolveDir } from './storage-dir.ts';

/** A model's prices in config.json: the price keys of the table of record fields, in snake_case (USD per 1M tokens). */
const price = z
  .object(
    Object.fromEntries(PRICE_KEYS.map(([k]) => [snakeCase(k), z.number().nonnegative().finite().optional()])) as Record<
      string,
      z.ZodOptional<z.ZodNumber>
    >,
  )
  .strict();

/**
 * `config.json` in the storage dir, in the layout of the seed's `monitor_config.json`. Keys other
 * issues define (subscription_limits, alerts) are kept as they are.
 */
const amount = z.number().nonnegative().finite();

/** A limit's or budget's cycle, own thresholds and enforcement. */
const cycleFields = {
  /** `monthly` (from `reset_day`), `daily`, or `rolling` (the last `rolling_days`). @default monthly */
  billing_cycle: z.enum(['monthly', 'daily', 'rolling']).optional(),
  /** Day of the month a monthly cycle starts, 1 to 28. @default 1 */
  reset_day: z.number().int().min(1).max(28).optional(),
  rolling_days: z.number().int().min(1).max(366).optional(),
  /** Its own thresholds (the research workflow used 0.9). @default the file's `alerts` ones */
  warning_threshold: z.number().gt(0).lte(1).optional(),
  critical_threshold: z.number().gt(0).lte(1).optional(),
  /** Stop instrumented calls once it is spent. @default false */
  enforce: z.boolean().optional(),
};

/** A date or time, ISO 8601 (`2026-05-01`, `2026-05-01T10:00:00Z`). */
const isoTime = z.string().refine((s) => /^\d{4}-\d{2}-\d{2}/.test(s) && !Number.isNaN(Date.parse(s)), {
  message: 'must be an ISO 8601 date or time, such as 2026-05-01',
});

/**
 * One provider's limits, as the seed's `monitor_config.json` holds them, and its billing cycle.
 * A limit of 0 is not set (the seed writes `"monthly_limit": 0` for none).
 */
const providerLimits = z
  .object({
    max_plan_tokens: amount.optional(),
    free_tier_tokens: amount.optional(),
    paid_tier_tokens: amount.optional(),
    /** A balance in USD, used up by what is spent from `prepaid_credits_since` on; the billing cycle does not apply. */
    prepaid_credits: amount.optional(),
    /** When the prepaid_credits balance was what it says (`tokenmeter set-limit` writes it). @default all the ledger holds counts */
    prepaid_credits_since: isoTime.optional(),
    monthly_limit: amount.optional(),
    ...cycleFields,
  })
  .strict();

/** A budget beyond providers: per user, key, team, agent, model, or everything. */
const budget = z
  .object({
    scope: z.enum(['global', 'provider', 'user', 'api_key', 'team', 'agent', 'model']),
    /** The user, key id, agent, model, provider or team name; `*` for one budget per user (key, agent...). */
    id: z.string().min(1).optional(),
    limit_usd: amount.optional(),
    limit_tokens: amount.optional(),
    ...cycleFields,
    block_unpriced: z.boolean().optional(),
    /** A team's members. */
    user_ids: z.array(z.string().min(1)).optional(),
    api_key_ids: z.array(z.string().min(1)).optional(),
  })
  .strict()
  .refine((b) => (b.limit_usd === undefined) !== (b.limit_tokens === undefined), {
    message: 'needs exactly one of limit_usd and limit_tokens',
  });

const thresholds = z
  .object({
    /** Fraction of a limit that raises a warning. @default 0.8 */
    warning_threshold: z.number().gt(0).lte(1).optional(),
    /** Fraction of a limit that raises a critical alert. @default 0.95 */
    critical_threshold: z.number().gt(0).lte(1).optional(),
    /** The Graphiti monitor's name for the warning threshold, in percent (80 is 0.8). */
    warn_at_percentage: z.number().gt(0).lte(100).optional(),
    /** The Graphiti monitor's name for the critical threshold, in percent. */
    critical_at_percentage: z.number().gt(0).lte(100).optional(),
  })
  .strict();

/** Newer genai-prices data, opted into (`tokenmeter pricing --refresh`). */
const priceData = z
  .object({
    /** Where a refresh reads the data: an http(s) URL, or a file (relative to the storage dir). */
    source: z.string().min(1).optional(),
    /** Warn once when the data in use is older than this many days. @default 60 */
    max_age_days: z.number().positive().finite().optional(),
  })
  .strict();

/**
 * The Graphiti monitor's `api_keys` section. tokenmeter keeps no keys and needs none listed: each
 * record carries the id of the key its call used. The seed's empty `{}` is accepted; entries are
 * refused rather than ignored.
 */
const apiKeys = z.record(z.string(), z.unknown()).refine((o) => Object.keys(o).length === 0, {
  message:
    "must be empty: tokenmeter keeps no API keys, and each record carries the id of the key its call used (apiKey in record(), or the instrumented client's)",
});

const configSchema = z
  .object({
    /** USD per 1M tokens (and per search unit), keyed by model or provider/model. */
    pricing: z.record(z.string().min(1), price).optional(),
    price_data: priceData.optional(),
    /** Limits per provider id. */
    subscription_limits: z.record(z.string().min(1), providerLimits).optional(),
    budgets: z.array(budget).optional(),
    alerts: thresholds.optional(),
    api_keys: apiKeys.optional(),
  })
  .strict();

export type ConfigFile = z.infer<typeof configSchema>;

function pathOf(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const p of path) v = typeof v === 'object' && v !== null ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

/** The keys the schema knows at `path` (an object's), for an unknown key's suggestion. */
function keysAt(schema: z.core.$ZodType, path: readonly PropertyKey[]): string[] {
  let s: z.core.$ZodType | undefined = schema;
  const step = (t: z.core.$ZodType): z.core.$ZodType | undefined => {
    const def = t._zod.def as unknown as Record<string, z.core.$ZodType | undefined> & { type: string };
    return def.type === 'optional' || def.type === 'nullable' || def.type === 'default'
      ? def.innerType
      : def.type === 'pipe'
        ? def.in
        : undefined;
  };
  for (const p of [...path, undefined]) {
    for (let inner = s && step(s); inner !== undefined; inner = step(inner)) s = inner;
    if (s === undefined || p === undefined) break;
    const def = s._zod.def as unknown as {
      type: string;
      shape?: Record<string, z.core.$ZodType>;
      valueType?: z.core.$ZodType;
      element?: z.core.$ZodType;
    };
    s =
      def.type === 'object'
        ? def.shape?.[String(p)]
        : def.type === 'record'
          ? def.valueType
          : def.type === 'array'
            ? def.element
            : undefined;
  }
  const shape = (s?._zod.def as { shape?: Record<string, unknown> } | undefined)?.shape;
  return shape === undefined ? [] : Object.keys(shape);
}

/** Checks a parsed config object; throws a ValidationError naming the key (and, for an unknown one, the key meant). */
export function parseConfig(raw: unknown, file = 'config.json'): ConfigFile {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0] as z.core.$ZodIssue;
    if (issue.code === 'unrecognized_keys') {
      const key = issue.keys[0] as string;
      const at = pathOf(issue.path);
      const place = at === '' ? key : `${at}.${key}`;
      const meant = closestKey(key, keysAt(configSchema, issue.path));
      const message = `Unknown key ${place} in ${file}${meant === undefined ? '' : `: did you mean ${meant}?`}`;
      throw new ValidationError(`${file} ${place}`, valueAt(raw, [...issue.path, key]), message, { message: true });
    }
    if (issue.path[0] === 'api_keys') {
      // What is listed there is likely a key: named, never shown.
      const v = valueAt(raw, issue.path);
      const key = typeof v === 'object' && v !== null ? Object.keys(v)[0] : undefined;
      throw new ValidationError(`${file} api_keys${key === undefined ? '' : `.${key}`}`, undefined, issue.message, { secret: true });
    }
    throw new ValidationError(`${file} ${pathOf(issue.path) || '(root)'}`, valueAt(raw, issue.path), issue.message);
  }
  return result.data;
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

/** One subscription limit from the config file (a limit of 0 is not set, and not listed). */
export interface ConfiguredLimit {
  provider: string;
  type: LimitType;
  value: number;
  cycle: BillingCycle;
  thresholds?: Partial<Thresholds>;
  enforce?: boolean;
}

function cycleOf(l: {
  billing_cycle?: string | undefined;
  reset_day?: number | undefined;
  rolling_days?: number | undefined;
}): BillingCycle {
  return l.billing_cycle === 'daily'
    ? { kind: 'daily' }
    : l.billing_cycle === 'rolling'
      ? { kind: 'rolling', days: l.rolling_days ?? 30 }
      : { kind: 'monthly', resetDay: l.reset_day ?? 1 };
}

function thresholdsOf(l: {
  warning_threshold?: number | undefined;
  critical_threshold?: number | undefined;
}): Partial<Thresholds> | undefined {
  if (l.warning_threshold === undefined && l.critical_threshold === undefined) return undefined;
  const t: Partial<Thresholds> = {};
  if (l.warning_threshold !== undefined) t.warning = l.warning_threshold;
  if (l.critical_threshold !== undefined) t.critical = l.critical_threshold;
  return t;
}

/**
 * Every budget the config file sets: each provider's subscription limits (tokens or USD per
 * cycle) and the `budgets` list. The file's `alerts` thresholds apply where a budget sets none.
 */
export function configBudgets(config: ConfigFile): BudgetSpec[] {
  const global = configThresholds(config);
  const out: BudgetSpec[] = [];
  for (const l of configLimits(config)) {
    out.push({
      scope: 'provider',
      scopeId: l.provider,
      limit: l.value,
      unit: unitOf(l.type),
      cycle: l.cycle,
      limitType: l.type,
      thresholds: { ...global, ...l.thresholds },
      enforce: l.enforce ?? false,
      source: 'config',
    });
  }
  for (const b of config.budgets ?? []) {
    const spec: BudgetSpec = {
      scope: b.scope,
      scopeId: b.id ?? (b.scope === 'global' ? 'all' : '*'),
      limit: (b.limit_usd ?? b.limit_tokens) as number,
      unit: b.limit_usd !== undefined ? 'usd' : 'tokens',
      cycle: cycleOf(b),
      thresholds: { ...global, ...thresholdsOf(b) },
      enforce: b.enforce ?? false,
      blockUnpriced: b.block_unpriced ?? false,
      source: 'config',
    };
    if (b.scope === 'team') spec.members = { userIds: b.user_ids ?? [], apiKeyIds: b.api_key_ids ?? [] };
    out.push(spec);
  }
  return out;
}

/** The config file's subscription limits, one entry per provider and limit type. */
export function configLimits(config: ConfigFile): ConfiguredLimit[] {
  const out: ConfiguredLimit[] = [];
  for (const [provider, l] of Object.entries(config.subscription_limits ?? {})) {
    const cycle = cycleOf(l);
    const thresholds = thresholdsOf(l);
    for (const type of LIMIT_TYPES) {
      const value = l[type];
      // The seed's configs write 0 for a limit that is not set.
      if (value === undefined || value === 0) continue;
      const limit: ConfiguredLimit = {
        provider,
        type,
        value,
        // Prepaid credits are a balance, used up from when it was set; they do not reset with the cycle.
        cycle: type === 'prepaid_credits' ? balanceSince(l.prepaid_credits_since) : cycle,
      };
      if (thresholds !== undefined) limit.thresholds = thresholds;
      if (l.enforce !== undefined) limit.enforce = l.enforce;
      out.push(limit);
    }
  }
  return out;
}

/** A prepaid balance's window: from `since` (ISO 8601), else from the start of the ledger. */
export function balanceSince(since: string | undefined): BillingCycle {
  return { kind: 'balance', since: since === undefined ? 0 : Date.parse(since) };
}

/**
 * One threshold from `alerts`: the fraction (`warning_threshold`), or the Graphiti monitor's
 * percentage (`warn_at_percentage`); both may be given only when they agree.
 */
function threshold(alerts: NonNullable<ConfigFile['alerts']>, fraction: 'warning_threshold' | 'critical_threshold'): number | undefined {
  const percentKey = fraction === 'warning_threshold' ? 'warn_at_percentage' : 'critical_at_percentage';
  const f = alerts[fraction];
  const p = alerts[percentKey];
  if (f !== undefined && p !== undefined && Math.abs(f * 100 - p) > 1e-9) {
    throw new ValidationError(`config.json alerts.${percentKey}`, p, `disagrees with alerts.${fraction} (${f}); set one of them`);
  }
  return f ?? (p === undefined ? undefined : p / 100);
}

/** The config file's alert thresholds, defaults filled in; warning must stay below critical. */
export function configThresholds(config: ConfigFile): Thresholds {
  const a = config.alerts ?? {};
  const t = {
    warning: threshold(a, 'warning_threshold') ?? DEFAULT_THRESHOLDS.warning,
    critical: threshold(a, 'critical_threshold') ?? DEFAULT_THRESHOLDS.critical,
  };
  if (t.warning >= t.critical) {
    const key = a.warning_threshold === undefined && a.warn_at_percentage !== undefined ? 'warn_at_percentage' : 'warning_threshold';
    const value = key === 'warn_at_percentage' ? a.warn_at_percentage : t.warning;
    throw new ValidationError(`config.json alerts.${key}`, value, `must be below the critical threshold (${t.critical * 100}%)`);
  }
  return t;
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
