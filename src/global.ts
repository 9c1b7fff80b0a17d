import { checkLimit } from './budgeting.ts';
import type { LimitType } from './budgets/limits.ts';
import { writeLimit } from './config.ts';
import { configBudgets } from './config-budgets.ts';
import { ValidationError } from './errors.ts';
import { type TrackOptions, trackWith, wrapperOrDecorator } from './instrument/track.ts';
import { type RecordResult, TokenMonitor, type TokenMonitorOptions } from './monitor.ts';
import { checkMethodOptions, TRACK_OPTION_KEYS } from './option-keys.ts';
import { type ProviderUsageReport, providerUsageReport, type UsageReport, usageReport } from './reports/seed-report.ts';
import type { ServiceType, UsageInput } from './usage.ts';

/**
 * The seed-style convenience for code that wants one monitor per process. The library itself never
 * uses it; pass a TokenMonitor around where you can.
 */
let global: TokenMonitor | undefined;

/** The process-wide monitor, created with `options` on first use. */
export function getTokenMonitor(options?: TokenMonitorOptions): TokenMonitor {
  global ??= new TokenMonitor(options);
  return global;
}

/** Closes the process-wide monitor; the next `getTokenMonitor()` makes a new one. */
export async function closeTokenMonitor(): Promise<void> {
  const m = global;
  global = undefined;
  await m?.close();
}

/** A call's fields without the service type, which each helper sets. */
export type UsageArgs = Omit<UsageInput, 'serviceType'>;

/** The call with the helper's service type; one it contradicts (from JavaScript) is an error, not overridden. */
function typed(helper: string, usage: UsageArgs, serviceType: ServiceType): UsageInput {
  const given = (usage as UsageInput | null | undefined)?.serviceType;
  if (given !== undefined && given !== serviceType) {
    throw new ValidationError('serviceType', given, `${helper} records ${serviceType} calls; use record() for others`);
  }
  return { ...usage, serviceType };
}

/** Records an LLM call on the process-wide monitor. */
export function logLlmUsage(usage: UsageArgs): RecordResult {
  return getTokenMonitor().record(typed('logLlmUsage', usage, 'llm'));
}

/** Records an embedding call on the process-wide monitor. */
export function logEmbeddingUsage(usage: UsageArgs): RecordResult {
  return getTokenMonitor().record(typed('logEmbeddingUsage', usage, 'embedding'));
}

/** Records a rerank call (with `searchUnits` where the API bills per search) on the process-wide monitor. */
export function logRerankUsage(usage: UsageArgs): RecordResult {
  return getTokenMonitor().record(typed('logRerankUsage', usage, 'reranking'));
}

/** Meters any function that returns a provider response, on the process-wide monitor (created on first call). */
export function track<F extends (this: unknown, ...args: never[]) => unknown>(fn: F, options: TrackOptions): F {
  checkMethodOptions(options, TRACK_OPTION_KEYS, 'track options');
  return trackWith(() => getTokenMonitor(), fn, options);
}

/** A tracker's options with its service type; an unknown key, or a service type it contradicts, is an error. */
function trackOptions(helper: string, options: Omit<TrackOptions, 'serviceType'>, serviceType: ServiceType): TrackOptions {
  checkMethodOptions(options, TRACK_OPTION_KEYS, `${helper} options`);
  const given = (options as TrackOptions | undefined)?.serviceType;
  if (given !== undefined && given !== serviceType) {
    throw new ValidationError('serviceType', given, `${helper} tracks ${serviceType} calls; use track() for others`);
  }
  return { ...options, serviceType };
}

/** `trackLlmUsage(opts)(fn)`, or `@trackLlmUsage(opts)` on a class method: meters LLM calls on the process-wide monitor. */
export function trackLlmUsage(options: Omit<TrackOptions, 'serviceType'>) {
  return wrapperOrDecorator(() => getTokenMonitor(), trackOptions('trackLlmUsage', options, 'llm'));
}

/** As `trackLlmUsage`, for embedding calls. */
export function trackEmbeddingUsage(options: Omit<TrackOptions, 'serviceType'>) {
  return wrapperOrDecorator(() => getTokenMonitor(), trackOptions('trackEmbeddingUsage', options, 'embedding'));
}

/** As `trackLlmUsage`, for rerank calls. */
export function trackRerankUsage(options: Omit<TrackOptions, 'serviceType'>) {
  return wrapperOrDecorator(() => getTokenMonitor(), trackOptions('trackRerankUsage', options, 'reranking'));
}

/** Options of the seed-style {@link setProviderLimit}. */
export interface SetProviderLimitOptions {
  /**
   * Keep the limit in the storage dir's config file (config.json, or monitor_config.json where
   * only that one is there), as the Graphiti monitor did and `tokenmeter set-limit` does, so that
   * every process and `tokenmeter status` see it; false sets it for this process only. @default true
   */
  persist?: boolean;
}

/**
 * The Graphiti monitor's `set_provider_limit(provider, limit_type, value)`: sets a provider's
 * subscription limit on the process-wide monitor and keeps it in the config file (see
 * `persist`). Limit types: max_plan_tokens, free_tier_tokens, paid_tier_tokens (tokens),
 * prepaid_credits, monthly_limit (USD). 0 removes the limit. A new prepaid_credits balance counts
 * what is spent from now on; the same balance set again (at each start) keeps its date.
 */
export function setProviderLimit(provider: string, limitType: LimitType, value: number, options: SetProviderLimitOptions = {}): void {
  for (const key of Object.keys(options ?? {})) {
    if (key !== 'persist')
      throw new ValidationError(`options.${key}`, (options as Record<string, unknown>)[key], 'is not an option (persist)');
  }
  const l = checkLimit(provider, limitType, value);
  const m = getTokenMonitor();
  if (m.disabled) return;
  if (options.persist === false) {
    m.setLimit(l.provider, l.type, l.value);
    return;
  }
  // The process takes the limit as the file now holds it (its cycle, thresholds, balance date),
  // shown in status as the config file's.
  const spec = configBudgets(writeLimit(m.dir, l.provider, l.type, l.value)).find(
    (s) => s.scope === 'provider' && s.scopeId === l.provider && s.limitType === l.type,
  );
  if (spec === undefined) m.setLimit(l.provider, l.type, 0);
  else m.setBudget(spec);
}

/**
 * The Graphiti monitor's `get_usage_report(provider=None, days=30)`, from the process-wide
 * monitor's ledger, in its snake_case shapes: for one provider, its totals by service type and by
 * model (`total_tokens`, `total_cost_usd`...); without one, the summary, each provider and each
 * provider's subscription status (`subscription_status.openai.percentage_used`).
 */
export function getUsageReport(provider: string, days?: number): Promise<ProviderUsageReport>;
export function getUsageReport(provider?: undefined | null, days?: number): Promise<UsageReport>;
export async function getUsageReport(provider?: string | null, days = 30): Promise<ProviderUsageReport | UsageReport> {
  if (typeof days !== 'number' || !Number.isFinite(days) || days <= 0)
    throw new ValidationError('days', days, 'must be a positive number of days');
  const m = getTokenMonitor();
  if (provider === undefined || provider === null) return usageReport(days, await m.report({ days }));
  if (typeof provider !== 'string' || provider === '') throw new ValidationError('provider', provider, 'must be a provider id');
  const [summary] = await m.providerSummaries({ provider, days });
  return providerUsageReport(provider, days, summary);
}
