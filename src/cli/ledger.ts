import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { resolveDir } from '../config.ts';
import { LedgerError } from '../errors.ts';
import { SqliteStore } from '../ledger/sqlite.ts';
import type { LedgerStore } from '../ledger/types.ts';
import { type ReportQuery, resolveQuery } from '../reports/query.ts';

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

/**
 * Opens `<dir>/ledger.db` read-only (dir: the --dir option, else $TOKENMETER_DIR, else
 * ~/.tokenmeter), runs `fn` and closes it. The CLI never makes a TokenMonitor to read: that would
 * start exporters and create a ledger where there was none.
 */
export async function withLedger<T>(dirOption: string | undefined, fn: (ledger: OpenLedger) => Promise<T>): Promise<T> {
  const dir = resolveDir(dirOption);
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

/** `--days`: a positive number, fractions allowed. */
export function parseDays(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('It must be a positive number of days.');
  return n;
}

/** A positive whole number (`--limit`). */
export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError('It must be a positive whole number.');
  return n;
}

/** A non-negative amount of USD (`--budget`). */
export function parseUsd(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('It must be a non-negative amount in USD.');
  return n;
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
/** ISO 8601 as people type it: a date, or a date and time with an optional zone (none means UTC). */
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

function parseTime(value: string): number {
  const m = ISO.exec(value.trim());
  // Date.parse alone takes "1" for 2001 and 2026-02-30 for March 2nd.
  const ms = m === null ? Number.NaN : Date.parse(m[4] === undefined || m[7] !== undefined ? value.trim() : `${value.trim()}Z`);
  const day = m === null ? '' : `${m[1]}-${m[2]}-${m[3]}`;
  if (!Number.isFinite(ms) || (m?.[7] === undefined && new Date(ms).toISOString().slice(0, 10) !== day)) {
    throw new InvalidArgumentError('It must be a date (2026-05-01) or an ISO 8601 time (2026-05-01T10:00:00Z).');
  }
  return ms;
}

/** `--since`: a date (its start, UTC) or an ISO 8601 time, inclusive. */
export function parseSince(value: string): number {
  return parseTime(value);
}

/** `--until`: a date, that whole day included (UTC), or an ISO 8601 time, exclusive. */
export function parseUntil(value: string): number {
  return parseTime(value) + (DATE_ONLY.test(value) ? 86_400_000 : 0);
}
