import type BetterSqlite3 from 'better-sqlite3';

/**
 * Alertmanager's notifications as the ledger keeps them (schema 5). The webhook's format is
 * https://prometheus.io/docs/alerting/latest/configuration/#webhook_config; server/alertmanager.ts
 * checks a payload into an {@link AlertmanagerNotification} before anything here sees it.
 */

/** One alert of a notification, checked. */
export interface AlertmanagerAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Epoch ms. */
  startsAt: number;
  /** Epoch ms; null when Alertmanager sent Go's zero time (a firing alert with no end yet). */
  endsAt: number | null;
  generatorURL: string;
  fingerprint: string;
}

/** One notification (one webhook request), checked. */
export interface AlertmanagerNotification {
  receiver: string;
  status: 'firing' | 'resolved';
  alerts: AlertmanagerAlert[];
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  groupKey: string;
  /** Alerts Alertmanager left out (its max_alerts), plus those tokenmeter did not keep (past MAX_ALERTS_PER_NOTIFICATION). */
  truncatedAlerts: number;
}

/** An alert as received: its latest state, and when and how often it was notified. */
export interface ReceivedAlert {
  /** Alertmanager's id of the label set. With `startsAt`, it names one firing of an alert. */
  fingerprint: string;
  /** The state the latest notification gave. */
  status: 'firing' | 'resolved';
  /** `labels.alertname`, `labels.severity` and `annotations.summary`, or null: what a list shows. */
  alertname: string | null;
  severity: string | null;
  summary: string | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** ISO 8601. */
  startsAt: string;
  /** ISO 8601; null while firing with no end known. */
  endsAt: string | null;
  generatorURL: string;
  /** The receiver (route) of the latest notification, e.g. `tokenmeter-critical`. */
  receiver: string;
  groupKey: string;
  /** ISO 8601: when tokenmeter first and last received it. */
  firstReceivedAt: string;
  lastReceivedAt: string;
  /** How many notifications carried it (repeats and the resolution included). */
  notifications: number;
}

/** Which received alerts to read, newest notified first. */
export interface ReceivedAlertQuery {
  /** Last received at or after (epoch ms). */
  since?: number | undefined;
  /** Last received before (epoch ms). */
  until?: number | undefined;
  status?: 'firing' | 'resolved' | undefined;
  /** @default 100 */
  limit?: number | undefined;
}

/** What keeping a notification did. */
export interface KeptNotification {
  /** Alerts kept (new ones and updates). */
  alerts: number;
  /** Alerts not in the ledger: Alertmanager's truncatedAlerts plus any past MAX_ALERTS_PER_NOTIFICATION. */
  truncatedAlerts: number;
}

/**
 * The most alerts one notification adds to the ledger; the rest are counted in its truncatedAlerts.
 * With the request's body limit (1 MiB by default) this bounds what one request can store.
 */
export const MAX_ALERTS_PER_NOTIFICATION = 1000;
/** Notifications kept: past it the oldest go (each is a small row; alerts are kept apart). */
export const MAX_KEPT_NOTIFICATIONS = 10_000;
/** Alerts kept: past it those least recently notified go. */
export const MAX_KEPT_ALERTS = 10_000;

type Db = BetterSqlite3.Database;

const json = (o: Record<string, string>): string => JSON.stringify(o);

/** Adds a notification and its alerts in one transaction, then drops the oldest past the caps. */
export function keepNotification(db: Db, n: AlertmanagerNotification, receivedAt: number): KeptNotification {
  const alerts = n.alerts.slice(0, MAX_ALERTS_PER_NOTIFICATION);
  const truncated = n.truncatedAlerts + (n.alerts.length - alerts.length);
  const insertNotification = db.prepare(
    `INSERT INTO alertmanager_notifications (received_at, receiver, status, group_key, group_labels, common_labels,
      common_annotations, external_url, alerts, truncated_alerts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const upsert = db.prepare(
    `INSERT INTO alertmanager_alerts (fingerprint, starts_at, status, ends_at, labels, annotations, generator_url, receiver,
      group_key, first_received_at, last_received_at, notifications, last_notification)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)
     ON CONFLICT (fingerprint, starts_at) DO UPDATE SET status = excluded.status, ends_at = excluded.ends_at,
      labels = excluded.labels, annotations = excluded.annotations, generator_url = excluded.generator_url,
      receiver = excluded.receiver, group_key = excluded.group_key, last_received_at = excluded.last_received_at,
      notifications = notifications + 1, last_notification = excluded.last_notification`,
  );
  db.transaction(() => {
    const id = insertNotification.run(
      receivedAt,
      n.receiver,
      n.status,
      n.groupKey,
      json(n.groupLabels),
      json(n.commonLabels),
      json(n.commonAnnotations),
      n.externalURL,
      alerts.length,
      truncated,
    ).lastInsertRowid;
    for (const a of alerts) {
      upsert.run(
        a.fingerprint,
        a.startsAt,
        a.status,
        a.endsAt,
        json(a.labels),
        json(a.annotations),
        a.generatorURL,
        n.receiver,
        n.groupKey,
        receivedAt,
        receivedAt,
        id,
      );
    }
    db.prepare(
      `DELETE FROM alertmanager_notifications WHERE id <= (SELECT id FROM alertmanager_notifications ORDER BY id DESC LIMIT 1 OFFSET ?)`,
    ).run(MAX_KEPT_NOTIFICATIONS);
    const oldest = db
      .prepare('SELECT last_received_at AS at FROM alertmanager_alerts ORDER BY last_received_at DESC LIMIT 1 OFFSET ?')
      .get(MAX_KEPT_ALERTS) as { at: number } | undefined;
    if (oldest !== undefined) db.prepare('DELETE FROM alertmanager_alerts WHERE last_received_at <= ?').run(oldest.at);
  }).immediate();
  return { alerts: alerts.length, truncatedAlerts: truncated };
}

/** True when the file has schema 5's tables (a ledger opened read-only may be older). */
function hasTables(db: Db): boolean {
  return db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alertmanager_alerts'`).get() !== undefined;
}

interface AlertRow {
  fingerprint: string;
  starts_at: number;
  status: 'firing' | 'resolved';
  ends_at: number | null;
  labels: string;
  annotations: string;
  generator_url: string;
  receiver: string;
  group_key: string;
  first_received_at: number;
  last_received_at: number;
  notifications: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The received alerts, newest notified first. */
export function receivedAlerts(db: Db, q: ReceivedAlertQuery = {}): ReceivedAlert[] {
  if (!hasTables(db)) return [];
  const where: string[] = [];
  const params: (number | string)[] = [];
  if (q.since !== undefined) {
    where.push('last_received_at >= ?');
    params.push(q.since);
  }
  if (q.until !== undefined) {
    where.push('last_received_at < ?');
    params.push(q.until);
  }
  if (q.status !== undefined) {
    where.push('status = ?');
    params.push(q.status);
  }
  const rows = db
    .prepare(
      `SELECT * FROM alertmanager_alerts ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`}
       ORDER BY last_received_at DESC, starts_at DESC LIMIT ?`,
    )
    .all(...params, q.limit ?? 100) as AlertRow[];
  return rows.map(toReceivedAlert);
}

/**
 * A row of `alertmanager_alerts` as the API answers it, from either store: SQLite's label sets are
 * JSON text and its numbers numbers; PostgreSQL's `json` columns arrive parsed, its bigints as
 * BigInt.
 */
export function toReceivedAlert(
  r: {
    [K in keyof AlertRow]: AlertRow[K] extends string
      ? AlertRow[K] | object
      : AlertRow[K] extends number
        ? number | bigint
        : number | bigint | null;
  },
): ReceivedAlert {
  const labels = (typeof r.labels === 'string' ? JSON.parse(r.labels) : r.labels) as Record<string, string>;
  const annotations = (typeof r.annotations === 'string' ? JSON.parse(r.annotations) : r.annotations) as Record<string, string>;
  return {
    fingerprint: r.fingerprint as string,
    status: r.status as ReceivedAlert['status'],
    alertname: labels.alertname ?? null,
    severity: labels.severity ?? null,
    summary: annotations.summary ?? null,
    labels,
    annotations,
    startsAt: iso(Number(r.starts_at)),
    endsAt: r.ends_at === null ? null : iso(Number(r.ends_at)),
    generatorURL: r.generator_url as string,
    receiver: r.receiver as string,
    groupKey: r.group_key as string,
    firstReceivedAt: iso(Number(r.first_received_at)),
    lastReceivedAt: iso(Number(r.last_received_at)),
    notifications: Number(r.notifications),
  };
}
