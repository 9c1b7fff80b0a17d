import { z } from 'zod';
import { DIMENSIONS, type Dimension } from '../ledger/types.ts';
import type { ReportQuery } from '../reports/query.ts';
import { MAX_LABEL_LENGTH } from '../usage.ts';
import { badRequest } from './http.ts';

/** The most records one `GET /v1/records` answers. */
export const MAX_RECORDS_LIMIT = 10_000;
/** The longest range `days` may ask for (a century). */
const MAX_DAYS = 36_525;

const label = z.string().min(1, 'must not be empty').max(MAX_LABEL_LENGTH, `longer than ${MAX_LABEL_LENGTH} characters`);
const time = z.string().refine((v) => Number.isFinite(Date.parse(v)), 'must be an ISO 8601 date or time');
const days = z
  .string()
  .regex(/^\d+(\.\d+)?$/, 'must be a positive number of days')
  .transform(Number)
  .refine((n) => n > 0 && n <= MAX_DAYS, `must be a positive number of days up to ${MAX_DAYS}`);
const limit = z
  .string()
  .regex(/^\d+$/, `must be a positive integer up to ${MAX_RECORDS_LIMIT}`)
  .transform(Number)
  .refine((n) => n >= 1 && n <= MAX_RECORDS_LIMIT, `must be a positive integer up to ${MAX_RECORDS_LIMIT}`);

/** What a daily breakdown is split by: a record field (the days are the other axis). */
const split = z.enum(DIMENSIONS.filter((d) => d !== 'day' && d !== 'hour') as [Dimension, ...Dimension[]]);

/** Filters and range every report takes, by their URL names. */
const filters = {
  provider: label,
  model: label,
  agent: label,
  user: label,
  thread: label,
  key: label,
  run: label,
  since: time,
  until: time,
  days,
};

/** The parameters of each report route; any other is a 400 (a misspelt filter silently ignored would be a wrong report). */
export const ROUTE_QUERIES = {
  summary: z.strictObject({ ...filters, by: z.enum(DIMENSIONS as unknown as [Dimension, ...Dimension[]]) }).partial(),
  report: z.strictObject(filters).partial(),
  records: z
    .strictObject({ ...filters, limit, errors: z.enum(['true', 'false'], "must be 'true' or 'false'").transform((v) => v === 'true') })
    .partial(),
  daily: z.strictObject({ ...filters, by: split }).partial(),
  overview: z.strictObject({ ...filters, split }).partial(),
  /** `GET /v1/advice`: the range and filters, and the smallest item shown (USD over the range). */
  advice: z
    .strictObject({
      ...filters,
      min_usd: z
        .string()
        .regex(/^\d+(\.\d+)?$/, 'must be a non-negative amount in USD')
        .transform(Number),
    })
    .partial(),
  user: z.strictObject(filters).omit({ user: true }).partial(),
  thread: z.strictObject(filters).omit({ thread: true }).partial(),
  none: z.strictObject({}),
  /** ASTRA's `GET /token-usage/user/{user_id}`, `/thread/{thread_id}` and `/by-model`: the range only, as ASTRA's. */
  astraUser: z.strictObject({ days }).partial(),
  astraThread: z.strictObject({ days }).partial(),
  astraByModel: z.strictObject({ days }).partial(),
  /** ASTRA's `GET /token-usage/all`: the range and how many records. */
  astraAll: z.strictObject({ days, limit }).partial(),
  /** `GET /v1/alerts`: the range of the history (on when each alert was raised) and how many. */
  alerts: z.strictObject({ since: time, until: time, days, limit }).partial(),
  /** `GET /v1/alertmanager/alerts`: the range (on when each alert was last received), its state, how many. */
  alertmanager: z
    .strictObject({ since: time, until: time, days, limit, status: z.enum(['firing', 'resolved'], 'must be "firing" or "resolved"') })
    .partial(),
} as const;

export type RouteQuery = keyof typeof ROUTE_QUERIES;

/** The range of a route given neither `since`, `days` nor `run`: the CLI's default for the same report. */
// ASTRA's routes keep its defaults (its usage guide's examples): 30 days, 7 for the raw records; a thread is read whole.
const DEFAULT_DAYS: Partial<Record<RouteQuery, number>> = {
  summary: 30,
  daily: 30,
  overview: 30,
  advice: 30,
  astraUser: 30,
  astraByModel: 30,
  astraAll: 7,
};
export type ParsedQuery = ReportQuery & {
  by?: Dimension;
  split?: Dimension;
  limit?: number;
  errors?: boolean;
  status?: 'firing' | 'resolved';
  minUsd?: number;
};

const FIELDS: Record<string, keyof ParsedQuery> = { user: 'userId', thread: 'threadId', key: 'apiKeyId', run: 'runId', min_usd: 'minUsd' };

/** A query component, `+` and percent escapes decoded; a malformed escape is a 400 (URLSearchParams would quietly garble it into another filter). */
function decode(s: string, part: string): string {
  try {
    return decodeURIComponent(s.replaceAll('+', ' '));
  } catch {
    throw badRequest(part.split('=')[0] ?? part, part, 'malformed percent-encoding');
  }
}

/**
 * A route's URL parameters, checked by its schema: a bad value is a 400 naming the parameter and
 * the value, and so is an unknown parameter or one given twice.
 */
export function parseQuery(search: string, route: RouteQuery): ParsedQuery {
  // No prototype: `?__proto__=x` is a parameter like any other (an unknown one).
  const raw: Record<string, string> = Object.create(null);
  for (const part of search.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const k = decode(eq === -1 ? part : part.slice(0, eq), part);
    const v = eq === -1 ? '' : decode(part.slice(eq + 1), part);
    if (Object.hasOwn(raw, k)) throw badRequest(k, v, 'given more than once');
    raw[k] = v;
  }
  const r = ROUTE_QUERIES[route].safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    if (issue?.code === 'unrecognized_keys') {
      const k = issue.keys[0] as string;
      const known = Object.keys(ROUTE_QUERIES[route].shape);
      throw badRequest(k, raw[k], known.length === 0 ? 'this route takes no parameters' : `unknown parameter; known: ${known.join(', ')}`);
    }
    const k = String(issue?.path[0] ?? '');
    throw badRequest(k, raw[k], issue?.message ?? 'invalid');
  }
  const q: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r.data)) q[FIELDS[k] ?? k] = v;
  // As `tokenmeter summary`: the last 30 days unless the range (or a run, whenever it ran) is given.
  const days = DEFAULT_DAYS[route];
  if (days !== undefined && q.since === undefined && q.days === undefined && q.runId === undefined) q.days = days;
  return q as ParsedQuery;
}
