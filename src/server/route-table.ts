import type { z } from 'zod';
import { alertmanagerWebhook } from './alertmanager.ts';
import { tokenUsageRecord, tokenUsageStats, usageByModel } from './astra.ts';
import type { RouteQuery } from './query.ts';
import {
  adviceAnswer,
  alertsAnswer,
  budgetStatus,
  checkAllowed,
  checkBody,
  checkRefused,
  dailyAnswer,
  errorAnswer,
  healthAnswer,
  ingestAnswer,
  keptAnswer,
  overviewAnswer,
  receivedAlertsAnswer,
  reportAnswer,
  subjectUsageAnswer,
  summaryAnswer,
  usageRecordAnswer,
} from './schemas.ts';
import { usageBodySchema } from './usage-schema.ts';

/**
 * Every route the REST API answers, with what it takes and answers: the server answers nothing
 * else (api.ts refuses a path no entry matches), and /openapi.json is written from this table, so
 * the document and the server cannot drift apart. Each route's handler stays in api.ts.
 */

/** One answer of a route: JSON of a schema, or another content type. */
export interface RouteResponse {
  description: string;
  schema?: z.ZodType;
  /** Its content types. @default 'application/json' */
  type?: string | readonly string[];
  /** What a user would see: shown on /docs (else one is made up from the schema). */
  example?: unknown;
}

export interface Route {
  method: 'GET' | 'POST';
  /** OpenAPI's path template: `{name}` is one path segment, percent-decoded. */
  path: string;
  summary: string;
  /** Grouping on /docs and in the document's tags. */
  tag: 'usage' | 'reports' | 'budgets' | 'alertmanager' | 'astra' | 'service';
  /** Open without the token (it holds no data, or is for scrapers and probes). */
  open?: boolean;
  /** The path parameters' descriptions, by name. */
  params?: Record<string, string>;
  /** The query parameters: a schema of ROUTE_QUERIES (query.ts), which also checks them. */
  query?: RouteQuery;
  body?: z.ZodType;
  /** A body as a client would send it, for /docs and the document. */
  bodyExample?: unknown;
  responses: Record<number, RouteResponse>;
}

const json = (description: string, schema: z.ZodType, example?: unknown): RouteResponse =>
  example === undefined ? { description, schema } : { description, schema, example };

const ASTRA_STATS_EXAMPLE = {
  total_requests: 156,
  total_input_tokens: 45230,
  total_output_tokens: 28910,
  total_tokens: 74140,
  total_cost: 0.89234,
  cost_by_model: { 'gpt-4o': 0.78, 'gpt-4o-mini': 0.11234 },
  tokens_by_model: { 'gpt-4o': 65000, 'gpt-4o-mini': 9140 },
  requests_by_agent: { domain_agent: 89, research_agent: 67 },
  cost_trend: [
    { date: '2024-01-01', cost: 0.2345 },
    { date: '2024-01-02', cost: 0.456789 },
  ],
};

export const ROUTES: readonly Route[] = [
  {
    method: 'POST',
    path: '/v1/usage',
    tag: 'usage',
    summary:
      'Record calls: one record or an array of at most 10,000, all checked before any is recorded (a 400 names the item and field). Answers counts and the known cost, not the records.',
    body: usageBodySchema,
    bodyExample: [
      {
        provider: 'openai',
        model: 'gpt-4o',
        input_tokens: 245,
        output_tokens: 512,
        user_id: 'user@example.com',
        thread_id: 'conversation-123',
        agent: 'domain_agent',
        operation: 'chat',
        duration_ms: 840,
      },
    ],
    responses: {
      201: json('Recorded', ingestAnswer),
      503: json(
        'The ledger is behind (ledger_behind), or cannot be written (ledger_error): retry after Retry-After seconds; nothing of the request was taken',
        errorAnswer,
      ),
    },
  },
  {
    method: 'POST',
    path: '/v1/check',
    tag: 'budgets',
    summary: 'May this call run? 402 with the budget when an enforced one cannot afford it.',
    body: checkBody,
    bodyExample: {
      provider: 'openai',
      user_id: 'user@example.com',
      model: 'gpt-4o',
      max_tokens: 500,
      messages: [{ role: 'user', content: 'Summarise this thread' }],
    },
    responses: { 200: json('Allowed', checkAllowed), 402: json('Refused by an enforced budget', checkRefused) },
  },
  {
    method: 'GET',
    path: '/v1/summary',
    tag: 'reports',
    summary: 'Totals grouped by one dimension (by, default provider); the last 30 days unless since, days or run says otherwise.',
    query: 'summary',
    responses: { 200: json('The breakdown', summaryAnswer) },
  },
  {
    method: 'GET',
    path: '/v1/report',
    tag: 'reports',
    summary: 'Across providers: totals, per provider by service type and model, and the subscription limits.',
    query: 'report',
    responses: { 200: json('The report', reportAnswer) },
  },
  {
    method: 'GET',
    path: '/v1/records',
    tag: 'reports',
    summary: 'Raw records, newest first (limit 1 to 10,000, default 100; errors=true: failed calls only).',
    query: 'records',
    responses: { 200: json('The records', usageRecordAnswer.array()) },
  },
  {
    method: 'GET',
    path: '/v1/daily',
    tag: 'reports',
    summary: 'Usage by UTC day split by one dimension (by); the last 30 days by default.',
    query: 'daily',
    responses: { 200: json('A series per value of by, a point per day', dailyAnswer) },
  },
  {
    method: 'GET',
    path: '/v1/overview',
    tag: 'reports',
    summary:
      "A range at a glance (the built-in page's data): the summaries by provider, model, agent, operation and user, and the daily usage split by split.",
    query: 'overview',
    responses: { 200: json('The overview', overviewAnswer) },
  },
  {
    method: 'GET',
    path: '/v1/advice',
    tag: 'reports',
    summary: 'What the ledger says could be saved (tokenmeter advise); items under min_usd (USD over the range) are left out.',
    query: 'advice',
    responses: { 200: json('The advice', adviceAnswer) },
  },
  {
    method: 'GET',
    path: '/v1/users/{id}',
    tag: 'reports',
    summary: "One user's usage: totals, by model, by agent, by day.",
    params: { id: 'The user id' },
    query: 'user',
    responses: { 200: json("The user's usage", subjectUsageAnswer) },
  },
  {
    method: 'GET',
    path: '/v1/threads/{id}',
    tag: 'reports',
    summary: "One thread's usage: totals, by model, by agent, by day.",
    params: { id: 'The thread id' },
    query: 'thread',
    responses: { 200: json("The thread's usage", subjectUsageAnswer) },
  },
  {
    method: 'GET',
    path: '/v1/status',
    tag: 'budgets',
    summary: 'Every budget and subscription limit in its current window, with where it is defined (source).',
    query: 'none',
    responses: { 200: json('The budgets', budgetStatus.array()) },
  },
  {
    method: 'GET',
    path: '/v1/alerts',
    tag: 'budgets',
    summary:
      "Every budget's level now (as /v1/status), and the history of budget alerts, newest first, from the ledger (it survives restarts): the last 100 unless since, until, days or limit say otherwise.",
    query: 'alerts',
    responses: { 200: json('The levels and the alerts', alertsAnswer) },
  },
  {
    method: 'POST',
    path: '/v1/alertmanager',
    tag: 'alertmanager',
    summary: "Alertmanager's webhook (version 4), kept in the ledger. A 400 is final for Alertmanager, a 503 is retried.",
    body: alertmanagerWebhook,
    responses: { 200: json('Kept', keptAnswer) },
  },
  {
    method: 'GET',
    path: '/v1/alertmanager/alerts',
    tag: 'alertmanager',
    summary: 'The alerts Alertmanager sent, newest notified first.',
    query: 'alertmanager',
    responses: { 200: json('The alerts', receivedAlertsAnswer) },
  },
  {
    method: 'GET',
    path: '/token-usage/user/{user_id}',
    tag: 'astra',
    summary: "ASTRA's per-user statistics, in its shape: the last 30 days unless days says otherwise.",
    params: { user_id: 'The user id' },
    query: 'astraUser',
    responses: { 200: json("The user's usage", tokenUsageStats, ASTRA_STATS_EXAMPLE) },
  },
  {
    method: 'GET',
    path: '/token-usage/thread/{thread_id}',
    tag: 'astra',
    summary: "ASTRA's per-conversation statistics: the whole thread unless days is given.",
    params: { thread_id: 'The thread (conversation) id' },
    query: 'astraThread',
    responses: { 200: json("The thread's usage", tokenUsageStats, ASTRA_STATS_EXAMPLE) },
  },
  {
    method: 'GET',
    path: '/token-usage/all',
    tag: 'astra',
    summary: "ASTRA's raw records across users, newest first: the last 7 days and 100 records unless days and limit say otherwise.",
    query: 'astraAll',
    responses: {
      200: json('The records', tokenUsageRecord.array(), [
        {
          id: '1736937000000000',
          user_id: 'user@example.com',
          thread_id: 'conversation-123',
          timestamp: '2024-01-15T10:30:00.000Z',
          model: 'gpt-4o',
          agent_name: 'domain_agent',
          operation_type: 'chat',
          input_tokens: 245,
          output_tokens: 512,
          total_tokens: 757,
          total_cost: 0.0057325,
        },
      ]),
    },
  },
  {
    method: 'GET',
    path: '/token-usage/by-model',
    tag: 'astra',
    summary: "ASTRA's statistics by model, each in the per-user shape: the last 30 days unless days says otherwise.",
    query: 'astraByModel',
    responses: { 200: json('Model → its usage', usageByModel) },
  },
  {
    method: 'GET',
    path: '/health',
    tag: 'service',
    open: true,
    summary: 'Liveness and the ledger: 503 while it cannot be written or records were lost.',
    responses: { 200: json('Healthy', healthAnswer), 503: json('The ledger cannot be written, or records were lost', healthAnswer) },
  },
  {
    method: 'GET',
    path: '/metrics',
    tag: 'service',
    open: true,
    summary: 'Prometheus metrics (text exposition format); 404 when the metrics export is off.',
    responses: { 200: { description: 'The metrics', type: 'text/plain' } },
  },
  {
    method: 'GET',
    path: '/openapi.json',
    tag: 'service',
    open: true,
    summary: 'This document: the REST API in OpenAPI 3.1.',
    responses: { 200: { description: 'The OpenAPI document', type: 'application/json' } },
  },
  {
    method: 'GET',
    path: '/docs',
    tag: 'service',
    open: true,
    summary: 'This document as a readable page.',
    responses: { 200: { description: 'The routes, their parameters and answers', type: 'text/html' } },
  },
  {
    method: 'GET',
    path: '/',
    tag: 'service',
    open: true,
    summary: 'The built-in dashboard page (its data requests need the token).',
    responses: { 200: { description: 'The page', type: 'text/html' } },
  },
  {
    method: 'GET',
    path: '/index.html',
    tag: 'service',
    open: true,
    summary: 'The dashboard page, by its file name.',
    responses: { 200: { description: 'The page', type: 'text/html' } },
  },
  {
    method: 'GET',
    path: '/page/{file}',
    tag: 'service',
    open: true,
    summary: "The page's files: app.js, style.css, favicon.svg, uplot.js, uplot.css.",
    params: { file: 'The file name' },
    responses: {
      200: {
        description: 'The file (cached for good with the ?v= of its content)',
        type: ['text/javascript', 'text/css', 'image/svg+xml'],
      },
    },
  },
];

interface Compiled {
  route: Route;
  /** The segments, `null` where a parameter stands. */
  segments: (string | null)[];
}
const STATIC = new Map<string, Route[]>();
const TEMPLATED: Compiled[] = [];
for (const route of ROUTES) {
  if (!route.path.includes('{')) {
    STATIC.set(route.path, [...(STATIC.get(route.path) ?? []), route]);
    continue;
  }
  TEMPLATED.push({ route, segments: route.path.split('/').map((s) => (s.startsWith('{') ? null : s)) });
}

/** The routes of a request path (one per method), none when no entry matches it. */
export function routesOf(path: string): readonly Route[] {
  const exact = STATIC.get(path);
  if (exact !== undefined) return exact;
  const parts = path.split('/');
  return TEMPLATED.filter(
    (c) => c.segments.length === parts.length && c.segments.every((s, i) => (s === null ? parts[i] !== '' : s === parts[i])),
  ).map((c) => c.route);
}
