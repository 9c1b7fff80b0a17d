import type { ReceivedAlert } from '../ledger/notifications.ts';
import { num, percent, usd } from '../reports/format.ts';
import { DAY_MS } from '../time.ts';
import { type LedgerWhere, shortTime, withLedger } from './ledger.ts';
import { table, toJson } from './output.ts';
import { type LimitStatus, statusOf, statusTable } from './status.ts';

/** Something that needs attention: a subscription limit or budget past its warning threshold. */
export interface CliAlert {
  level: 'warning' | 'critical' | 'exceeded';
  source: 'subscription_limit' | 'budget';
  provider: string | null;
  message: string;
  limit: LimitStatus;
}

/**
 * An alert Alertmanager sent to `tokenmeter serve` (POST /v1/alertmanager), in the same list:
 * `level` is its `severity` label while it fires, `resolved` once resolved.
 */
export interface CliReceivedAlert {
  level: string;
  source: 'alertmanager';
  provider: string | null;
  message: string;
  alert: ReceivedAlert;
}

const SEVERITY = { exceeded: 3, critical: 2, warning: 1, ok: 0 } as const;

/** The limits at warning, critical or exceeded level, most severe (then most used) first. */
export function collectAlerts(statuses: readonly LimitStatus[]): CliAlert[] {
  const amount = (s: LimitStatus, v: number) => (s.unit === 'usd' ? usd(v) : `${num(v)} tokens`);
  return statuses
    .filter((s) => s.level !== 'ok')
    .sort((a, b) => SEVERITY[b.level] - SEVERITY[a.level] || b.percentUsed - a.percentUsed)
    .map((s) => ({
      level: s.level as CliAlert['level'],
      source: s.limitType === null ? 'budget' : 'subscription_limit',
      provider: s.provider,
      message: `${s.provider ?? `${s.scope} ${s.scopeId}`} ${s.limitType ?? `${s.window} ${s.unit} budget`}: ${amount(s, s.used)} of ${amount(s, s.limit)} used (${percent(s.percentUsed / 100)})${
        s.resetsAt === null ? '' : `, resets ${shortTime(s.resetsAt)}`
      }`,
      limit: s,
    }));
}

export interface AlertsArgs {
  dir?: string | undefined;
  /** A PostgreSQL ledger to read instead of the dir's ledger.db. */
  ledger?: string | undefined;
  json?: boolean | undefined;
  /** Alertmanager's alerts last notified in the last n days. @default 7 */
  days?: number | undefined;
}

/** The most Alertmanager alerts the command lists. */
const RECEIVED_LIMIT = 50;

/** Alertmanager's alerts from the ledger: firing first, then the newest notified. */
export async function receivedAlertsOf(dir: string | undefined | LedgerWhere, days: number, now = Date.now()): Promise<CliReceivedAlert[]> {
  const alerts = await withLedger(
    dir,
    async (l) => (await l.store.receivedAlerts?.({ since: now - days * DAY_MS, limit: RECEIVED_LIMIT })) ?? [],
  );
  return alerts
    .sort((a, b) => Number(b.status === 'firing') - Number(a.status === 'firing'))
    .map((a) => ({
      level: a.status === 'resolved' ? 'resolved' : (a.severity ?? 'firing'),
      source: 'alertmanager',
      provider: a.labels.provider ?? null,
      message: a.summary ?? a.alertname ?? a.fingerprint,
      alert: a,
    }));
}

/** Alertmanager's alerts as a table: state, name, severity, summary, since, last notified. */
function receivedTable(alerts: readonly CliReceivedAlert[]): string {
  return table(
    ['Status', 'Alert', 'Severity', 'Summary', 'Since', 'Last notified'],
    alerts.map(({ alert: a }) => [
      a.status === 'resolved' && a.endsAt !== null ? `resolved ${shortTime(a.endsAt)}` : a.status,
      a.alertname ?? '(no alertname)',
      a.severity ?? '',
      a.summary ?? '',
      shortTime(a.startsAt),
      `${shortTime(a.lastReceivedAt)}${a.notifications > 1 ? ` (${a.notifications}×)` : ''}`,
    ]),
  );
}

/**
 * `tokenmeter alerts`: what needs attention, most severe first: the budgets past a threshold, then
 * the alerts Alertmanager sent to `tokenmeter serve` in the last `days` days (firing first). JSON:
 * one array, the budgets' items first (`source` tells them apart).
 */
export async function alertsCommand(args: AlertsArgs, out: (s: string) => void): Promise<number> {
  const days = args.days ?? 7;
  const alerts = collectAlerts((await statusOf(args)).statuses);
  const received = await receivedAlertsOf(args, days);
  if (args.json) out(toJson([...alerts, ...received]));
  else if (alerts.length === 0 && received.length === 0) out('No alerts.');
  else {
    const parts = [alerts.length === 0 ? 'No budget alerts.' : statusTable(alerts.map((a) => a.limit))];
    if (received.length > 0) {
      const firing = received.filter((a) => a.alert.status === 'firing').length;
      parts.push(
        `From Alertmanager (POST /v1/alertmanager), notified in the last ${num(days)} days: ${firing} firing, ${received.length - firing} resolved`,
        receivedTable(received),
      );
    }
    out(parts.join('\n'));
  }
  return 0;
}
