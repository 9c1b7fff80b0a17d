import { z } from 'zod';
import { DIMENSIONS } from '../ledger/types.ts';
import { SERVICE_TYPES } from '../usage.ts';

/**
 * The answers of the REST API, for its OpenAPI document (/openapi.json) and the tests that hold
 * the real answers to it. Objects are open (`additionalProperties`): a field added to an answer is
 * not a break for clients. Numbers of USD are floats; exact sums are in picodollars.
 */

const n = z.number();
const int = z.number().int();
const iso = z.string().describe('ISO 8601, UTC');

/** Every error answer. */
export const errorAnswer = z.looseObject({
  error: z.looseObject({
    type: z.string().describe('validation_error, unauthorized, not_found, too_large, ledger_behind...'),
    message: z.string(),
    field: z.string().optional().describe('The parameter, path segment or body field at fault'),
    value: z
      .union([z.string(), z.number(), z.boolean(), z.null()])
      .optional()
      .describe('An excerpt of the bad value (at most 120 characters)'),
  }),
});

/** Sums over a set of records; counts the providers did not report add nothing. */
export const totals = z.looseObject({
  requests: int,
  errors: int,
  inputTokens: int,
  outputTokens: int,
  cachedInputTokens: int,
  cacheWriteTokens: int,
  reasoningTokens: int,
  totalTokens: int,
  costUsd: n.describe('Known cost in USD; unpriced calls add nothing'),
  costPicoUsd: z.union([z.string(), int]).describe('The same cost in picodollars (1e-12 USD), exact'),
  unpricedRequests: int,
  inputCostUsd: n.describe('Of the known cost, the input side (input-side tokens, per-search fees), over the records whose split is known'),
  inputCostPicoUsd: z.union([z.string(), int]),
  outputCostUsd: n.describe('Of the known cost, the output side (generated tokens); the cost less both sides has no split'),
  outputCostPicoUsd: z.union([z.string(), int]),
  unknownCounts: z
    .looseObject({
      inputTokens: int,
      outputTokens: int,
      cachedInputTokens: int,
      cacheWriteTokens: int,
      reasoningTokens: int,
      totalTokens: int,
    })
    .describe('Per count, the records that did not report it: the sums are of the others (never counting those as 0)'),
});

export const period = z.looseObject({ since: iso.nullable().describe('null: from the first record'), until: iso });
const key = z.string().nullable().describe('The group: a provider, model, user, day...; null for records without one');
export const breakdownRow = totals.extend({ key, share: n.describe('Share of the cost (of the tokens when nothing is priced)') });
const dimension = z.enum(DIMENSIONS);

export const summaryAnswer = z.looseObject({ period, by: dimension, total: totals, rows: z.array(breakdownRow) });

const providerSummary = totals.extend({
  provider: z.string(),
  byServiceType: z.record(z.string(), totals),
  byModel: z.record(z.string(), totals),
});

/** A budget or subscription limit in its current window. */
export const budgetStatus = z.looseObject({
  scope: z.string(),
  scopeId: z.string(),
  window: z.string().describe('monthly, daily, rolling_<N>d or run'),
  unit: z.enum(['usd', 'tokens']),
  limitType: z.string().nullable(),
  limit: n,
  used: n,
  reserved: n.describe('Held by calls in flight (enforced budgets)'),
  remaining: n,
  percentUsed: n,
  level: z.enum(['ok', 'warning', 'critical', 'exceeded']),
  warningThreshold: n,
  criticalThreshold: n,
  enforce: z.boolean(),
  source: z.enum(['config', 'code']),
  windowStart: iso,
  resetsAt: iso.nullable(),
});

export const reportAnswer = z.looseObject({
  period: period.extend({ days: n.nullable() }),
  totals,
  byProvider: z.array(providerSummary),
  subscriptionStatus: z.array(budgetStatus),
});

/** A record as the ledger keeps it (GET /v1/records). */
export const usageRecordAnswer = z.looseObject({
  id: int.optional().describe("The ledger's id"),
  timestamp: int.describe('Epoch milliseconds'),
  provider: z.string(),
  serviceType: z.enum(SERVICE_TYPES as [string, ...string[]]),
  model: z.string(),
  requestModel: z.string().nullable(),
  operation: z.string(),
  inputTokens: int.nullable(),
  outputTokens: int.nullable(),
  cachedInputTokens: int.nullable(),
  cacheWriteTokens: int.nullable(),
  reasoningTokens: int.nullable(),
  totalTokens: int.nullable(),
  costUsd: n.nullable().describe('null when the model has no known price'),
  costPicoUsd: int.nullable(),
  inputCostUsd: n
    .nullable()
    .describe('The input side of the cost; null when the split is unknown (no price, a cost the caller gave, an old record)'),
  outputCostUsd: n.nullable().describe('The output side of the cost; null when the split is unknown'),
  apiKeyId: z.string().nullable(),
  userId: z.string().nullable(),
  threadId: z.string().nullable(),
  agent: z.string().nullable(),
  durationMs: n.nullable(),
  error: z.boolean(),
  errorType: z.string().nullable(),
  errorMessage: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()).nullable(),
});

export const subjectUsageAnswer = z.looseObject({
  period,
  totals,
  byModel: z.array(breakdownRow),
  byAgent: z.array(breakdownRow),
  daily: z.array(z.looseObject({ day: z.string(), requests: int, totalTokens: int, costUsd: n })),
});

export const dailyAnswer = z.looseObject({
  period,
  by: dimension,
  days: z.array(z.string()).describe('Every UTC day of the range, YYYY-MM-DD'),
  series: z.array(
    z
      .looseObject({ key, total: totals, costUsd: z.array(n), totalTokens: z.array(int), requests: z.array(int) })
      .describe('One value of by, a point a day'),
  ),
  total: totals,
});

export const overviewAnswer = z.looseObject({
  period,
  total: totals,
  breakdowns: z.record(z.string(), z.array(breakdownRow)).describe('provider, model, agent, operation, userId'),
  daily: dailyAnswer,
});

export const adviceAnswer = z.looseObject({
  period: z.looseObject({ since: iso, until: iso, days: n }),
  calls: int,
  costUsd: n,
  scanned: z.looseObject({ calls: int, complete: z.boolean() }),
  thin: z.string().nullable(),
  minUsd: n,
  items: z.array(
    z.looseObject({
      kind: z.string(),
      title: z.string(),
      where: z.looseObject({ provider: z.string(), model: z.string(), operation: z.string(), agents: z.array(z.string().nullable()) }),
      evidence: z.record(z.string(), z.unknown()),
      usd: n,
      usdPerMonth: n,
      estimate: z.boolean(),
      summary: z.string(),
      action: z.string(),
    }),
  ),
  omitted: z.looseObject({ items: int, usd: n }),
  notJudged: z.looseObject({ groups: int, calls: int }),
});

const budgetIdentity = z.looseObject({ scope: z.string(), scopeId: z.string(), window: z.string() });

/** A budget alert. */
export const alert = z.looseObject({
  level: z.enum(['warning', 'critical', 'exceeded']),
  message: z.string(),
  budget: budgetIdentity,
  used: n,
  limit: n,
  percentUsed: n,
  threshold: n.describe('The threshold crossed, as a fraction of the limit'),
  windowStart: iso,
  resetsAt: iso.nullable(),
  at: iso,
});

/** `GET /v1/alerts` (and `tokenmeter alerts --json`, which adds Alertmanager's): every budget's level now, and the alerts raised. */
export const alertsAnswer = z.looseObject({
  budgets: z
    .array(budgetStatus)
    .describe(
      'Every budget and subscription limit in its current window: level (ok, warning, critical, exceeded), used, limit, percentUsed',
    ),
  alerts: z
    .array(alert)
    .describe(
      'The budget alerts raised, newest first, from the ledger (kept once each by every process sharing it; in memory without a ledger)',
    ),
});

export const ingestAnswer = z.looseObject({
  recorded: int,
  costUsd: n.describe("The records' known cost"),
  unpriced: int.describe('Records whose model has no known price'),
  alerts: z.array(alert),
});

export const checkAllowed = z.looseObject({ allowed: z.literal(true) });
export const checkRefused = z.looseObject({
  allowed: z.literal(false),
  error: z.looseObject({
    type: z.literal('budget_exceeded'),
    message: z.string(),
    budget: budgetIdentity,
    used: n,
    reserved: n,
    limit: n,
    estimate: n.nullable().describe("The call's estimate in the budget's unit; null for a model with no known price"),
  }),
});

const context = (what: string) => z.string('must be a string').nullable().optional().describe(what);

/** `POST /v1/check`'s body: the provider request to estimate, with the provider and the call's context. */
export const checkBody = z
  .looseObject({
    provider: z.string('is required, a string').min(1, 'is required, a string').describe('The provider of the call'),
    userId: context('The user whose budgets apply'),
    user_id: context('userId, by its snake_case name'),
    agent: context('The agent whose budgets apply'),
    apiKeyId: context('The API key id whose budgets apply'),
    api_key_id: context('apiKeyId, by its snake_case name'),
  })
  .describe(
    'The provider request to estimate (its own keys: model, messages, max_tokens...) with provider and the context the budgets are kept by; a context field in both spellings, or a near miss of one (UserId), is a 400',
  );

export const receivedAlertsAnswer = z.looseObject({
  alerts: z.array(
    z.looseObject({
      fingerprint: z.string(),
      status: z.enum(['firing', 'resolved']),
      alertname: z.string().nullable(),
      severity: z.string().nullable(),
      summary: z.string().nullable(),
      labels: z.record(z.string(), z.string()),
      annotations: z.record(z.string(), z.string()),
      startsAt: iso,
      endsAt: iso.nullable(),
      generatorURL: z.string(),
      receiver: z.string(),
      groupKey: z.string(),
      firstReceivedAt: iso,
      lastReceivedAt: iso,
      notifications: int,
    }),
  ),
});

export const keptAnswer = z.looseObject({ kept: int, truncatedAlerts: int });

export const healthAnswer = z.looseObject({
  ok: z.boolean().describe('False while the ledger cannot be written or records were lost'),
  ledger: z
    .looseObject({
      ok: z.boolean(),
      pending: int.describe('Records waiting to be written'),
      written: int,
      dropped: int.describe('Records lost'),
    })
    .nullable(),
  config: z
    .looseObject({
      ok: z.boolean().describe('False while a change to config.json cannot be applied (its last good budgets hold)'),
      file: z.string(),
      lastError: z.string().optional().describe('Why the last change was not applied'),
      reloads: int.describe('Changes applied without a restart'),
    })
    .nullable()
    .optional(),
});
