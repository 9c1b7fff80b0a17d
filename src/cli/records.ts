import { num, usd } from '../reports/format.ts';
import { records } from '../reports/reports.ts';
import type { UsageRecord } from '../usage.ts';
import { noLedgerMessage, queryOf, type RangeArgs, rangeText, shortTime, withLedger } from './ledger.ts';
import { label, table, toJson } from './output.ts';

export interface RecordsArgs extends RangeArgs {
  /** @default 20 */
  limit?: number | undefined;
  user?: string | undefined;
  thread?: string | undefined;
  run?: string | undefined;
  /** Only the failed calls. */
  errors?: boolean | undefined;
  dir?: string | undefined;
  json?: boolean | undefined;
}

const count = (n: number | null) => (n === null ? '?' : num(n));

function row(r: UsageRecord): string[] {
  return [
    shortTime(new Date(r.timestamp).toISOString()).slice(0, -4),
    r.provider,
    r.model,
    r.operation,
    label(r.userId),
    label(r.threadId),
    label(r.agent),
    count(r.inputTokens),
    count(r.outputTokens),
    r.costUsd === null ? 'unpriced' : usd(r.costUsd),
    r.error ? (r.errorType ?? 'error') : 'ok',
  ];
}

/** `tokenmeter records`: the newest records, newest first. */
export async function recordsCommand(args: RecordsArgs, out: (s: string) => void): Promise<number> {
  const q = queryOf(args);
  if (args.user !== undefined) q.userId = args.user;
  if (args.thread !== undefined) q.threadId = args.thread;
  if (args.run !== undefined) q.runId = args.run;
  return withLedger(args, async (l) => {
    const rs = await records(l.store, { ...q, limit: args.limit ?? 20, errors: args.errors === true });
    if (args.json) out(toJson(rs));
    else if (!l.exists) out(noLedgerMessage(l));
    else if (rs.length === 0) out(`No ${args.errors ? 'failed calls' : 'records'} ${rangeText(q)} matching the filters in ${l.dir}.`);
    else {
      out(
        table(
          ['Time (UTC)', 'Provider', 'Model', 'Operation', 'User', 'Thread', 'Agent', 'Input', 'Output', 'Cost', 'Status'],
          rs.map(row),
          [7, 8, 9],
        ),
      );
      out(`${num(rs.length)} newest record${rs.length === 1 ? '' : 's'}${args.limit === undefined ? ' (-n for more)' : ''}.`);
    }
    return 0;
  });
}
