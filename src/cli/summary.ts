import { num } from '../reports/format.ts';
import { summary } from '../reports/reports.ts';
import { BY } from './args.ts';
import { noLedgerMessage, queryOf, type RangeArgs, rangeText, withLedger } from './ledger.ts';
import { label, shareHead, TOTALS_HEAD, TOTALS_RIGHT, table, toJson, totalsCells, unknownNotes, unpricedNote } from './output.ts';

export interface SummaryArgs extends RangeArgs {
  /** One of the keys of {@link BY}. @default provider */
  by?: string | undefined;
  dir?: string | undefined;
  json?: boolean | undefined;
}

/** `tokenmeter summary`: totals grouped by one dimension over the last 30 days (or --since/--until). */
export async function summaryCommand(args: SummaryArgs, out: (s: string) => void): Promise<number> {
  const byName = args.by ?? 'provider';
  const q = queryOf(args, 30);
  return withLedger(args, async (l) => {
    const s = await summary(l.store, { ...q, by: BY[byName] ?? 'provider' });
    if (args.json) out(toJson(s));
    else if (!l.exists) out(noLedgerMessage(l));
    else if (s.rows.length === 0)
      out(`No usage ${rangeText(q)}${args.provider === undefined ? '' : ` for provider ${args.provider}`} in ${l.dir}.`);
    else {
      const head = [byName, ...TOTALS_HEAD, shareHead(s.total)];
      const rows = s.rows.map((r) => [label(r.key), ...totalsCells(r, r.share)]);
      rows.push(['Total', ...totalsCells(s.total, 1)]);
      out(`Usage by ${byName}, ${rangeText(q)}${args.provider === undefined ? '' : `, provider ${args.provider}`}`);
      out(table(head, rows, [...TOTALS_RIGHT]));
      if (s.total.errors > 0) out(`${num(s.total.errors)} of the ${num(s.total.requests)} requests failed.`);
      for (const line of unpricedNote(s.total)) out(line);
      for (const line of unknownNotes(s.total)) out(line);
    }
    return 0;
  });
}
