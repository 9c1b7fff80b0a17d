import type { BudgetAlertRow } from '../ledger/budget-alerts.ts';
import type { ReceivedAlert } from '../ledger/notifications.ts';
import { bySeverity } from '../reports/budget-status.ts';
import { num, percent, usd } from '../reports/format.ts';
import { DAY_MS } from '../time.ts';
import { type LedgerWhere, shortTime, withLedger } from './ledger.ts';
import { table, toJson } from './output.ts';
import { type LimitStatus, statusOf, statusTable } from './status.ts';

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

/** What `tokenmeter alerts --json` prints: GET /v1/alerts' answer, and what Alertmanager sent. */
export interface AlertsAnswer {
  /** Every limit and budget of config.json, its level now, most severe (then most used) first. */
  budgets: LimitStatus[];
  /** The budget alerts raised, newest first, from the ledger. */
  alerts: BudgetAlertRow[];
  /** Alertmanager's alerts of the last `days` (7) days, firing first. */
  alertmanager: CliReceivedAlert[];
}

export interface AlertsArgs {
  dir?: string | undefined;
  /** A PostgreSQL ledger to read instead of the dir's ledger.db. */
  ledger?: string | undefined;
  json?: boolean | undefined;
  /** Budget alerts raised, and Alertmanager's alerts last notified, in the last n days. @default all budget alerts; Alertmanager's of 7 days */
  days?: number | undefined;
  /** Raised (notified) at or after this time, epoch ms; wins over `days`. */
  since?: number | undefined;
  /** How many budget alerts at most. @default 100 */
  limit?: number | undefined;
}

/** The most Alertmanager alerts the command lists. */
const RECEIVED_LIMIT = 50;

/** Alertmanager's alerts from the ledger: firing first, then the newest notified. */
export async function receivedAlertsOf(
  dir: string | undefined | LedgerWhere,
  days: number,
  now = Date.now(),
  since = now - days * DAY_MS,
): Promise<CliReceivedAlert[]> {
  const alerts = await withLedger(dir, async (l) => (await l.store.receivedAlerts?.({ since, limit: RECEIVED_LIMIT })) ?? []);
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

/** The budget alerts raised, as a table: when, level, budget, used, limit, percentage. */
function historyTable(alerts: readonly BudgetAlertRow[]): string {
  const amount = (a: BudgetAlertRow, v: number) => (a.budget.unit === 'usd' ? usd(v) : `${num(v)} tokens`);
  return table(
    ['Raised', 'Level', 'Budget', 'Limit type', 'Used', 'Limit', 'Used %'],
    alerts.map((a) => [
      shortTime(a.at),
      a.level,
      `${a.budget.scope} ${a.budget.scopeId}`,
      a.budget.limitType ?? `${a.budget.window} ${a.budget.unit}`,
      amount(a, a.used),
      amount(a, a.limit),
      percent(a.percentUsed / 100),
    ]),
    [4, 5, 6],
  );
}

/** Every budget's level now and the alerts raised (from the ledger), and Alertmanager's: what `tokenmeter alerts` shows. */
export async function alertsOf(args: AlertsArgs, now = Date.now()): Promise<AlertsAnswer> {
  const since = args.since ?? (args.days === undefined ? undefined : now - args.days * DAY_MS);
  const budgets = [...(await statusOf(args)).statuses].sort(bySeverity);
  const alerts = await withLedger(args, async (l) => (await l.store.budgetAlerts?.({ since, limit: args.limit ?? 100 })) ?? []);
  const alertmanager = await receivedAlertsOf(args, 0, now, since ?? now - 7 * DAY_MS);
  return { budgets, alerts, alertmanager };
}

/**
 * `tokenmeter alerts`: every limit and budget of config.json at its level now (most severe first),
 * the budget alerts raised (newest first, from the ledger: every process sharing it keeps each one
 * once), then the alerts Alertmanager sent to `tokenmeter serve` (firing first). The same as GET
 * /v1/alerts for the budgets config.json holds.
 */
export async function alertsCommand(args: AlertsArgs, out: (s: string) => void): Promise<number> {
  const a = await alertsOf(args);
  if (args.json) {
    out(toJson(a));
    return 0;
  }
  if (a.budgets.length === 0 && a.alerts.length === 0 && a.alertmanager.length === 0) {
    out('No alerts.');
    return 0;
  }
  const range =
    args.since !== undefined
      ? ` since ${shortTime(new Date(args.since).toISOString())}`
      : args.days !== undefined
        ? ` in the last ${num(args.days)} days`
        : '';
  const parts = [
    a.budgets.length === 0 ? 'No limits or budgets in config.json.' : `Budgets now:\n${statusTable(a.budgets)}`,
    a.alerts.length === 0
      ? `No budget alert raised${range}.`
      : `Budget alerts raised${range}, newest first (${a.alerts.length}${a.alerts.length === (args.limit ?? 100) ? `, the newest ${num(args.limit ?? 100)}: --limit for more` : ''}):\n${historyTable(a.alerts)}`,
  ];
  if (a.alertmanager.length > 0) {
    const firing = a.alertmanager.filter((x) => x.alert.status === 'firing').length;
    const when = args.since !== undefined || args.days !== undefined ? range.trim() : 'in the last 7 days';
    parts.push(
      `From Alertmanager (POST /v1/alertmanager), notified ${when}: ${firing} firing, ${a.alertmanager.length - firing} resolved`,
      receivedTable(a.alertmanager),
    );
  }
  out(parts.join('\n'));
  return 0;
}
