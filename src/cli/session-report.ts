import { formatCostReport } from '../reports/format.ts';
import { sessionStats } from '../reports/reports.ts';
import { noLedgerMessage, queryOf, type RangeArgs, rangeText, withLedger } from './ledger.ts';
import { toJson } from './output.ts';

export interface SessionReportArgs extends RangeArgs {
  /** A budget in USD to show utilisation against. */
  budget?: number | undefined;
  /** One run's calls (its id in metadata.run_id); the range is then all time unless given. */
  run?: string | undefined;
  dir?: string | undefined;
  json?: boolean | undefined;
}

/** `tokenmeter session-report`: the cost report of a session (the last 24 hours unless --since or --days says otherwise). */
export async function sessionReportCommand(args: SessionReportArgs, out: (s: string) => void): Promise<number> {
  const q = queryOf(args, args.run === undefined ? 1 : undefined);
  if (args.run !== undefined) q.runId = args.run;
  return withLedger(args, async (l) => {
    const stats = await sessionStats(l.store, args.budget === undefined ? q : { ...q, budgetUsd: args.budget });
    if (args.json) out(toJson(stats));
    else if (!l.exists) out(noLedgerMessage(l));
    else if (stats.calls === 0) out(`No usage ${rangeText(q)} in ${l.dir}.`);
    else out(formatCostReport(stats));
    return 0;
  });
}
