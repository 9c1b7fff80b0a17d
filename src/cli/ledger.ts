import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LedgerError } from '../errors.ts';
import { openLedgerUrl } from '../ledger/open.ts';
import { SqliteStore } from '../ledger/sqlite.ts';
import type { LedgerStore } from '../ledger/types.ts';
import { type ReportQuery, resolveQuery } from '../reports/query.ts';
import { resolveDir } from '../storage-dir.ts';

/** The ledger of a storage dir, opened for reading; a dir without one reads as an empty ledger. */
export interface OpenLedger {
  dir: string;
  file: string;
  /** False when the dir has no ledger yet. */
  exists: boolean;
  store: LedgerStore;
}

/** A ledger with nothing in it: what a dir without `ledger.db` holds, so that every report has its empty shape. */
const EMPTY: LedgerStore = {
  kind: 'empty',
  location: '',
  async write() {
    throw new LedgerError('(none)', 'the empty ledger cannot be written');
  },
  aggregate: async () => [],
  records: async () => [],
  async *iterate() {},
  count: async () => 0,
  span: async () => null,
  deleteBefore: async () => 0,
  close: async () => {},
};

/** Where a command reads: the storage dir (--dir) and, instead of its ledger.db, a PostgreSQL ledger (--ledger). */
export interface LedgerWhere {
  dir?: string | undefined;
  /** A postgres:// URL. @default $TOKENMETER_LEDGER_URL */
  ledger?: string | undefined;
}

/** The ledger URL a command was given (--ledger, else $TOKENMETER_LEDGER_URL), if any. */
export function ledgerUrlOf(where: LedgerWhere): string | undefined {
  const url = where.ledger ?? process.env.TOKENMETER_LEDGER_URL;
  return url === undefined || url === '' ? undefined : url;
}

/**
 * Opens the ledger a command reads, runs `fn` and closes it: the PostgreSQL ledger of --ledger or
 * $TOKENMETER_LEDGER_URL, else `<dir>/ledger.db` read-only (dir: the --dir option, else
 * $TOKENMETER_DIR, else ~/.tokenmeter). The CLI never makes a TokenMonitor to read: that would
 * start exporters and create a ledger where there was none.
 */
export async function withLedger<T>(where: string | undefined | LedgerWhere, fn: (ledger: OpenLedger) => Promise<T>): Promise<T> {
  const w: LedgerWhere = typeof where === 'object' ? where : { dir: where };
  const dir = resolveDir(w.dir);
  const url = ledgerUrlOf(w);
  if (url !== undefined) {
    const store = openLedgerUrl(url, '--ledger');
    try {
      return await fn({ dir, file: store.location, exists: true, store });
    } finally {
      await store.close();
    }
  }
  const file = join(dir, 'ledger.db');
  const exists = existsSync(file);
  const store = exists ? new SqliteStore(file, { readonly: true }) : EMPTY;
  try {
    return await fn({ dir, file, exists, store });
  } finally {
    await store.close();
  }
}

/** What a read command prints when the dir has no ledger. */
export function noLedgerMessage(l: OpenLedger): string {
  return `No usage recorded yet in ${l.dir}: there is no ledger (${l.file}). A TokenMonitor using this dir keeps its calls there; another dir can be read with --dir or $TOKENMETER_DIR.`;
}

/** A time as the tables show it: `2026-05-01 10:00 UTC`. */
export function shortTime(iso: string): string {
  return `${iso.slice(0, 16).replace('T', ' ')} UTC`;
}

/** The range a query covers, in words: `from 2026-04-01 10:00 UTC to 2026-05-01 10:00 UTC`. */
export function rangeText(q: ReportQuery): string {
  const f = resolveQuery(q);
  // No --until means now (the query's own "now" is a moment ago by the time this runs).
  const until = q.until === undefined ? 'now' : shortTime(new Date(f.until).toISOString());
  return f.since === undefined ? `up to ${until}` : `from ${shortTime(new Date(f.since).toISOString())} to ${until}`;
}

/** The options every range takes. */
export interface RangeArgs {
  /** A PostgreSQL ledger to read instead of the dir's ledger.db. */
  ledger?: string | undefined;
  days?: number | undefined;
  since?: number | undefined;
  until?: number | undefined;
  provider?: string | undefined;
}

/** The report query of a command's options; `defaultDays` applies when neither --days nor --since is given. */
export function queryOf(args: RangeArgs, defaultDays?: number): ReportQuery {
  const q: ReportQuery = {};
  if (args.provider !== undefined) q.provider = args.provider;
  if (args.since !== undefined) q.since = args.since;
  else if (args.days !== undefined) q.days = args.days;
  else if (defaultDays !== undefined) q.days = defaultDays;
  if (args.until !== undefined) q.until = args.until;
  return q;
}

// Option parsers for commander: a bad value becomes its one-line "option ... argument ... is invalid" error (exit 2).
