import { z } from 'zod';
import { ValidationError } from './errors.ts';
import { closestKey } from './keys.ts';
import { PRICE_KEYS, snakeCase } from './usage-fields.ts';

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
