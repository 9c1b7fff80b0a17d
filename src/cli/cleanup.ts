import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cleanup } from '../ledger/archive.ts';
import { openLedgerUrl } from '../ledger/open.ts';
import { SqliteStore } from '../ledger/sqlite.ts';
import { num } from '../reports/format.ts';
import { resolveDir } from '../storage-dir.ts';
import { ledgerUrlOf, shortTime } from './ledger.ts';
import { table, toJson } from './output.ts';

export interface CleanupArgs {
  days: number;
  dir?: string | undefined;
  /** A PostgreSQL ledger to clean up instead of the dir's ledger.db. */
  ledger?: string | undefined;
  json?: boolean | undefined;
}

/** Where cleanup writes its monthly archives, as `TokenMonitor.archiveDir`: `<dir>/archive`. */
export function archiveDirOf(dir: string): string {
  return join(dir, 'archive');
}

/** `tokenmeter cleanup -d <days>`: archives the records older than `days` whole days, then deletes them from the ledger. */
export async function cleanupCommand(args: CleanupArgs, out: (s: string) => void): Promise<number> {
  const dir = resolveDir(args.dir);
  const url = ledgerUrlOf(args);
  const file = url === undefined ? join(dir, 'ledger.db') : '';
  if (url === undefined && !existsSync(file)) {
    out(args.json ? toJson({ deleted: 0, cutoff: null, archives: [] }) : `No ledger in ${dir} (${file}): nothing to clean up.`);
    return 0;
  }
  // The one command that writes the ledger: opened read-write, beside any process recording to it.
  const store = url === undefined ? new SqliteStore(file) : openLedgerUrl(url, '--ledger');
  try {
    const r = await cleanup(store, archiveDirOf(dir), args.days);
    let note = '';
    if (r.deleted > 0 && store instanceof SqliteStore) {
      try {
        store.vacuum();
      } catch (error) {
        note = ` The file was not compacted (${(error as Error).message}); its free pages are reused.`;
      }
    }
    if (args.json) out(toJson(r));
    else if (r.deleted === 0) out(`Nothing before ${shortTime(r.cutoff)} to clean up in ${store.location}.`);
    else {
      out(`Archived and deleted ${num(r.deleted)} record${r.deleted === 1 ? '' : 's'} before ${shortTime(r.cutoff)}.${note}`);
      out(
        table(
          ['Month', 'Archive', 'Size'],
          r.archives.map((a) => [a.month, a.path, `${num(a.bytes)} bytes`]),
          [2],
        ),
      );
    }
    return 0;
  } finally {
    await store.close();
  }
}
