import { existsSync, realpathSync } from 'node:fs';
import { hostname } from 'node:os';
import { ValidationError } from '../errors.ts';
import { ID_SCALE } from '../ledger/ids.ts';
import { isPostgresUrl, PostgresStore } from '../ledger/postgres.ts';
import { SqliteStore } from '../ledger/sqlite.ts';
import { bar, num } from '../reports/format.ts';
import type { UsageRecord } from '../usage.ts';
import { toJson } from './output.ts';

export interface MigrateArgs {
  /** The SQLite ledger file to copy from. */
  from: string;
  /** The PostgreSQL ledger to copy into (postgres://…). */
  to: string;
  json?: boolean | undefined;
}

/** Records copied per transaction. */
const BATCH = 5000;

/** What a migration did. */
export interface MigrateResult {
  from: string;
  to: string;
  /** Records copied by this run (0 when run again with nothing new). */
  copied: number;
  /** Records in the SQLite ledger, and records of it in PostgreSQL: equal when the copy is whole. */
  sourceRecords: number;
  copiedRecords: number;
}

/** A progress line on stderr, redrawn in place: only on a terminal (as `export` shows it). */
function progress(): ((done: number, total: number) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return (done, total) => {
    const share = total === 0 ? 1 : done / total;
    process.stderr.write(`\r${bar(share, 30)} ${num(done)} / ${num(total)} records${done >= total ? '\n' : ''}`);
  };
}

/**
 * Copies a SQLite ledger into PostgreSQL, records and rollups, in batches of BATCH records, each in
 * one transaction with how far the copy has come (by the SQLite ids, which only grow): a run cut
 * short carries on where it stopped, and a second run adds nothing (or only what was recorded to
 * the file since). Ends with a count check: the records of the file in PostgreSQL against the file's.
 */
export async function migrateLedger(from: string, to: string, onProgress?: (done: number, total: number) => void): Promise<MigrateResult> {
  if (!existsSync(from)) throw new ValidationError('--from', from, 'no such SQLite ledger file');
  if (!isPostgresUrl(to)) throw new ValidationError('--to', to.replace(/:[^:@/]*@/, ':***@'), 'must be a postgres:// or postgresql:// URL');
  // The file by where it is, on this machine: the key of its progress in PostgreSQL.
  const source = `sqlite:${hostname()}:${realpathSync(from)}`;
  const sqlite = new SqliteStore(from, { readonly: true });
  const pg = new PostgresStore(to);
  try {
    const sourceRecords = await sqlite.count({});
    const start = await pg.imported(source);
    let done = start.records;
    let copied = 0;
    let batch: (UsageRecord & { id: number })[] = [];
    onProgress?.(done, sourceRecords);
    // The records still to copy: those after the last id copied (ids are time order, so a range of time from there).
    for await (const r of sqlite.iterate({ since: Math.floor(Math.max(0, start.lastId) / ID_SCALE) })) {
      if (r.id <= start.lastId) continue;
      batch.push(r);
      if (batch.length === BATCH) {
        await pg.writeImport(batch, source, r.id);
        done += batch.length;
        copied += batch.length;
        batch = [];
        onProgress?.(done, sourceRecords);
      }
    }
    if (batch.length > 0) {
      await pg.writeImport(batch, source, (batch.at(-1) as { id: number }).id);
      done += batch.length;
      copied += batch.length;
      onProgress?.(done, sourceRecords);
    }
    const end = await pg.imported(source);
    return { from, to: pg.location, copied, sourceRecords, copiedRecords: end.records };
  } finally {
    sqlite.closeSync();
    await pg.close();
  }
}

/** `tokenmeter migrate --from <ledger.db> --to postgres://…`: 0 when the counts agree, 1 when they do not. */
export async function migrateCommand(args: MigrateArgs, out: (s: string) => void): Promise<number> {
  const onProgress = progress();
  const r = await migrateLedger(args.from, args.to, onProgress);
  const ok = r.copiedRecords === r.sourceRecords;
  if (args.json) out(toJson({ ...r, ok }));
  else {
    out(`Copied ${num(r.copied)} record${r.copied === 1 ? '' : 's'} from ${r.from} to ${r.to}.`);
    out(
      ok
        ? `Count check: ${num(r.sourceRecords)} records in the file, ${num(r.copiedRecords)} of them in PostgreSQL: all there.`
        : `Count check FAILED: ${num(r.sourceRecords)} records in the file, ${num(r.copiedRecords)} copied to PostgreSQL (records deleted from the file after an earlier run, or written by another tokenmeter meanwhile?).`,
    );
  }
  return ok ? 0 : 1;
}
