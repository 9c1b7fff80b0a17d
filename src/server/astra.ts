import { z } from 'zod';
import type { TokenMonitor } from '../monitor.ts';
import type { BreakdownRow, SubjectUsage } from '../reports/reports.ts';
import { DAY_MS } from '../time.ts';
import type { UsageRecord } from '../usage.ts';
import type { ParsedQuery } from './query.ts';

/**
 * ASTRA's usage API (its usage guide, `GET /token-usage/...`), answered with its shapes and its
 * snake_case names so that the dashboards written against it keep working: built from
 * tokenmeter's own reports, so the numbers are those of `/v1` and the CLI. The schemas below are
 * both the answers' types and their OpenAPI description.
 */

/** The agent key of records that name no agent (JSON object keys cannot be null). */
export const NO_AGENT = 'unknown';

/** ASTRA's `TokenUsageResponse`: one user's, thread's or model's usage over the range. */
export const tokenUsageStats = z
  .object({
    total_requests: z.number().int().describe('Calls in the range, failed ones included'),
    total_input_tokens: z.number().int().describe('Input tokens of the calls that reported them'),
    total_output_tokens: z.number().int().describe('Output tokens of the calls that reported them'),
    total_tokens: z.number().int(),
    total_cost: z.number().describe('Known cost in USD: calls of models without a known price add nothing'),
    cost_by_model: z.record(z.string(), z.number()).describe('Model → cost in USD'),
    tokens_by_model: z.record(z.string(), z.number().int()).describe('Model → total tokens'),
    requests_by_agent: z.record(z.string(), z.number().int()).describe(`Agent → calls; calls without an agent under "${NO_AGENT}"`),
    cost_trend: z
      .array(z.object({ date: z.string().describe('UTC day, YYYY-MM-DD'), cost: z.number() }))
      .describe('Cost by UTC day, oldest first, days with calls only'),
  })
  .strict();
export type TokenUsageStats = z.infer<typeof tokenUsageStats>;

/** ASTRA's `TokenUsageRecordResponse`: one call, as `GET /token-usage/all` lists it. */
export const tokenUsageRecord = z
  .object({
    id: z.string().describe("The ledger's id of the record"),
    user_id: z.string().nullable(),
    thread_id: z.string().nullable(),
    timestamp: z.string().describe('ISO 8601, UTC'),
    model: z.string(),
    agent_name: z.string().nullable(),
    operation_type: z.string(),
    input_tokens: z.number().int().nullable().describe('null when the provider did not report it'),
    output_tokens: z.number().int().nullable(),
    total_tokens: z.number().int().nullable(),
    input_cost: z
      .number()
      .nullable()
      .describe('USD: the input side of the cost (input, cached and cache-write tokens, per-search fees); null when the split is unknown'),
    output_cost: z
      .number()
      .nullable()
      .describe('USD: the output side of the cost (output and reasoning tokens); null when the split is unknown'),
    total_cost: z.number().nullable().describe('USD; null when the model has no known price'),
  })
  .strict();
export type TokenUsageRecord = z.infer<typeof tokenUsageRecord>;

/** `GET /token-usage/by-model`: each model's usage, in the shape of the user's. */
export const usageByModel = z.record(z.string(), tokenUsageStats);

function addTo(into: Record<string, number>, key: string, n: number): void {
  into[key] = (into[key] ?? 0) + n;
}

function byAgent(rows: readonly BreakdownRow[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) addTo(out, r.key ?? NO_AGENT, r.requests);
  return out;
}

/** A user's or thread's usage report in ASTRA's shape. */
export function astraStats(u: SubjectUsage): TokenUsageStats {
  const cost: Record<string, number> = {};
  const tokens: Record<string, number> = {};
  for (const r of u.byModel) {
    // Every record has a model: a null key would be a bug in the report, not a group to show.
    const model = r.key ?? '';
    cost[model] = r.costUsd;
    tokens[model] = r.totalTokens;
  }
  return {
    total_requests: u.totals.requests,
    total_input_tokens: u.totals.inputTokens,
    total_output_tokens: u.totals.outputTokens,
    total_tokens: u.totals.totalTokens,
    total_cost: u.totals.costUsd,
    cost_by_model: cost,
    tokens_by_model: tokens,
    requests_by_agent: byAgent(u.byAgent),
    cost_trend: u.daily.map((d) => ({ date: d.day, cost: d.costUsd })),
  };
}

/** A ledger record in ASTRA's shape (the ledger's records carry their id). */
export function astraRecord(r: UsageRecord & { id?: number }): TokenUsageRecord {
  return {
    id: r.id === undefined ? '' : String(r.id),
    user_id: r.userId,
    thread_id: r.threadId,
    timestamp: new Date(r.timestamp).toISOString(),
    model: r.model,
    agent_name: r.agent,
    operation_type: r.operation,
    input_tokens: r.inputTokens,
    output_tokens: r.outputTokens,
    total_tokens: r.totalTokens,
    input_cost: r.inputCostUsd ?? null,
    output_cost: r.outputCostUsd ?? null,
    total_cost: r.costUsd,
  };
}

/** The range `days` back from now, fixed once so that every read of one answer covers the same span. */
function range(q: ParsedQuery): { since?: number; until: number } {
  const until = Date.now() + 1;
  return q.days === undefined ? { until } : { since: until - q.days * DAY_MS, until };
}

/** `GET /token-usage/user/{user_id}?days=`. */
export async function astraUser(monitor: TokenMonitor, userId: string, q: ParsedQuery): Promise<TokenUsageStats> {
  return astraStats(await monitor.userUsage(userId, range(q)));
}

/** `GET /token-usage/thread/{thread_id}` (the whole thread unless `days` is given). */
export async function astraThread(monitor: TokenMonitor, threadId: string, q: ParsedQuery): Promise<TokenUsageStats> {
  return astraStats(await monitor.threadUsage(threadId, range(q)));
}

/** `GET /token-usage/all?days=&limit=`: the newest records first. */
export async function astraAll(monitor: TokenMonitor, q: ParsedQuery): Promise<TokenUsageRecord[]> {
  const records = await monitor.records({ ...range(q), limit: q.limit ?? 100 });
  return records.map(astraRecord);
}

/**
 * `GET /token-usage/by-model?days=`: each model's usage, largest cost first. The daily breakdown
 * by model gives each model's totals and days in one read; its agents take one more read a model.
 */
export async function astraByModel(monitor: TokenMonitor, q: ParsedQuery): Promise<Record<string, TokenUsageStats>> {
  const r = range(q);
  const d = await monitor.daily({ ...r, by: 'model' });
  const agents = await Promise.all(d.series.map((s) => monitor.summary({ ...r, model: s.key ?? '', by: 'agent' })));
  const out: Record<string, TokenUsageStats> = {};
  d.series.forEach((s, i) => {
    const model = s.key ?? '';
    const trend: TokenUsageStats['cost_trend'] = [];
    d.days.forEach((day, j) => {
      if ((s.requests[j] ?? 0) > 0) trend.push({ date: day, cost: s.costUsd[j] ?? 0 });
    });
    out[model] = {
      total_requests: s.total.requests,
      total_input_tokens: s.total.inputTokens,
      total_output_tokens: s.total.outputTokens,
      total_tokens: s.total.totalTokens,
      total_cost: s.total.costUsd,
      cost_by_model: { [model]: s.total.costUsd },
      tokens_by_model: { [model]: s.total.totalTokens },
      requests_by_agent: byAgent(agents[i]?.rows ?? []),
      cost_trend: trend,
    };
  });
  return out;
}
