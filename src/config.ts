import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { type BillingCycle, DEFAULT_THRESHOLDS, LIMIT_TYPES, type LimitType, type Thresholds, unitOf } from './budgets/limits.ts';
import type { BudgetSpec } from './budgets/tracker.ts';
import { ValidationError } from './errors.ts';
import type { PriceOverride } from './pricing/types.ts';

export { resolveDir } from './storage-dir.ts';

const price = z
  .object({
    input: z.number().nonnegative().finite().optional(),
    output: z.number().nonnegative().finite().optional(),
    cached_input: z.number().nonnegative().finite().optional(),
    cache_write: z.number().nonnegative().finite().optional(),
    cache_write_1h: z.number().nonnegative().finite().optional(),
    input_audio: z.number().nonnegative().finite().optional(),
    cached_audio: z.number().nonnegative().finite().optional(),
    output_audio: z.number().nonnegative().finite().optional(),
    output_image: z.number().nonnegative().finite().optional(),
    search_unit: z.number().nonnegative().finite().optional(),
  })
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

/** One provider's limits, as the seed's `monitor_config.json` holds them, and its billing cycle. */
const providerLimits = z
  .object({
    max_plan_tokens: amount.optional(),
    free_tier_tokens: amount.optional(),
    paid_tier_tokens: amount.optional(),
    prepaid_credits: amount.optional(),
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
  })
  .passthrough();

const configSchema = z
  .object({
    /** USD per 1M tokens (and per search unit), keyed by model or provider/model. */
    pricing: z.record(z.string().min(1), price).optional(),
    /** Limits per provider id. */
    subscription_limits: z.record(z.string().min(1), providerLimits).optional(),
    budgets: z.array(budget).optional(),
    alerts: thresholds.optional(),
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

/** The config file of a storage dir. */
export function configPath(dir: string): string {
  return join(dir, 'config.json');
}

/** Reads `config.json` from the dir; an absent file is an empty config. */
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
    if (p.input !== undefined) o.input = p.input;
    if (p.output !== undefined) o.output = p.output;
    if (p.cached_input !== undefined) o.cachedInput = p.cached_input;
    if (p.cache_write !== undefined) o.cacheWrite = p.cache_write;
    if (p.cache_write_1h !== undefined) o.cacheWrite1h = p.cache_write_1h;
    if (p.input_audio !== undefined) o.inputAudio = p.input_audio;
    if (p.cached_audio !== undefined) o.cachedAudio = p.cached_audio;
    if (p.output_audio !== undefined) o.outputAudio = p.output_audio;
    if (p.output_image !== undefined) o.outputImage = p.output_image;
    if (p.search_unit !== undefined) o.searchUnit = p.search_unit;
    out[model] = o;
  }
  return out;
}

/** One subscription limit from the config file. */
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
      if (value === undefined) continue;
      const limit: ConfiguredLimit = { provider, type, value, cycle };
      if (thresholds !== undefined) limit.thresholds = thresholds;
      if (l.enforce !== undefined) limit.enforce = l.enforce;
      out.push(limit);
    }
  }
  return out;
}

/** The config file's alert thresholds, defaults filled in; warning must stay below critical. */
export function configThresholds(config: ConfigFile): Thresholds {
  const t = {
    warning: config.alerts?.warning_threshold ?? DEFAULT_THRESHOLDS.warning,
    critical: config.alerts?.critical_threshold ?? DEFAULT_THRESHOLDS.critical,
  };
  if (t.warning >= t.critical) {
    throw new ValidationError('config.json alerts.warning_threshold', t.warning, `must be below critical_threshold (${t.critical})`);
  }
  return t;
}

/**
 * Sets one value in the config file and writes it back (through a temporary file and a rename,
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
  node[path[path.length - 1] as string] = value;
  const parsed = parseConfig(raw, file);
  configThresholds(parsed);
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(raw, null, 2)}\n`);
  renameSync(tmp, file);
  return parsed;
}
