import { PROVIDER_REGISTRY } from '../providers/registry.ts';

/**
 * Metric and label names, defined once: the exporters, the prom-client bridge, the alert rules and
 * the dashboards all take them from here.
 *
 * tokenmeter's own instruments carry their unit in the name and set no unit, so the Prometheus
 * name is the same through @opentelemetry/exporter-prometheus (which appends `_total` to counters
 * and no unit suffix) and through OTLP into a Collector or Prometheus (which append unit suffixes
 * only when a unit is set, and `_total` to counters).
 */

/** OpenTelemetry instrument names (what the SDK and OTLP see). */
export const INSTRUMENT = {
  tokens: 'tokenmeter_tokens',
  cost: 'tokenmeter_cost_usd',
  requests: 'tokenmeter_requests',
  unpriced: 'tokenmeter_unpriced_requests',
  internalErrors: 'tokenmeter_internal_errors',
  // https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-metrics/
  tokenUsage: 'gen_ai.client.token.usage',
  operationDuration: 'gen_ai.client.operation.duration',
  budgetLimit: 'tokenmeter_budget_limit',
  budgetUsed: 'tokenmeter_budget_used',
  budgetWarningRatio: 'tokenmeter_budget_warning_ratio',
  budgetCriticalRatio: 'tokenmeter_budget_critical_ratio',
  budgetWindowEnd: 'tokenmeter_budget_window_end_seconds',
} as const;

/**
 * Each instrument's Prometheus type. Keyed by INSTRUMENT, so an instrument added there without one
 * fails the typecheck: the prom-client bridge registers every instrument listed here.
 */
export const PROMETHEUS_TYPE: { readonly [K in keyof typeof INSTRUMENT]: 'counter' | 'gauge' | 'histogram' } = {
  tokens: 'counter',
  cost: 'counter',
  requests: 'counter',
  unpriced: 'counter',
  internalErrors: 'counter',
  tokenUsage: 'histogram',
  operationDuration: 'histogram',
  budgetLimit: 'gauge',
  budgetUsed: 'gauge',
  budgetWarningRatio: 'gauge',
  budgetCriticalRatio: 'gauge',
  budgetWindowEnd: 'gauge',
};

/** The names as Prometheus shows them, for PromQL, rules and dashboards. */
export const METRIC = {
  tokens: 'tokenmeter_tokens_total',
  cost: 'tokenmeter_cost_usd_total',
  requests: 'tokenmeter_requests_total',
  unpriced: 'tokenmeter_unpriced_requests_total',
  internalErrors: 'tokenmeter_internal_errors_total',
  budgetLimit: 'tokenmeter_budget_limit',
  budgetUsed: 'tokenmeter_budget_used',
  budgetWarningRatio: 'tokenmeter_budget_warning_ratio',
  budgetCriticalRatio: 'tokenmeter_budget_critical_ratio',
  budgetWindowEnd: 'tokenmeter_budget_window_end_seconds',
  tokenUsage: 'gen_ai_client_token_usage',
  operationDuration: 'gen_ai_client_operation_duration',
} as const;

export const DESCRIPTION = {
  tokens:
    'Tokens used by LLM, embedding and rerank calls, by token type (input includes cached and cache-write; output includes reasoning).',
  cost: 'Cost of LLM, embedding and rerank calls in USD, from the price table (unpriced calls add nothing; see tokenmeter_unpriced_requests_total).',
  requests: 'LLM, embedding and rerank calls, by status (ok or error).',
  unpriced: 'Calls whose model has no known price: their cost is unknown, not zero.',
  internalErrors: 'Failures inside tokenmeter itself; the metered calls were not affected.',
  budgetLimit: 'A budget or subscription limit, in its unit (usd or tokens), for its current window.',
  budgetUsed: "What the budget's current window has used so far, in its unit (calls in flight not included).",
  budgetWarningRatio: 'Fraction of the limit at which the budget warns (0.8 unless configured).',
  budgetCriticalRatio: 'Fraction of the limit at which the budget is critical (0.95 unless configured).',
  budgetWindowEnd: "When the budget's current window resets, in Unix seconds (absent for rolling windows and runs).",
  tokenUsage: 'Measures number of input and output tokens used.',
  operationDuration: 'GenAI operation duration.',
} as const;

/** tokenmeter's own labels. */
export const LABEL = {
  provider: 'provider',
  model: 'model',
  serviceType: 'service_type',
  operation: 'operation',
  tokenType: 'token_type',
  status: 'status',
  component: 'component',
  agent: 'agent',
  userId: 'user_id',
  threadId: 'thread_id',
  apiKeyId: 'api_key_id',
  // Budget gauges: which budget (scope user/api_key/team/agent/model/provider/run/global, and its id), its window, its unit,
  // and the budget as configured (`user:*`, `user:alice`, `provider:openai:monthly_limit`), which tells apart two
  // budgets that share the others.
  budget: 'budget',
  scope: 'scope',
  scopeId: 'scope_id',
  window: 'window',
  unit: 'unit',
} as const;

/** Semantic-convention attribute names (gen_ai.*). */
export const SEMCONV = {
  operationName: 'gen_ai.operation.name',
  providerName: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  responseModel: 'gen_ai.response.model',
  tokenType: 'gen_ai.token.type',
  errorType: 'error.type',
} as const;

/** `token_type` values. */
export const TOKEN_TYPES = ['input', 'output', 'cached_input', 'cache_write', 'reasoning'] as const;
export type TokenType = (typeof TOKEN_TYPES)[number];

// Bucket boundaries the GenAI semantic conventions advise:
// https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-metrics/#metric-gen_aiclienttokenusage
export const TOKEN_USAGE_BUCKETS: readonly number[] = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];
// https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-metrics/#metric-gen_aiclientoperationduration
export const OPERATION_DURATION_BUCKETS: readonly number[] = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/** Our provider ids → `gen_ai.provider.name` well-known values, from the provider registry; others pass through. */
export const SEMCONV_PROVIDER: Readonly<Record<string, string>> = Object.fromEntries(PROVIDER_REGISTRY.map((p) => [p.id, p.semconvName]));

/** The value a capped label reports once its distinct values run out. */
export const OTHER = '_other';

/** Turns an OpenTelemetry name into the Prometheus form, as exporter-prometheus does. */
export function prometheusName(name: string, monotonicSum: boolean): string {
  const n = name.replace(/[^a-zA-Z0-9_:]/g, '_').replace(/_{2,}/g, '_');
  return monotonicSum && !n.endsWith('_total') ? `${n}_total` : n;
}
