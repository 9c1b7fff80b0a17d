/**
 * The SQLite ledger's layout: how its rows and rollups keep a record's figures, and the SQL that
 * reads them back. The migrations that build it, one per version, are in sqlite-migrations.ts.
 *
 * Time: a record's id is its timestamp in ms times 1024 plus a sequence number (0 to 1023), so
 * the table itself is in time order and a time range is a range of ids: no separate time column
 * or index. `id >> 10` is the timestamp. A writer takes the ids after a millisecond's last row in
 * turn (ids.ts); a burst of more than 1,024 records in one millisecond carries on into the next
 * ones, after their rows, so n records of one millisecond keep times within ceil(n / 1024) - 1 ms
 * of theirs (plus one per row already there), and the rollups count each at the time its row keeps.
 *
 * Space: repeated strings (provider, model, operation, user, thread, agent, key id, error type)
 * are stored once in `strings` and referenced by a small integer; costs are integer picodollars
 * (whole nanodollars kept as their negative, schema 9) and durations integer microseconds, so a
 * typical record is a few dozen bytes. Every column costs every row a header byte, NULL or not: the
 * fields most records leave empty share the `rare` JSON column, and a total that is input + output
 * is NULL (schema 9). Read rows through COST_SQL and TOTAL_TOKENS_SQL, rollups through
 * ROLLUP_LAYOUT. The `usage_records` view gives them back with their names, for anyone reading
 * the file with sqlite3.
 *
 * Rollups: `rollup_hour` sums every record by hour and the dimensions budgets and summaries group
 * by (provider, service type, model, operation, agent, key id); `rollup_user_day` the same by
 * user and day (per-user rows are many more, so they are kept per day), and `rollup_user_hour` by
 * hour and user (schema 4: the ragged ends of a user's range). 0 stands for "none" in their keys
 * (string ids start at 1). They are kept in the same transaction as the rows they sum, so they
 * never disagree with them.
 */
import { FIELD_LIST } from '../usage-fields.ts';
import { type RollupSums, rollupSums } from './rollup.ts';

/**
 * The figures each rollup_hour and rollup_user_day row keeps after its key, in column order (a
 * column each, as rollupSums gives them): every summary reads these whole, and sums of plain
 * columns read half again as fast as the decoding of a packed layout; they are small (under a byte
 * a record each at 1M records a month).
 */
const WIDE_COLUMNS = [
  'requests',
  'errors',
  'input_tokens',
  'output_tokens',
  'cached_input_tokens',
  'cache_write_tokens',
  'reasoning_tokens',
  'total_tokens',
  'cost_pico',
  'unpriced',
  'unsplit_cost_pico',
  'output_cost_nano',
  'input_tokens_unknown',
  'output_tokens_unknown',
  'cached_input_tokens_unknown',
  'cache_write_tokens_unknown',
  'reasoning_tokens_unknown',
  'total_tokens_unknown',
] as const;

/**
 * The figures each rollup_user_hour row keeps after its key, in column order (schema 9;
 * userHourValues gives a bucket's in this order): one row for every 2.3 records at 1M records a
 * month, read only a user's few hours at a time, so kept small. `total_tokens_delta` is the total less the input and the output (0 for
 * nearly every bucket: no bytes where the total took 2 to 4). `unknowns` is which of UNKNOWN_PARTS
 * every record of the bucket has (bit i: part i is the bucket's whole, else 0), or, when its records
 * differ, a JSON array of the eight figures: one column of a byte where they took eight columns.
 */
const USER_HOUR_COLUMNS = [
  'requests',
  'errors',
  'input_tokens',
  'output_tokens',
  'cached_input_tokens',
  'cache_write_tokens',
  'reasoning_tokens',
  'total_tokens_delta',
  'cost',
  'output_cost_nano',
  'unknowns',
] as const;

/**
 * The figures `unknowns` holds, in bit order, each with the whole it is when its bit is set: per
 * count, the records that did not report it; the unpriced records; the cost whose split is unknown.
 */
export const UNKNOWN_PARTS = [
  ['input_tokens_unknown', 'requests'],
  ['output_tokens_unknown', 'requests'],
  ['cached_input_tokens_unknown', 'requests'],
  ['cache_write_tokens_unknown', 'requests'],
  ['reasoning_tokens_unknown', 'requests'],
  ['total_tokens_unknown', 'requests'],
  ['unpriced', 'requests'],
  ['unsplit_cost_pico', 'cost'],
] as const;

/** A cost in picodollars from a `cost` column of schema 9 (`c`): picodollars, or whole nanodollars as their negative. */
const costOf = (c: string) => `(CASE WHEN ${c} < 0 THEN -${c} * 1000 ELSE ${c} END)`;
/** A cost in picodollars (`x`) as a `cost` column of schema 9 keeps it (storedCost). */
const costAs = (x: string) => `(CASE WHEN ${x} > 0 AND ${x} % 1000 = 0 THEN -(${x}) / 1000 ELSE ${x} END)`;

/** Part i of a rollup_user_hour row's `unknowns` (`prefix` names the row: '' or 'excluded.'). */
export function unknownPartSql(i: number, prefix = ''): string {
  const u = `${prefix}unknowns`;
  const part = (UNKNOWN_PARTS[i] as readonly [string, string])[1];
  const whole = part === 'cost' ? costOf(`${prefix}cost`) : `${prefix}${part}`;
  return `CASE WHEN typeof(${u}) = 'integer' THEN ((${u} >> ${i}) & 1) * ${whole} ELSE json_extract(${u}, '$[${i}]') END`;
}

/** A bucket's figures as a rollup_user_hour row keeps them, in USER_HOUR_COLUMNS' order. */
function userHourValues(s: RollupSums): (number | string)[] {
  const parts = [
    s.inputUnknown,
    s.outputUnknown,
    s.cachedUnknown,
    s.cacheWriteUnknown,
    s.reasoningUnknown,
    s.totalUnknown,
    s.unpriced,
    s.unsplitCost,
  ];
  let unknowns: number | string = 0;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as number;
    if (part === 0) continue;
    if (part === (i === 7 ? s.costPico : s.requests)) unknowns = (unknowns as number) | (1 << i);
    else {
      unknowns = JSON.stringify(parts);
      break;
    }
  }
  const { requests, errors, input, output, cached, cacheWrite, reasoning, total, costPico, outputCost } = s;
  return [
    requests,
    errors,
    input,
    output,
    cached,
    cacheWrite,
    reasoning,
    total - input - output,
    storedCost(costPico) as number,
    outputCost,
    unknowns,
  ];
}

/** Adds a batch's figures to a rollup_user_hour bucket (an upsert's conflict clause): `unknowns` stays a bit set while both agree. */
const USER_HOUR_ADD = `ON CONFLICT DO UPDATE SET ${USER_HOUR_COLUMNS.filter((c) => c !== 'unknowns' && c !== 'cost')
  .map((c) => `${c} = ${c} + excluded.${c}`)
  .join(
    ', ',
  )}, cost = ${costAs(`${costOf('cost')} + ${costOf('excluded.cost')}`)}, unknowns = CASE WHEN typeof(unknowns) = 'integer' AND unknowns = excluded.unknowns THEN unknowns
  ELSE json_array(${UNKNOWN_PARTS.map((_, i) => `${unknownPartSql(i)} + ${unknownPartSql(i, 'excluded.')}`).join(', ')}) END`;

/** The sums of rollup_user_hour rows, by the names RowSums reads. */
export const USER_HOUR_SUMS_SQL = [
  'SUM(requests) AS requests',
  'SUM(errors) AS errors',
  'SUM(input_tokens) AS input_tokens',
  'SUM(output_tokens) AS output_tokens',
  'SUM(cached_input_tokens) AS cached_input_tokens',
  'SUM(cache_write_tokens) AS cache_write_tokens',
  'SUM(reasoning_tokens) AS reasoning_tokens',
  'SUM(total_tokens_delta + input_tokens + output_tokens) AS total_tokens',
  `SUM(${costOf('cost')}) AS cost_pico`,
  'SUM(output_cost_nano) AS output_cost_nano',
  ...UNKNOWN_PARTS.map(([name], i) => `SUM(${unknownPartSql(i)}) AS ${name}`),
].join(', ');

/** How a rollup table keeps a bucket's figures. */
export interface RollupLayout {
  /** The columns after the key, in the order `values` gives them. */
  readonly columns: readonly string[];
  /** The upsert's conflict clause, adding a batch's figures to a bucket. */
  readonly add: string;
  /** The sums of rows, by the names RowSums reads. */
  readonly sums: string;
  values(s: RollupSums): (number | string)[];
}

const WIDE: RollupLayout = {
  columns: WIDE_COLUMNS,
  add: `ON CONFLICT DO UPDATE SET ${WIDE_COLUMNS.map((c) => `${c} = ${c} + excluded.${c}`).join(', ')}`,
  sums: WIDE_COLUMNS.map((c) => `SUM(${c}) AS ${c}`).join(', '),
  values: rollupSums,
};

/** Each rollup table's layout. */
export const ROLLUP_LAYOUT: Readonly<Record<string, RollupLayout>> = {
  rollup_hour: WIDE,
  rollup_user_day: WIDE,
  rollup_user_hour: { columns: USER_HOUR_COLUMNS, add: USER_HOUR_ADD, sums: USER_HOUR_SUMS_SQL, values: userHourValues },
};

/** The key columns of each rollup table, in the order RollupBuckets' keys hold them. */
export const ROLLUP_KEY_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  rollup_hour: ['hour', 'provider', 'service_type', 'model', 'operation', 'agent', 'api_key_id'],
  rollup_user_day: ['user_id', 'day', 'provider', 'service_type', 'model', 'agent'],
  rollup_user_hour: ['hour', 'user_id', 'provider', 'service_type', 'model', 'agent'],
};

/**
 * A record's cost in picodollars from a row of schema 9 or later (see migration 9): `cost` holds
 * picodollars, or a whole number of nanodollars as its negative (3 or 4 bytes where 6).
 */
export const COST_SQL = costOf('cost');

/** The `cost` a row of schema 9 keeps for a cost in picodollars (COST_SQL reads it back). */
export function storedCost(pico: number | null): number | null {
  return pico !== null && pico > 0 && pico % 1000 === 0 ? -(pico / 1000) : pico;
}

/** A record's total tokens from a row of schema 9 or later (see migration 9). */
export const TOTAL_TOKENS_SQL = 'NULLIF(IFNULL(total_tokens, input_tokens + output_tokens), -1)';

/** The `total_tokens` a row of schema 9 keeps for a record's counts (TOTAL_TOKENS_SQL reads it back). */
export function storedTotal(input: number | null, output: number | null, total: number | null): number | null {
  if (input === null || output === null) return total;
  if (total === null) return -1;
  return total === input + output ? null : total;
}

/** A row's total tokens as storedTotal kept it: the record's, null when unknown. */
export function totalOfRow(input: number | null, output: number | null, stored: number | null): number | null {
  if (stored === null) return input === null || output === null ? null : input + output;
  return stored === -1 ? null : stored;
}

/** Record fields schema 9 keeps in the `rare` JSON column beside the rare counts (most records have none of them). */
export const IN_RARE: ReadonlySet<string> = new Set(['request_model', 'error_type', 'error_message', 'metadata']);

/** A record field's stored form in `records`, as the view reads it (`r` is `records`, `s_<column>` a label's string). */
function sqliteViewColumn(kind: string, column: string, rare: boolean): string {
  if (rare || kind === 'text' || kind === 'json') return `json_extract(r.rare, '$.${column}') AS ${column}`;
  switch (kind) {
    case 'time':
      return `strftime('%Y-%m-%dT%H:%M:%fZ', (r.id >> 10) / 1000.0, 'unixepoch') AS ${column}`;
    case 'label':
      return `s_${column}.value AS ${column}`;
    case 'usd': {
      // The ledger keeps the cost and its output side (nanodollars); the input side is the one less the other.
      const cost = '(CASE WHEN r.cost < 0 THEN -r.cost * 1000 ELSE r.cost END)';
      if (column === 'output_cost_usd') return `r.output_cost_nano / 1e9 AS ${column}`;
      if (column === 'input_cost_usd') return `(${cost} - r.output_cost_nano * 1000) / 1e12 AS ${column}`;
      return `${cost} / 1e12 AS ${column}`;
    }
    case 'ms':
      return `r.duration_us / 1000.0 AS ${column}`;
    default:
      // Schema 9: NULL when it is the input plus the output, -1 when unknown beside both known.
      if (column === 'total_tokens') return `NULLIF(IFNULL(r.total_tokens, r.input_tokens + r.output_tokens), -1) AS ${column}`;
      return `r.${column}`;
  }
}

/**
 * The `usage_records` view, made from the table of record fields (usage-fields.ts): every field by
 * its export name, labels by their strings, rare counts out of the `rare` column. It holds no data,
 * so the store makes it anew whenever the table changes (a field added), without a migration.
 */
export function usageRecordsViewSql(): string {
  const cols = FIELD_LIST.map(([, f]) => sqliteViewColumn(f.kind, f.column, f.rare === true));
  const joins = FIELD_LIST.filter(([, f]) => f.kind === 'label').map(
    ([, f]) =>
      `LEFT JOIN strings s_${f.column} ON s_${f.column}.id = ${IN_RARE.has(f.column) ? `json_extract(r.rare, '$.${f.column}')` : `r.${f.column}`}`,
  );
  return `CREATE VIEW usage_records AS SELECT r.id, ${cols.join(', ')} FROM records r ${joins.join(' ')}`;
}
