import type Pg from 'pg';
import {
  type AlertmanagerAlert,
  type AlertmanagerNotification,
  type KeptNotification,
  MAX_ALERTS_PER_NOTIFICATION,
  MAX_KEPT_ALERTS,
  MAX_KEPT_NOTIFICATIONS,
  type ReceivedAlert,
  type ReceivedAlertQuery,
  toReceivedAlert,
} from './notifications.ts';

/**
 * Alertmanager's notifications in the PostgreSQL ledger (its migration in postgres-schema.ts): the
 * same tables, caps and answers as the SQLite ledger's (notifications.ts), for several `serve`
 * instances receiving at once. An alert repeated or resolved is one row, upserted on
 * (fingerprint, starts_at), so two instances notified at once lose no count.
 */

/**
 * Adds a notification and its alerts in one transaction on `client`, then drops the oldest past the
 * caps. The alerts go in one upsert, summed per (fingerprint, start) first (an upsert cannot touch
 * a row twice; SQLite counts each copy, and so does this) and sorted by it, so that instances
 * upserting the same alerts take their locks in the same order.
 */
export async function keepNotificationPg(
  client: Pg.PoolClient,
  n: AlertmanagerNotification,
  receivedAt: number,
): Promise<KeptNotification> {
  const alerts = n.alerts.slice(0, MAX_ALERTS_PER_NOTIFICATION);
  const truncated = n.truncatedAlerts + (n.alerts.length - alerts.length);
  const byKey = new Map<string, { a: AlertmanagerAlert; times: number }>();
  for (const a of alerts) {
    const key = JSON.stringify([a.fingerprint, a.startsAt]);
    // The last copy's state wins, as it does when SQLite upserts them one after the other.
    byKey.set(key, { a, times: (byKey.get(key)?.times ?? 0) + 1 });
  }
  const rows = [...byKey.values()].sort((x, y) =>
    x.a.fingerprint < y.a.fingerprint ? -1 : x.a.fingerprint > y.a.fingerprint ? 1 : x.a.startsAt - y.a.startsAt,
  );
  const col = <T>(f: (r: { a: AlertmanagerAlert; times: number }) => T): T[] => rows.map(f);
  await client.query('BEGIN');
  try {
    const r = await client.query<{ id: bigint }>(
      `INSERT INTO alertmanager_notifications (received_at, receiver, status, group_key, group_labels, common_labels,
        common_annotations, external_url, alerts, truncated_alerts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
      [
        receivedAt,
        n.receiver,
        n.status,
        n.groupKey,
        JSON.stringify(n.groupLabels),
        JSON.stringify(n.commonLabels),
        JSON.stringify(n.commonAnnotations),
        n.externalURL,
        alerts.length,
        truncated,
      ],
    );
    const id = (r.rows[0] as { id: bigint }).id.toString();
    await client.query(
      `INSERT INTO alertmanager_alerts (fingerprint, starts_at, status, ends_at, labels, annotations, generator_url, receiver,
        group_key, first_received_at, last_received_at, notifications, last_notification)
       SELECT fingerprint, starts_at, status, ends_at, labels::json, annotations::json, generator_url, $7, $8, $9, $9, notifications, $10
       FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::text[], $11::text[], $12::bigint[])
         AS u(fingerprint, starts_at, status, ends_at, labels, annotations, generator_url, notifications)
       ON CONFLICT (fingerprint, starts_at) DO UPDATE SET status = excluded.status, ends_at = excluded.ends_at,
        labels = excluded.labels, annotations = excluded.annotations, generator_url = excluded.generator_url,
        receiver = excluded.receiver, group_key = excluded.group_key, last_received_at = excluded.last_received_at,
        notifications = alertmanager_alerts.notifications + excluded.notifications, last_notification = excluded.last_notification`,
      [
        col((x) => x.a.fingerprint),
        col((x) => x.a.startsAt),
        col((x) => x.a.status),
        col((x) => x.a.endsAt),
        col((x) => JSON.stringify(x.a.labels)),
        col((x) => JSON.stringify(x.a.annotations)),
        n.receiver,
        n.groupKey,
        receivedAt,
        id,
        col((x) => x.a.generatorURL),
        col((x) => x.times),
      ],
    );
    await client.query(
      `DELETE FROM alertmanager_notifications WHERE id <= (SELECT id FROM alertmanager_notifications ORDER BY id DESC LIMIT 1 OFFSET $1)`,
      [MAX_KEPT_NOTIFICATIONS],
    );
    await client.query(
      `DELETE FROM alertmanager_alerts WHERE last_received_at <=
        (SELECT last_received_at FROM alertmanager_alerts ORDER BY last_received_at DESC LIMIT 1 OFFSET $1)`,
      [MAX_KEPT_ALERTS],
    );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
  return { alerts: alerts.length, truncatedAlerts: truncated };
}

/** The received alerts, newest notified first (the SQLite ledger's order and limit). */
export async function receivedAlertsPg(
  query: (sql: string, params: unknown[]) => Promise<Record<string, unknown>[]>,
  q: ReceivedAlertQuery = {},
): Promise<ReceivedAlert[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (q.since !== undefined) {
    params.push(q.since);
    where.push(`last_received_at >= $${params.length}`);
  }
  if (q.until !== undefined) {
    params.push(q.until);
    where.push(`last_received_at < $${params.length}`);
  }
  if (q.status !== undefined) {
    params.push(q.status);
    where.push(`status = $${params.length}`);
  }
  params.push(q.limit ?? 100);
  const rows = await query(
    `SELECT * FROM alertmanager_alerts ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
     ORDER BY last_received_at DESC, starts_at DESC LIMIT $${params.length}`,
    params,
  );
  return rows.map((r) => toReceivedAlert(r as Parameters<typeof toReceivedAlert>[0]));
}
