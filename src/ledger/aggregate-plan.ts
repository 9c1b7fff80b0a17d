import { COLUMN, DAY_MS, ROLLUP_HOUR, ROLLUP_USER_DAY, ROLLUP_USER_HOUR, type Rollup } from './rollup.ts';
import type { Dimension, LedgerFilter } from './types.ts';

/**
 * How an aggregate is read, the same for both stores (each runs the reads in its own SQL): which
 * rollup answers, which whole buckets come from it, and which ragged ends from the rows. Every
 * read's sums are added to the answer (or taken away: `sign` -1), so the reads are independent
 * (PostgreSQL runs them at once on connections of their own).
 */
export type AggregateRead =
  /** The rows of `records` the filter selects. */
  | { from: 'records'; filter: LedgerFilter; sign: 1 | -1 }
  /**
   * Whole buckets of `rollup` over the filter's range (aligned to them, either end open); `noUser`:
   * every bucket counted as if its records had no user (grouped by user, the records without one
   * are all records less those with one).
   */
  | { from: 'rollup'; rollup: Rollup; filter: LedgerFilter; sign: 1 | -1; noUser: boolean };

/**
 * The reads that answer `filter` grouped by `by`. `rowsOnly`: the rollups cannot answer (a SQLite
 * ledger of an older schema read without migrating it).
 *
 * Grouped or filtered by dimensions of rollup_hour alone, its whole hours answer; by user, whole
 * days from rollup_user_day, the ragged ends' whole hours from rollup_user_hour, and only what is
 * left of an hour at each end from the rows. A run (metadata.run_id) is read from the rows.
 */
export function planAggregate(filter: LedgerFilter, by: readonly Dimension[], rowsOnly = false): AggregateRead[] {
  const reads: AggregateRead[] = [];
  const asked = [...by, ...(Object.keys(COLUMN) as (keyof typeof COLUMN)[]).filter((f) => filter[f] !== undefined)];
  const withUser = filter.withUser === true;
  const rollup =
    filter.runId !== undefined || rowsOnly
      ? undefined
      : !withUser && asked.every((d) => ROLLUP_HOUR.dims.has(d))
        ? ROLLUP_HOUR
        : (filter.userId !== undefined || withUser || by.includes('userId')) && asked.every((d) => ROLLUP_USER_DAY.dims.has(d))
          ? ROLLUP_USER_DAY
          : undefined;
  const records = (f: LedgerFilter, sign: 1 | -1 = 1) => reads.push({ from: 'records', filter: f, sign });

  /** The sums of `r` over a range aligned to its buckets (either end open). */
  const fromRollup = (f: LedgerFilter, r: Rollup) => {
    if (f.since !== undefined && f.since === f.until) return;
    reads.push({ from: 'rollup', rollup: r, filter: f, sign: 1, noUser: false });
    if (r !== ROLLUP_HOUR && f.userId === undefined && f.withUser !== true) {
      // Grouped by user: the users' rollups hold only the records with a user; those without one
      // are all records (rollup_hour, over the same whole buckets) less those with one.
      reads.push({ from: 'rollup', rollup: ROLLUP_HOUR, filter: f, sign: 1, noUser: true });
      reads.push({ from: 'rollup', rollup: r, filter: f, sign: -1, noUser: true });
    }
  };

  /**
   * Whole buckets of `r` from it, the ragged ends of the range from the rows. An end longer than
   * half a bucket is read as its whole bucket less the rows outside the range: at most half a
   * bucket of rows at each end, and none at all for a range that ends now.
   */
  const buckets = (f: LedgerFilter, r: Rollup) => {
    const { since, until } = f;
    const unit = r.unitMs;
    const first = since === undefined ? undefined : Math.ceil(since / unit) * unit;
    const last = until === undefined ? undefined : Math.floor(until / unit) * unit;
    if (first !== undefined && last !== undefined && first > last) {
      records(f);
      return;
    }
    const headOut = since !== undefined && first !== undefined && first - since > unit / 2;
    const tailOut = until !== undefined && last !== undefined && until - last > unit / 2;
    const lo = headOut ? (first as number) - unit : first;
    const hi = tailOut ? (last as number) + unit : last;
    fromRollup({ ...f, since: lo, until: hi }, r);
    if (since !== undefined && first !== undefined && since < first) {
      if (headOut) records({ ...f, since: lo, until: since }, -1);
      else records({ ...f, until: first });
    }
    if (until !== undefined && last !== undefined && until > last) {
      if (tailOut) records({ ...f, since: until, until: hi }, -1);
      else records({ ...f, since: last });
    }
  };

  if (rollup === undefined) records(filter);
  else if (rollup === ROLLUP_HOUR) buckets(filter, ROLLUP_HOUR);
  else {
    const { since, until } = filter;
    const first = since === undefined ? undefined : Math.ceil(since / DAY_MS) * DAY_MS;
    const last = until === undefined ? undefined : Math.floor(until / DAY_MS) * DAY_MS;
    if (first !== undefined && last !== undefined && first > last) buckets(filter, ROLLUP_USER_HOUR);
    else {
      fromRollup({ ...filter, since: first, until: last }, ROLLUP_USER_DAY);
      if (since !== undefined && first !== undefined && since < first) buckets({ ...filter, until: first }, ROLLUP_USER_HOUR);
      if (until !== undefined && last !== undefined && until > last) buckets({ ...filter, since: last }, ROLLUP_USER_HOUR);
    }
  }
  return reads;
}
