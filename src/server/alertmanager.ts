import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { AlertmanagerAlert, AlertmanagerNotification, ReceivedAlert } from '../ledger/notifications.ts';
import type { TokenMonitor } from '../monitor.ts';
import { badRequest, readJson, send } from './http.ts';

/**
 * Alertmanager's webhook, as its documentation gives it (version "4"):
 * https://prometheus.io/docs/alerting/latest/configuration/#webhook_config. Fields it may add later
 * are ignored; `truncatedAlerts` (Alertmanager 0.23 and later) is 0 when missing.
 */
const labelSet = z.record(z.string(), z.string(), 'must be an object of strings');
const str = z.string('must be a string');
const status = z.enum(['firing', 'resolved'], 'must be "firing" or "resolved"');
/** RFC 3339 as Go writes it (fractions of a second to the nanosecond, Z or an offset). */
const time = z
  .string('must be an RFC 3339 time')
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i, 'must be an RFC 3339 time')
  .refine((v) => Number.isFinite(Date.parse(v)), 'must be an RFC 3339 time');

const alert = z.object({
  status,
  labels: labelSet,
  annotations: labelSet,
  startsAt: time,
  endsAt: time,
  generatorURL: str,
  fingerprint: z.string('must be a string').min(1, 'must not be empty'),
});

/** The webhook body, as Alertmanager posts it: what checks it and what /openapi.json shows. */
export const alertmanagerWebhook = z.object({
  version: z.literal('4', 'must be "4" (the webhook format this server reads)'),
  receiver: str,
  status,
  alerts: z.array(alert, 'must be an array'),
  groupLabels: labelSet,
  commonLabels: labelSet,
  commonAnnotations: labelSet,
  externalURL: str,
  groupKey: str,
  truncatedAlerts: z.number('must be a whole number').int('must be a whole number').nonnegative('must not be negative').optional(),
});

/** Go's zero time, which Alertmanager sends as the end of an alert that has none yet. */
const GO_ZERO_TIME = Date.parse('0001-01-01T00:00:00Z');

/** The field path zod reports, as the 400 names it: `alerts[2].startsAt`. */
function fieldOf(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('') || 'body';
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const p of path) v = typeof v === 'object' && v !== null ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

/** A webhook body checked into a notification; a bad one is a 400 naming the field and its value. */
export function parseNotification(body: unknown): AlertmanagerNotification {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('body', body, 'must be a JSON object');
  const r = alertmanagerWebhook.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0] as z.core.$ZodIssue;
    // A label set's bad entry: name the label (`alerts[0].labels.severity`), not just the set.
    const path = issue.path;
    throw badRequest(fieldOf(path), valueAt(body, path) ?? null, issue.message);
  }
  const p = r.data;
  const alerts: AlertmanagerAlert[] = p.alerts.map((a) => {
    const ends = Date.parse(a.endsAt);
    return {
      status: a.status,
      labels: a.labels,
      annotations: a.annotations,
      startsAt: Date.parse(a.startsAt),
      endsAt: ends <= GO_ZERO_TIME ? null : ends,
      generatorURL: a.generatorURL,
      fingerprint: a.fingerprint,
    };
  });
  return {
    receiver: p.receiver,
    status: p.status,
    alerts,
    groupLabels: p.groupLabels,
    commonLabels: p.commonLabels,
    commonAnnotations: p.commonAnnotations,
    externalURL: p.externalURL,
    groupKey: p.groupKey,
    truncatedAlerts: p.truncatedAlerts ?? 0,
  };
}

/**
 * `POST /v1/alertmanager`: keeps a notification in the ledger. 200 with `{ kept, truncatedAlerts }`
 * (Alertmanager retries only on 5xx: a 400 for a bad payload is final, a 503 for a ledger that
 * cannot be written is retried).
 */
export async function receiveAlertmanager(
  monitor: TokenMonitor,
  req: IncomingMessage,
  res: ServerResponse,
  maxBytes: number,
): Promise<void> {
  const n = parseNotification(await readJson(req, maxBytes));
  const kept = await monitor.keepAlertmanagerNotification(n);
  send(res, 200, { kept: kept.alerts, truncatedAlerts: kept.truncatedAlerts });
}

/** What `GET /v1/alertmanager/alerts` answers. */
export interface ReceivedAlertsAnswer {
  alerts: ReceivedAlert[];
}
