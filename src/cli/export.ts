import { resolve } from 'node:path';
import { type ExportFormat, exportRecords } from '../reports/export.ts';
import { bar, num } from '../reports/format.ts';
import { noLedgerMessage, queryOf, type RangeArgs, rangeText, withLedger } from './ledger.ts';

export interface ExportArgs extends RangeArgs {
  file: string;
  /** @default from the file's extension, else csv */
  format?: ExportFormat | undefined;
  dir?: string | undefined;
}

/** A progress line on stderr, redrawn in place: only on a terminal, so that logs and pipes stay clean. */
function progress(): ((done: number, total: number) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return (done, total) => {
    const share = total === 0 ? 1 : done / total;
    process.stderr.write(`\r${bar(share, 30)} ${num(done)} / ${num(total)} records${done >= total ? '\n' : ''}`);
  };
}

/** `tokenmeter export <file>`: the records of a range to a CSV or JSON file. */
export async function exportCommand(args: ExportArgs, out: (s: string) => void): Promise<number> {
  const q = queryOf(args);
  return withLedger(args, async (l) => {
    if (!l.exists) {
      out(noLedgerMessage(l));
      return 0;
    }
    const onProgress = progress();
    const r = await exportRecords(l.store, args.file, {
      ...q,
      ...(args.format === undefined ? {} : { format: args.format }),
      ...(onProgress === undefined ? {} : { onProgress }),
    });
    out(`Exported ${num(r.records)} record${r.records === 1 ? '' : 's'} ${rangeText(q)} to ${resolve(r.path)} (${r.format}).`);
    return 0;
  });
}
