import { budgetStatusFromLedger } from '../budget-seeding.ts';
import { loadConfig } from '../config.ts';
import { configBudgets } from '../config-budgets.ts';
import type { Totals } from '../ledger/types.ts';
import { num, usd } from '../reports/format.ts';
import { report } from '../reports/reports.ts';
import { noLedgerMessage, queryOf, type RangeArgs, rangeText, withLedger } from './ledger.ts';
import { shareHead, shareOf, TOTALS_HEAD, TOTALS_RIGHT, table, toJson, totalsCells, unknownNotes, unpricedNote } from './output.ts';
import { statusTable } from './status.ts';

export interface ReportArgs extends RangeArgs {
  dir?: string | undefined;
  json?: boolean | undefined;
}

/** Groups of one provider (its service types or models) as rows, with their share of the provider. */
function groupRows(groups: Record<string, Totals>, whole: Totals): string[][] {
  return Object.entries(groups)
    .sort(([a, x], [b, y]) =>
      y.costPicoUsd > x.costPicoUsd ? 1 : y.costPicoUsd < x.costPicoUsd ? -1 : y.totalTokens - x.totalTokens || a.localeCompare(b),
    )
    .map(([key, t]) => [`  ${key || '(none)'}`, ...totalsCells(t, shareOf(t, whole))]);
}

/** `tokenmeter report`: totals, each provider by service type and by model, and the subscription limits. */
export async function reportCommand(args: ReportArgs, out: (s: string) => void): Promise<number> {
  const q = queryOf(args, 30);
  return withLedger(args, async (l) => {
    const config = loadConfig(l.dir);
    const r = await report(l.store, q, await budgetStatusFromLedger(l.store, configBudgets(config)));
    if (args.json) {
      out(toJson(r));
      return 0;
    }
    if (!l.exists) out(noLedgerMessage(l));
    else if (r.byProvider.length === 0)
      out(`No usage ${rangeText(q)}${args.provider === undefined ? '' : ` for provider ${args.provider}`} in ${l.dir}.`);
    else {
      const t = r.totals;
      out(`Usage report, ${rangeText(q)}`);
      out(`${num(t.requests)} requests (${num(t.errors)} failed), ${num(t.totalTokens)} tokens, ${usd(t.costUsd)}`);
      out(
        table(
          ['provider', ...TOTALS_HEAD, shareHead(t)],
          r.byProvider.map((p) => [p.provider, ...totalsCells(p, shareOf(p, t))]),
          [...TOTALS_RIGHT],
        ),
      );
      for (const p of r.byProvider) {
        out(`\n${p.provider}`);
        const blank = TOTALS_HEAD.map(() => '');
        const rows = [['by service type', ...blank, ''], ...groupRows(p.byServiceType, p)];
        rows.push(['by model', ...blank, ''], ...groupRows(p.byModel, p));
        out(table(['', ...TOTALS_HEAD, `Share of ${p.provider}`], rows, [...TOTALS_RIGHT]));
      }
      for (const line of unpricedNote(t)) out(line);
      for (const line of unknownNotes(t)) out(line);
    }
    if (r.subscriptionStatus.length > 0) {
      out('\nSubscription limits');
      out(statusTable(r.subscriptionStatus.map((b) => ({ ...b, provider: b.scopeId }))));
    }
    return 0;
  });
}
