import { advise } from '../advice/advise.ts';
import type { AdviceQuery } from '../advice/types.ts';
import { configPrices, loadConfig, resolveDir } from '../config.ts';
import { PriceBook } from '../pricing/price-book.ts';
import { num, usd } from '../reports/format.ts';
import { noLedgerMessage, queryOf, type RangeArgs, rangeText, withLedger } from './ledger.ts';
import { toJson } from './output.ts';

export interface AdviseArgs extends RangeArgs {
  /** Leave out items worth less than this over the range (USD). @default 1 */
  minUsd?: number | undefined;
  dir?: string | undefined;
  json?: boolean | undefined;
}

/** `tokenmeter advise`: what the ledger says could be saved, largest first, over the last 30 days (or --since/--until). */
export async function adviseCommand(args: AdviseArgs, out: (s: string) => void): Promise<number> {
  const q: AdviceQuery = queryOf(args, 30);
  if (args.minUsd !== undefined) q.minUsd = args.minUsd;
  // The prices the ledger was priced with: the bundled data and the dir's config.json "pricing".
  const prices = new PriceBook({ configPrices: configPrices(loadConfig(resolveDir(args.dir))) });
  return withLedger(args.dir, async (l) => {
    const a = await advise(l.store, (provider, model) => prices.resolve(provider, model), q);
    if (args.json) {
      out(toJson(a));
      return 0;
    }
    if (!l.exists) {
      out(noLedgerMessage(l));
      return 0;
    }
    out(`Advice ${rangeText(q)}: ${num(a.calls)} calls, ${usd(a.costUsd)}.`);
    if (a.thin !== null) {
      out(`No advice: ${a.thin}`);
      return 0;
    }
    if (a.items.length === 0) out(`Nothing worth ${usd(a.minUsd)} or more to change.`);
    for (const [i, it] of a.items.entries()) {
      const w = it.where;
      const agents = w.agents.filter((x) => x !== null);
      out('');
      out(`${i + 1}. ${usd(it.usd)} over the range, ${usd(it.usdPerMonth)} a month at the current rate${it.estimate ? ' (estimate)' : ''}`);
      out(`   ${it.title}: ${w.provider} ${w.model}, operation ${w.operation}${agents.length > 0 ? `, agent ${agents.join(', ')}` : ''}`);
      out(`   ${it.summary}`);
      out(`   Do: ${it.action}`);
      if (it.examples !== undefined && it.examples.length > 0)
        out(
          `   Examples (record ids): ${it.examples.map((e) => `${e.id ?? '?'} (${num(e.inputTokens ?? 0)} in, ${e.timestamp})`).join(', ')}`,
        );
      if (it.source !== undefined) out(`   Source: ${it.source}`);
    }
    if (a.omitted.items > 0) out(`\n${a.omitted.items} more worth ${usd(a.omitted.usd)} in all, each under ${usd(a.minUsd)} (--min-usd).`);
    if (!a.scanned.complete)
      out(`Per-call figures from ${num(a.scanned.calls)} of the ${num(a.calls)} calls, scaled to each operation's calls.`);
    if (a.notJudged.groups > 0)
      out(`${a.notJudged.groups} model and operation pairs (${num(a.notJudged.calls)} calls) had too few calls to judge.`);
    if (a.items.length > 1) out('Items overlap (a cheaper model also shrinks what caching saves): they do not add up.');
    return 0;
  });
}
