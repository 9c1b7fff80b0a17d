import type BetterSqlite3 from 'better-sqlite3';

/**
 * Budget alerts as the ledger keeps them (SQLite schema 8, PostgreSQL schema 4): one row per
 * budget, level and window, whichever process raised it first. The key is the budget's identity
 * (scope, scope id, window, unit, limit type), its limit (a per-user `*` budget and one user's own
 * budget share an identity, not a limit), the window's start and the level: each process that
 * crosses the same threshold in the same window inserts the same key, and the insert is ignored.
 */

/** An alert as kept: the shape of the budgets' `Alert` (ledger/ does not import budgets/). */
export interface BudgetAlertRow {
  level: 'warning' | 'critical' | 'exceeded';
  message: string;
  budget: { scope: string; scopeId: string; window: string; unit: 'usd' | 'tokens'; limitType?: string };
  /** Used, in the budget's unit, when it was raised. */
  used: number;
  limit: number;
  percentUsed: number;
  /** The threshold crossed, as a fraction of the limit (1 for exceeded). */
  threshold: number;
  /** ISO 8601. */
  windowStart: string;
  resetsAt: string | null;
  /** When it was raised, ISO 8601. */
  at: string;
}

/** Which kept alerts to read, newest first. */
export interface BudgetAlertQuery {
  /** Raised at or after (epoch ms). */
  since?: number | undefined;
  /** Raised before (epoch ms). */
  until?: number | undefined;
  /** @default 100 */
  limit?: number | undefined;
}

/** The most alerts one read gives back. */
export const MAX_BUDGET_ALERTS_READ = 10_000;

/** The columns of `budget_alerts` an insert fills, in order (the same in both stores). */
export const BUDGET_ALERT_COLUMNS = [
  'at',
  'scope',
  'scope_id',
  'budget_window',
  'unit',
  'limit_type',
  'limit_value',
  'window_start',
  'level',
  'threshold',
  'used',
  'percent_used',
  'resets_at',
  'message',
] as const;

/** The values of one alert, in BUDGET_ALERT_COLUMNS' order. */
export function budgetAlertValues(a: BudgetAlertRow): (string | number | null)[] {
  return [
    Date.parse(a.at),
    a.budget.scope,
    a.budget.scopeId,
    a.budget.window,
    a.budget.unit,
    a.budget.limitType ?? '',
    a.limit,
    Date.parse(a.windowStart),
    a.level,
    a.threshold,
    a.used,
    a.percentUsed,
    a.resetsAt === null ? null : Date.parse(a.resetsAt),
    a.message,
  ];
}

/** A row as both stores read it (numbers already numbers). */
export interface StoredBudgetAlert {
  at: number;
  scope: string;
  scope_id: string;
  budget_window: string;
  unit: string;
  limit_type: string;
  limit_value: number;
  window_start: number;
  level: string;
  threshold: number;
  used: number;
  percent_used: number;
  resets_at: number | null;
  message: string;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** A stored row as the alert it was. */
export function budgetAlertOf(r: StoredBudgetAlert): BudgetAlertRow {
  const budget: BudgetAlertRow['budget'] = {
    scope: r.scope,
    scopeId: r.scope_id,
    window: r.budget_window,
    unit: r.unit as 'usd' | 'tokens',
  };
  if (r.limit_type !== '') budget.limitType = r.limit_type;
  return {
    level: r.level as BudgetAlertRow['level'],
    message: r.message,
    budget,
    used: r.used,
    limit: r.limit_value,
    percentUsed: r.percent_used,
    threshold: r.threshold,
    windowStart: iso(r.window_start),
    resetsAt: r.resets_at === null ? null : iso(r.resets_at),
    at: iso(r.at),
  };
}

/** The WHERE clause (with `?` or `$n` placeholders) and parameters of a query. */
export function budgetAlertWhere(q: BudgetAlertQuery, placeholder: (i: number) => string): { sql: string; params: number[] } {
  const parts: string[] = [];
  const params: number[] = [];
  if (q.since !== undefined) {
    params.push(q.since);
    parts.push(`at >= ${placeholder(params.length)}`);
  }
  if (q.until !== undefined) {
    params.push(q.until);
    parts.push(`at < ${placeholder(params.length)}`);
  }
  return { sql: parts.length === 0 ? '' : `WHERE ${parts.join(' AND ')}`, params };
}

/** How many to read: the query's limit, within bounds. */
export function budgetAlertLimit(q: BudgetAlertQuery): number {
  return Math.max(0, Math.min(MAX_BUDGET_ALERTS_READ, Math.floor(q.limit ?? 100)));
}

type Db = BetterSqlite3.Database;

const SQLITE_INSERT = `INSERT INTO budget_alerts (${BUDGET_ALERT_COLUMNS.join(', ')})
  VALUES (${BUDGET_ALERT_COLUMNS.map(() => '?').join(', ')}) ON CONFLICT DO NOTHING`;

/** Keeps alerts in one transaction; an alert already kept (by this process or another) is left as it is. */
export function keepBudgetAlertsSqlite(db: Db, alerts: readonly BudgetAlertRow[]): void {
  if (alerts.length === 0) return;
  const insert = db.prepare(SQLITE_INSERT);
  db.transaction(() => {
    for (const a of alerts) insert.run(...budgetAlertValues(a));
  }).immediate();
}

/** The kept alerts, newest first (none in a ledger older than the table, opened read-only). */
export function budgetAlertsSqlite(db: Db, q: BudgetAlertQuery = {}): BudgetAlertRow[] {
  if (db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'budget_alerts'`).get() === undefined) return [];
  const where = budgetAlertWhere(q, () => '?');
  const rows = db
    .prepare(`SELECT * FROM budget_alerts ${where.sql} ORDER BY at DESC, id DESC LIMIT ?`)
    .all(...where.params, budgetAlertLimit(q)) as StoredBudgetAlert[];
  return rows.map(budgetAlertOf);
}
