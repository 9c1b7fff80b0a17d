import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Alert } from '../budgets/budget-spec.ts';
import { isBudgetExceededError, isValidationError } from '../errors.ts';
import type { TokenMonitor } from '../monitor.ts';
import { CostSum } from '../pricing/money.ts';
import type { UsageInput, ValidUsage } from '../usage.ts';
import { badRequest, errorBody, HttpError, readJson, send } from './http.ts';
import { restCheckContext, restUsage } from './rest-names.ts';
import { checkBody } from './schemas.ts';

/** The most records one `POST /v1/usage` takes: bounds the work one request can cause. */
export const MAX_BATCH_RECORDS = 10_000;

/** What `POST /v1/usage` answers: counts, not the records (a batch is not echoed back). */
export interface IngestAnswer {
  /** Records recorded. */
  recorded: number;
  /** Their known cost in USD (the unpriced ones add nothing). */
  costUsd: number;
  /** Records whose model has no known price. */
  unpriced: number;
  /** Budget alerts they raised. */
  alerts: Alert[];
}

/**
 * `POST /v1/usage`: every item is checked (once: what is checked is what is recorded) before any
 * is recorded, so a bad item records none of its batch.
 */
export async function ingest(
  monitor: TokenMonitor,
  req: IncomingMessage,
  res: ServerResponse,
  maxBytes: number,
  maxBacklog: number,
): Promise<void> {
  const body = await readJson(req, maxBytes);
  const backlog = monitor.health().ledger?.pending ?? 0;
  if (backlog >= maxBacklog) {
    // Taking more would only grow the queue towards maxPending, where records are dropped: the
    // client retries, and its records are kept.
    res.setHeader('retry-after', '1');
    throw new HttpError(
      503,
      errorBody('ledger_behind', `${backlog} records wait for the ledger (maxLedgerBacklog ${maxBacklog}); retry after a second`),
    );
  }
  const batch = Array.isArray(body);
  const items = (batch ? body : [body]) as unknown[];
  if (items.length > MAX_BATCH_RECORDS)
    throw badRequest('body', `${items.length} records`, `more than ${MAX_BATCH_RECORDS} in one request`);
  const valid: ValidUsage[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) {
    // Named as the client named it: snake_case fields are mapped here, and named so in an error.
    let spelled: ReadonlyMap<string, string> | undefined;
    try {
      const rest = restUsage(items[i]);
      spelled = rest.spelled;
      valid[i] = monitor.validate(rest.usage as UsageInput);
    } catch (e) {
      if (!isValidationError(e)) throw e;
      const name = spelled?.get(e.field) ?? e.field;
      const field = batch ? `[${i}].${name}` : name;
      throw new HttpError(400, errorBody('validation_error', batch ? `${e.message} in item ${i}` : e.message, { field, value: e.value }));
    }
  }
  const cost = new CostSum();
  let unpriced = 0;
  const alerts: Alert[] = [];
  for (const u of valid) {
    const r = monitor.recordValidated(u);
    if (r.record?.costPicoUsd == null) unpriced++;
    else cost.add(r.record.costPicoUsd);
    if (r.alerts.length > 0) alerts.push(...r.alerts);
  }
  const answer: IngestAnswer = { recorded: valid.length, costUsd: cost.usd, unpriced, alerts };
  send(res, 201, answer);
}

/** `POST /v1/check`: may this call run? 200, or 402 with the budget when an enforced one is spent. */
export async function check(monitor: TokenMonitor, req: IncomingMessage, res: ServerResponse, maxBytes: number): Promise<void> {
  const body = await readJson(req, maxBytes);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('body', body, 'must be a JSON object');
  const b = body as Record<string, unknown>;
  // The schema /openapi.json shows: provider, and each context field a string (the wrong type is
  // an error, not ignored: the check would be against the wrong budget).
  const parsed = checkBody.safeParse(b);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const k = String(issue?.path[0] ?? 'body');
    throw badRequest(k, b[k] ?? null, issue?.message ?? 'invalid');
  }
  const context: { userId?: string; agent?: string } = {};
  // userId or user_id, ...: both at once, or a near miss of either, is an error, not ignored.
  const c = restCheckContext(b);
  if (typeof c.userId === 'string') context.userId = c.userId;
  if (typeof c.agent === 'string') context.agent = c.agent;
  try {
    // A check, not a hold: what it would reserve is given back at once.
    monitor.settle(monitor.admit(parsed.data.provider, b, context, undefined, typeof c.apiKeyId === 'string' ? c.apiKeyId : undefined));
  } catch (e) {
    if (!isBudgetExceededError(e)) throw e;
    send(res, 402, {
      allowed: false,
      error: {
        type: 'budget_exceeded',
        message: e.message,
        budget: e.budget,
        used: e.used,
        reserved: e.reserved,
        limit: e.limit,
        estimate: e.estimate,
      },
    });
    return;
  }
  send(res, 200, { allowed: true });
}
