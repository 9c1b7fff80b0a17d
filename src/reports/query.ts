import { ValidationError } from '../errors.ts';
import { DIMENSIONS, type Dimension, type LedgerFilter } from '../ledger/types.ts';

import { DAY_MS } from '../time.ts';

/** What every report takes: filters, and a range as `days` back from now or `since`/`until`. */
export interface ReportQuery {
  provider?: string;
  model?: string;
  serviceType?: string;
  operation?: string;
  agent?: string;
  userId?: string;
  threadId?: string;
  apiKeyId?: string;
  /** The records of one run (`monitor.session()`'s id, kept as `metadata.run_id`). */
  runId?: string;
  /** The last N days (N may be fractional); ignored when `since` is given. */
  days?: number;
  /** Start of the range, inclusive: a Date, epoch ms, or an ISO 8601 date or time. */
  since?: Date | number | string;
  /** End of the range, exclusive. @default now */
  until?: Date | number | string;
}

function timeOf(value: Date | number | string, field: string): number {
  const ms = typeof value === 'number' ? value : value instanceof Date ? value.getTime() : Date.parse(value);
  if (!Number.isFinite(ms)) throw new ValidationError(field, value, 'must be a Date, epoch milliseconds or an ISO 8601 date');
  return ms;
}

/** Checks a query and turns it into the ledger's filter (epoch ms, `until` exclusive). */
export function resolveQuery(q: ReportQuery = {}, now: number = Date.now()): LedgerFilter & { until: number } {
  const until = q.until === undefined ? now + 1 : timeOf(q.until, 'until');
  let since: number | undefined;
  if (q.since !== undefined) since = timeOf(q.since, 'since');
  else if (q.days !== undefined) {
    if (typeof q.days !== 'number' || !Number.isFinite(q.days) || q.days <= 0) {
      throw new ValidationError('days', q.days, 'must be a positive number of days');
    }
    since = until - q.days * DAY_MS;
  }
  if (since !== undefined && since >= until)
    throw new ValidationError('since', q.since ?? q.days, `must be before until (${new Date(until).toISOString()})`);
  const filter: LedgerFilter & { until: number } = { until };
  if (since !== undefined) filter.since = since;
  for (const f of ['provider', 'model', 'serviceType', 'operation', 'agent', 'userId', 'threadId', 'apiKeyId', 'runId'] as const) {
    const v = q[f];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v === '') throw new ValidationError(f, v, 'must be a non-empty string');
    filter[f] = v;
  }
  return filter;
}

/** Checks a group-by dimension. */
export function dimensionOf(by: unknown): Dimension {
  if (typeof by === 'string' && (DIMENSIONS as readonly string[]).includes(by)) return by as Dimension;
  throw new ValidationError('by', by, `must be one of ${DIMENSIONS.join(', ')}`);
}
