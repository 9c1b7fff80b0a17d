import type { BudgetSpec } from './budgets/budget-spec.ts';
import type { Thresholds } from './budgets/limits.ts';
import type { CallContext } from './context.ts';
import type { InstrumentOptions } from './instrument/index.ts';
import type { TrackOptions } from './instrument/track.ts';
import { checkKeys, keySet } from './keys.ts';
import type { CardinalityOptions, MetricLabelOptions } from './metrics/cardinality.ts';
import type { OtlpOptions, PrometheusOptions } from './metrics/exporters.ts';
import { checkResourceOptions, type ResourceOptions } from './metrics/resource.ts';
import { checkTemporality } from './metrics/temporality.ts';
import type { ReportQuery } from './reports/query.ts';

/**
 * The keys of every option object the public API takes, each set checked complete against its
 * type by the compiler (see keySet): an unknown option is a ValidationError naming it and the
 * option meant, never a silent default. The options of the entry points above the facade (the
 * LangChain and AI SDK integrations, startApiServer) keep their key sets beside them, so that
 * nothing here imports upwards.
 */

const MONITOR_KEYS = keySet<import('./monitor.ts').TokenMonitorOptions>({
  dir: true,
  ledger: true,
  disabled: true,
  metrics: true,
  prices: true,
  loadConfig: true,
  priceData: true,
  keyIdSecret: true,
  logger: true,
  logLevel: true,
  env: true,
  budgets: true,
  clock: true,
});

const LEDGER_KEYS = keySet<import('./monitor.ts').LedgerOptions>({
  durability: true,
  batchSize: true,
  flushIntervalMs: true,
  maxPending: true,
  thread: true,
  store: true,
  url: true,
  file: true,
  syncIntervalMs: true,
});

const METRICS_KEYS = keySet<
  CardinalityOptions & ResourceOptions & { semconv: boolean; labels: unknown; prometheus: unknown; otlp: unknown; meterProvider: unknown }
>({
  serviceName: true,
  serviceInstanceId: true,
  resourceAttributes: true,
  maxValuesPerLabel: true,
  maxLabelSets: true,
  semconv: true,
  labels: true,
  prometheus: true,
  otlp: true,
  meterProvider: true,
});

const LABEL_KEYS = keySet<MetricLabelOptions>({ agent: true, userId: true, threadId: true, apiKeyId: true });
const PROMETHEUS_KEYS = keySet<PrometheusOptions>({ host: true, port: true, endpoint: true, serve: true });
const OTLP_KEYS = keySet<OtlpOptions>({ url: true, headers: true, intervalMs: true, temporality: true });

const BUDGET_KEYS = keySet<BudgetSpec>({
  scope: true,
  scopeId: true,
  members: true,
  limit: true,
  unit: true,
  cycle: true,
  thresholds: true,
  enforce: true,
  blockUnpriced: true,
  limitType: true,
  source: true,
});
const MEMBER_KEYS = keySet<NonNullable<BudgetSpec['members']>>({ userIds: true, apiKeyIds: true });
const THRESHOLD_KEYS = keySet<Thresholds>({ warning: true, critical: true });
/** Every key of the BillingCycle variants (`{ kind: 'monthly', resetDay }`, `{ kind: 'daily' }`, `{ kind: 'rolling', days }`, `{ kind: 'balance', since }`). */
const CYCLE_KEYS: ReadonlySet<string> = new Set(['kind', 'resetDay', 'days', 'since']);

/** A call context's keys (`withContext`), as keySet takes them. */
const CONTEXT_KEY_FLAGS = {
  userId: true,
  threadId: true,
  agent: true,
  operation: true,
  metadata: true,
  runId: true,
} as const satisfies { [K in keyof Required<CallContext>]: true };
/**
 * A call context's keys and `provider`: the options of `instrument()` and those of the AI SDK
 * middleware (integrations/ai-sdk.ts), each checked complete against this list by keySet.
 */
export const CONTEXT_AND_PROVIDER_KEY_FLAGS = { ...CONTEXT_KEY_FLAGS, provider: true } as const;
const CONTEXT_KEYS = keySet<CallContext>(CONTEXT_KEY_FLAGS);
const INSTRUMENT_KEYS = keySet<InstrumentOptions>(CONTEXT_AND_PROVIDER_KEY_FLAGS);
export const TRACK_OPTION_KEYS = keySet<TrackOptions>({ provider: true, model: true, operation: true, serviceType: true });

const QUERY_KEYS = keySet<ReportQuery>({
  provider: true,
  model: true,
  serviceType: true,
  operation: true,
  agent: true,
  userId: true,
  threadId: true,
  apiKeyId: true,
  runId: true,
  days: true,
  since: true,
  until: true,
});

/** The names users of the earlier tools and of the REST API write for an option, by folded name. */
const QUERY_HINTS: Readonly<Record<string, string>> = { user: 'userId', thread: 'threadId', key: 'apiKeyId', run: 'runId' };

function sub(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/** Checks the keys of TokenMonitor's options, nested ones included (`metrics.labels.userID`). */
export function checkMonitorOptions(options: unknown): void {
  const what = 'TokenMonitor options';
  checkKeys(options, MONITOR_KEYS, { what });
  const ledger = sub(options, 'ledger');
  if (ledger !== false) checkKeys(ledger, LEDGER_KEYS, { what, path: 'ledger' });
  const budgets = sub(options, 'budgets');
  if (Array.isArray(budgets)) {
    for (let i = 0; i < budgets.length; i++) checkBudgetKeys(budgets[i], `budgets[${i}]`, what);
  }
  const metrics = sub(options, 'metrics');
  if (metrics === false) return;
  checkKeys(metrics, METRICS_KEYS, { what, path: 'metrics' });
  checkKeys(sub(metrics, 'labels'), LABEL_KEYS, { what, path: 'metrics.labels' });
  const prometheus = sub(metrics, 'prometheus');
  if (prometheus !== false) checkKeys(prometheus, PROMETHEUS_KEYS, { what, path: 'metrics.prometheus' });
  checkKeys(sub(metrics, 'otlp'), OTLP_KEYS, { what, path: 'metrics.otlp' });
  checkResourceOptions(metrics);
  checkTemporality(sub(sub(metrics, 'otlp'), 'temporality'));
}

/** Checks a budget's keys (`setBudget`, the `budgets` option), nested ones included. */
export function checkBudgetKeys(spec: unknown, path?: string, what = 'a budget'): void {
  const at = (key: string) => (path === undefined ? key : `${path}.${key}`);
  checkKeys(spec, BUDGET_KEYS, path === undefined ? { what } : { what, path });
  checkKeys(sub(spec, 'members'), MEMBER_KEYS, { what, path: at('members') });
  checkKeys(sub(spec, 'thresholds'), THRESHOLD_KEYS, { what, path: at('thresholds') });
  checkKeys(sub(spec, 'cycle'), CYCLE_KEYS, { what, path: at('cycle') });
}

/** Checks the options of one method: `known` its keys, `what` names it (`setLimit options`). */
export function checkMethodOptions(options: unknown, known: ReadonlySet<string>, what: string): void {
  checkKeys(options, known, { what });
}

export const SET_LIMIT_OPTION_KEYS: ReadonlySet<string> = new Set(['cycle', 'warningThreshold', 'criticalThreshold', 'enforce', 'since']);
export const SESSION_OPTION_KEYS: ReadonlySet<string> = new Set(['budgetUsd', 'budgetTokens', 'enforce', 'id', 'thresholds']);

/** Checks a `withContext` context. */
export function checkContextKeys(context: unknown): void {
  checkKeys(context, CONTEXT_KEYS, { what: 'a call context' });
}

/** Checks `instrument()`'s options. */
export function checkInstrumentKeys(options: unknown): void {
  checkKeys(options, INSTRUMENT_KEYS, { what: 'instrument options' });
}

/** Checks a report query (`records`, `summary`, `report`...) and the keys its method adds (`limit`, `by`...). */
export function checkQueryKeys(query: unknown, extra: readonly string[], what: string): void {
  if (typeof query !== 'object' || query === null) return;
  for (const key in query) {
    if (!QUERY_KEYS.has(key) && !extra.includes(key)) {
      checkKeys({ [key]: (query as Record<string, unknown>)[key] }, new Set([...QUERY_KEYS, ...extra]), { what, hints: QUERY_HINTS });
    }
  }
}

/** Checks `session()`'s options. */
export function checkSessionKeys(options: unknown): void {
  checkKeys(options, SESSION_OPTION_KEYS, { what: 'session options' });
  checkKeys(sub(options, 'thresholds'), THRESHOLD_KEYS, { what: 'session options', path: 'thresholds' });
}
