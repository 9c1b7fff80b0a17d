import { budgetStatusFromLedger } from '../budget-seeding.ts';
import { LIMIT_TYPES } from '../budgets/limits.ts';
import { configPath, loadConfig } from '../config.ts';
import { configBudgets } from '../config-budgets.ts';
import type { BudgetStatus } from '../reports/budget-status.ts';
import { num, shareBar, usd } from '../reports/format.ts';
import { type LedgerWhere, shortTime, withLedger } from './ledger.ts';
import { table, toJson } from './output.ts';

export interface StatusArgs {
  dir?: string | undefined;
  /** A PostgreSQL ledger to read instead of the dir's ledger.db. */
  ledger?: string | undefined;
  json?: boolean | undefined;
}

/** A budget's status as the CLI shows it: `provider` is set for subscription limits. */
export type LimitStatus = BudgetStatus & { provider: string | null };

/**
 * The subscription limits and budgets of a dir's config.json and the usage of each one's current
 * window, read from the ledger's rollups (a per-user budget shows each user with usage).
 */
export async function statusOf(dir: string | undefined | LedgerWhere): Promise<{ dir: string; statuses: LimitStatus[] }> {
  return withLedger(dir, async (l) => {
    const config = loadConfig(l.dir);
    const statuses = (await budgetStatusFromLedger(l.store, configBudgets(config))).map((b) => ({
      ...b,
      provider: b.scope === 'provider' ? b.scopeId : null,
    }));
    return { dir: l.dir, statuses };
  });
}

/** Limits as a table: used, limit, percentage with a bar, remaining, level, reset time. */
export function statusTable(statuses: readonly LimitStatus[]): string {
  const amount = (s: LimitStatus, v: number) => (s.unit === 'usd' ? usd(v) : `${num(v)} tokens`);
  return table(
    ['Budget', 'Limit type', 'Used', 'Limit', 'Used %', 'Remaining', 'Level', 'Resets at'],
    statuses.map((s) => [
      s.provider ?? `${s.scope} ${s.scopeId}`,
      s.limitType ?? `${s.window} ${s.unit}`,
      amount(s, s.used),
      amount(s, s.limit),
      shareBar(s.percentUsed / 100),
      amount(s, s.remaining),
      s.level,
      s.resetsAt === null
        ? s.window === 'run'
          ? 'end of run'
          : s.window === 'balance'
            ? `never (used up since ${s.windowStart.startsWith('1970-') ? 'the first record' : shortTime(s.windowStart)})`
            : `rolling, since ${shortTime(s.windowStart)}`
        : shortTime(s.resetsAt),
    ]),
    [2, 3, 5],
  );
}

/**
 * What the CLI cannot show, said where it shows budgets: budgets set in an app's code live only in
 * that app's process (no file holds them), so another process cannot list them.
 */
export const CODE_BUDGETS_NOTE =
  "Budgets set in an app's code (setLimit, setBudget, the budgets option, sessions) are in no file, so they are not listed here: " +
  "the app's monitor.status(), the GET /v1/status of a REST API it serves (startApiServer), and the tokenmeter_budget_* gauges on its /metrics show them.";

/** The hint shown when no limit is set. */
export function noLimitsMessage(dir: string): string {
  return [
    `No subscription limits or budgets set in ${configPath(dir)}. Set one with:`,
    '  tokenmeter set-limit <provider> <limit_type> <value> [--cycle monthly|daily|rolling]',
    '  e.g. tokenmeter set-limit openai monthly_limit 100',
    `limit types: ${LIMIT_TYPES.join(', ')}`,
    CODE_BUDGETS_NOTE,
  ].join('\n');
}

/** `tokenmeter status`: each configured subscription limit and how much of its window is used, and where budgets set in code are shown. */
export async function statusCommand(args: StatusArgs, out: (s: string) => void): Promise<number> {
  const { dir, statuses } = await statusOf(args);
  if (args.json) out(toJson(statuses));
  else if (statuses.length === 0) out(noLimitsMessage(dir));
  else out(`${statusTable(statuses)}\nFrom ${configPath(dir)}. ${CODE_BUDGETS_NOTE}`);
  return 0;
}
