// The public API of tokenmeter, named export by export.

export type { Advice, AdviceExample, AdviceItem, AdviceKind, AdviceQuery } from './advice/types.ts';
export type { BudgetIdentity, BudgetScope, BudgetSpec } from './budgets/budget-spec.ts';
export { BUDGET_SCOPES } from './budgets/budget-spec.ts';
export type { BillingCycle, LimitType, Thresholds } from './budgets/limits.ts';
export { LIMIT_TYPES } from './budgets/limits.ts';
export type { CallContext } from './context.ts';
export {
  BudgetExceededError,
  isBudgetExceededError,
  isLedgerError,
  isPricingError,
  isTokenmeterError,
  isValidationError,
  LedgerError,
  PricingError,
  TokenmeterError,
  ValidationError,
} from './errors.ts';
export type { SetProviderLimitOptions, UsageArgs } from './global.ts';
export {
  closeTokenMonitor,
  getTokenMonitor,
  getUsageReport,
  logEmbeddingUsage,
  logLlmUsage,
  logRerankUsage,
  setProviderLimit,
  track,
  trackEmbeddingUsage,
  trackLlmUsage,
  trackRerankUsage,
} from './global.ts';
export type { InstrumentOptions } from './instrument/index.ts';
export type { TrackOptions } from './instrument/track.ts';
export { apiKeyId } from './key-id.ts';
export type { BudgetAlertQuery, BudgetAlertRow } from './ledger/budget-alerts.ts';
export type {
  AlertmanagerAlert,
  AlertmanagerNotification,
  KeptNotification,
  ReceivedAlert,
  ReceivedAlertQuery,
} from './ledger/notifications.ts';
export type { LedgerStore } from './ledger/types.ts';
export type { Logger, LogLevel } from './logger.ts';
export type { CardinalityOptions, MetricLabelOptions } from './metrics/cardinality.ts';
export type { ExportOptions, OtlpOptions, PrometheusOptions } from './metrics/exporters.ts';
export { INSTRUMENT, LABEL, METRIC, OPERATION_DURATION_BUCKETS, TOKEN_TYPES, TOKEN_USAGE_BUCKETS } from './metrics/names.ts';
export { TokenmeterMetricProducer } from './metrics/producer.ts';
export type {
  Alert,
  CallFacts,
  Health,
  LedgerOptions,
  LimitOptions,
  MetricsOptions,
  RecordResult,
  RunSession,
  TokenMonitorOptions,
  UsageSummary,
} from './monitor.ts';
export { TokenMonitor } from './monitor.ts';
export type { AlertQuery } from './monitor-budgets.ts';
export { CostSum, formatPico, picoToUsd } from './pricing/money.ts';
export type { PriceBookOptions } from './pricing/price-book.ts';
export { type CostSplit, costPico, PriceBook } from './pricing/price-book.ts';
export type { PriceDataOptions, RefreshResult } from './pricing/price-data.ts';
export { DEFAULT_MAX_AGE_DAYS, refreshPriceData } from './pricing/price-data.ts';
export { RERANK_PRICES } from './pricing/rerank-prices.ts';
export type { PriceData, PriceDataOrigin, PriceOverride, PriceSource, Rate, ResolvedPrice } from './pricing/types.ts';
export { extractUsage, PROVIDERS } from './providers/index.ts';
export type { ExtractInput, Usage } from './providers/types.ts';
export type { BudgetStatus } from './reports/budget-status.ts';
export { formatCostReport } from './reports/format.ts';
export type { ProviderUsageReport, SeedLimitStatus, SeedProviderStatus, SeedTotals, UsageReport } from './reports/seed-report.ts';
export type { ApiServer, ApiServerOptions } from './server/api.ts';
export { startApiServer } from './server/start.ts';
export type { ServiceType, UsageInput, UsageRecord } from './usage.ts';
export { MAX_METADATA_BYTES, MAX_TOKENS_PER_CALL, SERVICE_TYPES, validateUsage } from './usage.ts';
