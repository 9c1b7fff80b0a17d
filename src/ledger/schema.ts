/**
 * The SQLite ledger's schema, one migration per version (PRAGMA user_version). A migration only
 * ever adds: a ledger written by an older tokenmeter opens in a newer one, never the reverse.
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
 * Each migration's SQL is written out in full, never built from constants: a shipped migration must
 * stay exactly as it ran.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE strings (id INTEGER PRIMARY KEY, value TEXT NOT NULL UNIQUE);
  CREATE TABLE records (
    id INTEGER PRIMARY KEY,
    provider INTEGER NOT NULL,
    service_type INTEGER NOT NULL,
    model INTEGER NOT NULL,
    request_model INTEGER,
    operation INTEGER NOT NULL,
    input_tokens INTEGER,
    output_tokens INTEGER,
    cached_input_tokens INTEGER,
    cache_write_tokens INTEGER,
    reasoning_tokens INTEGER,
    total_tokens INTEGER,
    search_units INTEGER,
    cost_pico INTEGER,
    api_key_id INTEGER,
    user_id INTEGER,
    thread_id INTEGER,
    agent INTEGER,
    duration_us INTEGER,
    error INTEGER NOT NULL,
    error_type INTEGER,
    error_message TEXT,
    metadata TEXT
  );
  CREATE INDEX records_thread ON records (thread_id) WHERE thread_id IS NOT NULL;
  CREATE TABLE rollup_hour (
    hour INTEGER NOT NULL,
    provider INTEGER NOT NULL,
    service_type INTEGER NOT NULL,
    model INTEGER NOT NULL,
    operation INTEGER NOT NULL,
    agent INTEGER NOT NULL,
    api_key_id INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cached_input_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    total_tokens INTEGER NOT NULL,
    cost_pico INTEGER NOT NULL,
    unpriced INTEGER NOT NULL,
    PRIMARY KEY (hour, provider, service_type, model, operation, agent, api_key_id)
  ) WITHOUT ROWID;
  CREATE TABLE rollup_user_day (
    user_id INTEGER NOT NULL,
    day INTEGER NOT NULL,
    provider INTEGER NOT NULL,
    service_type INTEGER NOT NULL,
    model INTEGER NOT NULL,
    agent INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cached_input_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    total_tokens INTEGER NOT NULL,
    cost_pico INTEGER NOT NULL,
    unpriced INTEGER NOT NULL,
    PRIMARY KEY (user_id, day, provider, service_type, model, agent)
  ) WITHOUT ROWID;
  CREATE VIEW usage_records AS
  SELECT r.id,
    strftime('%Y-%m-%dT%H:%M:%fZ', (r.id >> 10) / 1000.0, 'unixepoch') AS timestamp,
    p.value AS provider, st.value AS service_type, m.value AS model, rm.value AS request_model, o.value AS operation,
    r.input_tokens, r.output_tokens, r.cached_input_tokens, r.cache_write_tokens, r.reasoning_tokens, r.total_tokens,
    r.search_units, r.cost_pico / 1e12 AS cost_usd, k.value AS api_key_id, u.value AS user_id, t.value AS thread_id,
    a.value AS agent, r.duration_us / 1000.0 AS duration_ms, r.error, et.value AS error_type, r.error_message, r.metadata
  FROM records r
  JOIN strings p ON p.id = r.provider
  JOIN strings st ON st.id = r.service_type
  JOIN strings m ON m.id = r.model
  JOIN strings o ON o.id = r.operation
  LEFT JOIN strings rm ON rm.id = r.request_model
  LEFT JOIN strings k ON k.id = r.api_key_id
  LEFT JOIN strings u ON u.id = r.user_id
  LEFT JOIN strings t ON t.id = r.thread_id
  LEFT JOIN strings a ON a.id = r.agent
  LEFT JOIN strings et ON et.id = r.error_type;
  `,
  // 2: one-hour cache writes (Anthropic), billed at their own rate, kept beside all cache writes;
  // web searches a provider ran for the call, billed per search.
  `
  ALTER TABLE records ADD COLUMN cache_write_1h_tokens INTEGER;
  ALTER TABLE records ADD COLUMN web_searches INTEGER;
  DROP VIEW usage_records;
  CREATE VIEW usage_records AS
  SELECT r.id,
    strftime('%Y-%m-%dT%H:%M:%fZ', (r.id >> 10) / 1000.0, 'unixepoch') AS timestamp,
    p.value AS provider, st.value AS service_type, m.value AS model, rm.value AS request_model, o.value AS operation,
    r.input_tokens, r.output_tokens, r.cached_input_tokens, r.cache_write_tokens, r.cache_write_1h_tokens, r.reasoning_tokens,
    r.total_tokens, r.search_units, r.web_searches, r.cost_pico / 1e12 AS cost_usd, k.value AS api_key_id, u.value AS user_id,
    t.value AS thread_id, a.value AS agent, r.duration_us / 1000.0 AS duration_ms, r.error, et.value AS error_type,
    r.error_message, r.metadata
  FROM records r
  JOIN strings p ON p.id = r.provider
  JOIN strings st ON st.id = r.service_type
  JOIN strings m ON m.id = r.model
  JOIN strings o ON o.id = r.operation
  LEFT JOIN strings rm ON rm.id = r.request_model
  LEFT JOIN strings k ON k.id = r.api_key_id
  LEFT JOIN strings u ON u.id = r.user_id
  LEFT JOIN strings t ON t.id = r.thread_id
  LEFT JOIN strings a ON a.id = r.agent
  LEFT JOIN strings et ON et.id = r.error_type;
  `,
  // 3: audio tokens (of the input, of the cached input, of the output) and image output tokens,
  // which audio and image models bill at their own rates.
  `
  ALTER TABLE records ADD COLUMN input_audio_tokens INTEGER;
  ALTER TABLE records ADD COLUMN cached_audio_tokens INTEGER;
  ALTER TABLE records ADD COLUMN output_audio_tokens INTEGER;
  ALTER TABLE records ADD COLUMN output_image_tokens INTEGER;
  DROP VIEW usage_records;
  CREATE VIEW usage_records AS
  SELECT r.id,
    strftime('%Y-%m-%dT%H:%M:%fZ', (r.id >> 10) / 1000.0, 'unixepoch') AS timestamp,
    p.value AS provider, st.value AS service_type, m.value AS model, rm.value AS request_model, o.value AS operation,
    r.input_tokens, r.output_tokens, r.cached_input_tokens, r.cache_write_tokens, r.cache_write_1h_tokens,
    r.input_audio_tokens, r.cached_audio_tokens, r.output_audio_tokens, r.output_image_tokens, r.reasoning_tokens,
    r.total_tokens, r.search_units, r.web_searches, r.cost_pico / 1e12 AS cost_usd, k.value AS api_key_id, u.value AS user_id,
    t.value AS thread_id, a.value AS agent, r.duration_us / 1000.0 AS duration_ms, r.error, et.value AS error_type,
    r.error_message, r.metadata
  FROM records r
  JOIN strings p ON p.id = r.provider
  JOIN strings st ON st.id = r.service_type
  JOIN strings m ON m.id = r.model
  JOIN strings o ON o.id = r.operation
  LEFT JOIN strings rm ON rm.id = r.request_model
  LEFT JOIN strings k ON k.id = r.api_key_id
  LEFT JOIN strings u ON u.id = r.user_id
  LEFT JOIN strings t ON t.id = r.thread_id
  LEFT JOIN strings a ON a.id = r.agent
  LEFT JOIN strings et ON et.id = r.error_type;
  `,
  // 4: a user's usage, and a run's, without reading every row of the range. A user's usage read
  // whole days from rollup_user_day and the ragged first and last days from the rows: at 10M
  // records a third of a million rows a day, to find one user's few thousand. rollup_user_hour
  // keeps the same sums by hour, keyed hour first: a batch's buckets land at the end of its B-tree
  // (an index on records' user_id instead touched one page per user in every batch, writes 1.7 to
  // 2.7 times slower and some 18 bytes a record), and one user's few hours are one seek each. The
  // ragged ends then read only what is left of an hour from the rows. It is filled from the records
  // already there. Its cost is a bucket (~40 bytes) per user, model and agent active in an hour: some
  // 20 bytes a record at 1M records a month (2.3 records a bucket), 0.6 at 70k records an hour; 200k
  // records written in 1,000-record batches ~13% slower than without it (the index: ~50% slower).
  // Runs (metadata.run_id) have no rollup: their index holds only rows with metadata.
  `
  CREATE TABLE rollup_user_hour (
    hour INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    provider INTEGER NOT NULL,
    service_type INTEGER NOT NULL,
    model INTEGER NOT NULL,
    agent INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cached_input_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    total_tokens INTEGER NOT NULL,
    cost_pico INTEGER NOT NULL,
    unpriced INTEGER NOT NULL,
    PRIMARY KEY (hour, user_id, provider, service_type, model, agent)
  ) WITHOUT ROWID;
  INSERT INTO rollup_user_hour
  SELECT (id >> 10) / 3600000, user_id, provider, service_type, model, IFNULL(agent, 0),
    COUNT(*), SUM(error), IFNULL(SUM(input_tokens), 0), IFNULL(SUM(output_tokens), 0), IFNULL(SUM(cached_input_tokens), 0),
    IFNULL(SUM(cache_write_tokens), 0), IFNULL(SUM(reasoning_tokens), 0), IFNULL(SUM(total_tokens), 0),
    IFNULL(SUM(cost_pico), 0), SUM(cost_pico IS NULL)
  FROM records WHERE user_id IS NOT NULL
  GROUP BY 1, 2, 3, 4, 5, 6;
  CREATE INDEX records_run ON records (json_extract(metadata, '$.run_id')) WHERE metadata IS NOT NULL;
  `,
  // 5: what Alertmanager sent to `POST /v1/alertmanager` (notifications.ts). A row per notification
  // (who sent it, its group, how many alerts it carried), and a row per alert, keyed by Alertmanager's
  // fingerprint and its start: the notifications that repeat or resolve it update that row, so an
  // alert re-sent every repeat_interval is one row. Times are epoch ms; label sets are JSON objects.
  `
  CREATE TABLE alertmanager_notifications (
    id INTEGER PRIMARY KEY,
    received_at INTEGER NOT NULL,
    receiver TEXT NOT NULL,
    status TEXT NOT NULL,
    group_key TEXT NOT NULL,
    group_labels TEXT NOT NULL,
    common_labels TEXT NOT NULL,
    common_annotations TEXT NOT NULL,
    external_url TEXT NOT NULL,
    alerts INTEGER NOT NULL,
    truncated_alerts INTEGER NOT NULL
  );
  CREATE TABLE alertmanager_alerts (
    fingerprint TEXT NOT NULL,
    starts_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    ends_at INTEGER,
    labels TEXT NOT NULL,
    annotations TEXT NOT NULL,
    generator_url TEXT NOT NULL,
    receiver TEXT NOT NULL,
    group_key TEXT NOT NULL,
    first_received_at INTEGER NOT NULL,
    last_received_at INTEGER NOT NULL,
    notifications INTEGER NOT NULL,
    last_notification INTEGER NOT NULL,
    PRIMARY KEY (fingerprint, starts_at)
  ) WITHOUT ROWID;
  CREATE INDEX alertmanager_alerts_received ON alertmanager_alerts (last_received_at);
  `,
  // 6: the rare counts (one-hour cache writes, audio, image output, search units, web searches),
  // which most records leave empty, move from a column each to one nullable JSON column `rare`
  // holding only those a record has (rare.ts): in SQLite every column costs every row a header
  // byte, NULL or not, and a new rare count now needs no column. The table is rebuilt once (one
  // copy, not one per dropped column); the usage_records view is made from the table of record
  // fields after the migrations (usageRecordsViewSql).
  //
  // And a thread's rows are found through the minutes it had calls in (thread_minutes), not an
  // index entry per row: the index on thread_id held the row's 8-byte id for every record (19
  // bytes a record); a (thread, minute) pair is some 13 bytes for all of that thread's calls of the
  // minute, and the minute's rows (23 at 1M records a month, 230 at 10M) are read by their ids.
  `
  DROP VIEW usage_records;
  CREATE TABLE records_v6 (
    id INTEGER PRIMARY KEY,
    provider INTEGER NOT NULL,
    service_type INTEGER NOT NULL,
    model INTEGER NOT NULL,
    request_model INTEGER,
    operation INTEGER NOT NULL,
    input_tokens INTEGER,
    output_tokens INTEGER,
    cached_input_tokens INTEGER,
    cache_write_tokens INTEGER,
    reasoning_tokens INTEGER,
    total_tokens INTEGER,
    cost_pico INTEGER,
    api_key_id INTEGER,
    user_id INTEGER,
    thread_id INTEGER,
    agent INTEGER,
    duration_us INTEGER,
    error INTEGER NOT NULL,
    error_type INTEGER,
    error_message TEXT,
    metadata TEXT,
    rare TEXT
  );
  INSERT INTO records_v6
  SELECT id, provider, service_type, model, request_model, operation, input_tokens, output_tokens, cached_input_tokens,
    cache_write_tokens, reasoning_tokens, total_tokens, cost_pico, api_key_id, user_id, thread_id, agent, duration_us,
    error, error_type, error_message, metadata,
    NULLIF(json_patch('{}', json_object('cache_write_1h_tokens', cache_write_1h_tokens, 'input_audio_tokens', input_audio_tokens,
      'cached_audio_tokens', cached_audio_tokens, 'output_audio_tokens', output_audio_tokens, 'output_image_tokens', output_image_tokens,
      'search_units', search_units, 'web_searches', web_searches)), '{}')
  FROM records ORDER BY id;
  DROP TABLE records;
  ALTER TABLE records_v6 RENAME TO records;
  CREATE TABLE thread_minutes (
    thread_id INTEGER NOT NULL,
    minute INTEGER NOT NULL,
    PRIMARY KEY (thread_id, minute)
  ) WITHOUT ROWID;
  INSERT INTO thread_minutes SELECT DISTINCT thread_id, (id >> 10) / 60000 FROM records WHERE thread_id IS NOT NULL ORDER BY 1, 2;
  CREATE INDEX records_run ON records (json_extract(metadata, '$.run_id')) WHERE metadata IS NOT NULL;
  `,
  // 7: a record's cost split into its input and output sides (ASTRA's input_cost / output_cost).
  // `records` keeps the output side (output_cost_pico) and the input side is the cost less it, so
  // the two always add up to the cost; NULL when the split is unknown, which it is for every row
  // written before (never a made-up 0). The rollups sum both sides over the records whose split is
  // known (the cost less both is the part not split), and count per token count the records that
  // did not report it, so that a summary says a count is unknown instead of showing 0. Those counts
  // are filled from the rows already there (the rollups hold no bucket whose rows were deleted).
  // The rollups keep the cost not split rather than the input side: 0 in nearly every bucket, a
  // byte where the input side took seven (the input side is the cost less the other two).
  `
  ALTER TABLE records ADD COLUMN output_cost_pico INTEGER;
  ALTER TABLE rollup_hour ADD COLUMN unsplit_cost_pico INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE rollup_hour ADD COLUMN output_cost_pico INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE rollup_hour ADD COLUMN input_tokens_unknown INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE rollup_hour ADD COLUMN output_tokens_unknown INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE rollup_hour ADD COLUMN cached_input_tokens_unknown INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE rollup_hour ADD COLUMN cache_write_tokens_unknown INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE rollup_hour ADD COLUMN reasoning_tokens_unknown INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE rollup_hour ADD COLUMN total_tokens_unknown INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE rollup_user_day ADD COLUMN unsplit_cost_pico INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE rollup_user_day ADD COLUMN output_cost_pico INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE rollup_user_day ADD COLUMN input_tokens_unknown INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE rollup_user_day ADD COLUMN output_tokens_unknown INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE rollup_user_day ADD COLUMN cached_input_tokens_unknown INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE rollup_user_day ADD COLUMN cache_write_tokens_unknown INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE rollup_user_day ADD COLUMN reasoning_tokens_unknown INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE rollup_user_day ADD COLUMN total_tokens_unknown INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE rollup_user_hour ADD COLUMN unsplit_cost_pico INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE rollup_user_hour ADD COLUMN output_cost_pico INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE rollup_user_hour ADD COLUMN input_tokens_unknown INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE rollup_user_hour ADD COLUMN output_tokens_unknown INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE rollup_user_hour ADD COLUMN cached_input_tokens_unknown INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE rollup_user_hour ADD COLUMN cache_write_tokens_unknown INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE rollup_user_hour ADD COLUMN reasoning_tokens_unknown INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE rollup_user_hour ADD COLUMN total_tokens_unknown INTEGER NOT NULL DEFAULT 0;
  UPDATE rollup_hour SET unsplit_cost_pico = cost_pico;
  UPDATE rollup_user_day SET unsplit_cost_pico = cost_pico;
  UPDATE rollup_user_hour SET unsplit_cost_pico = cost_pico;
  UPDATE rollup_hour SET input_tokens_unknown = x.i, output_tokens_unknown = x.o, cached_input_tokens_unknown = x.c,
    cache_write_tokens_unknown = x.w, reasoning_tokens_unknown = x.r, total_tokens_unknown = x.t
  FROM (SELECT (id >> 10) / 3600000 AS hour, provider, service_type, model, operation, IFNULL(agent, 0) AS agent,
      IFNULL(api_key_id, 0) AS api_key_id, SUM(input_tokens IS NULL) AS i, SUM(output_tokens IS NULL) AS o,
      SUM(cached_input_tokens IS NULL) AS c, SUM(cache_write_tokens IS NULL) AS w, SUM(reasoning_tokens IS NULL) AS r,
      SUM(total_tokens IS NULL) AS t
    FROM records GROUP BY 1, 2, 3, 4, 5, 6, 7) AS x
  WHERE rollup_hour.hour = x.hour AND rollup_hour.provider = x.provider AND rollup_hour.service_type = x.service_type
    AND rollup_hour.model = x.model AND rollup_hour.operation = x.operation AND rollup_hour.agent = x.agent
    AND rollup_hour.api_key_id = x.api_key_id;
  UPDATE rollup_user_day SET input_tokens_unknown = x.i, output_tokens_unknown = x.o, cached_input_tokens_unknown = x.c,
    cache_write_tokens_unknown = x.w, reasoning_tokens_unknown = x.r, total_tokens_unknown = x.t
  FROM (SELECT user_id, (id >> 10) / 86400000 AS day, provider, service_type, model, IFNULL(agent, 0) AS agent,
      SUM(input_tokens IS NULL) AS i, SUM(output_tokens IS NULL) AS o, SUM(cached_input_tokens IS NULL) AS c,
      SUM(cache_write_tokens IS NULL) AS w, SUM(reasoning_tokens IS NULL) AS r, SUM(total_tokens IS NULL) AS t
    FROM records WHERE user_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6) AS x
  WHERE rollup_user_day.user_id = x.user_id AND rollup_user_day.day = x.day AND rollup_user_day.provider = x.provider
    AND rollup_user_day.service_type = x.service_type AND rollup_user_day.model = x.model AND rollup_user_day.agent = x.agent;
  UPDATE rollup_user_hour SET input_tokens_unknown = x.i, output_tokens_unknown = x.o, cached_input_tokens_unknown = x.c,
    cache_write_tokens_unknown = x.w, reasoning_tokens_unknown = x.r, total_tokens_unknown = x.t
  FROM (SELECT (id >> 10) / 3600000 AS hour, user_id, provider, service_type, model, IFNULL(agent, 0) AS agent,
      SUM(input_tokens IS NULL) AS i, SUM(output_tokens IS NULL) AS o, SUM(cached_input_tokens IS NULL) AS c,
      SUM(cache_write_tokens IS NULL) AS w, SUM(reasoning_tokens IS NULL) AS r, SUM(total_tokens IS NULL) AS t
    FROM records WHERE user_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6) AS x
  WHERE rollup_user_hour.hour = x.hour AND rollup_user_hour.user_id = x.user_id AND rollup_user_hour.provider = x.provider
    AND rollup_user_hour.service_type = x.service_type AND rollup_user_hour.model = x.model AND rollup_user_hour.agent = x.agent;
  `,
  // 8 (budget-alerts.ts): the budget alerts raised, one row per budget, limit, window and level,
  // whichever process sharing the ledger raised it first (inserted with ON CONFLICT DO NOTHING).
  // Self-contained: it reads and changes nothing of the other tables.
  `
  CREATE TABLE budget_alerts (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    scope TEXT NOT NULL,
    scope_id TEXT NOT NULL,
    budget_window TEXT NOT NULL,
    unit TEXT NOT NULL,
    limit_type TEXT NOT NULL,
    limit_value REAL NOT NULL,
    window_start INTEGER NOT NULL,
    level TEXT NOT NULL,
    threshold REAL NOT NULL,
    used REAL NOT NULL,
    percent_used REAL NOT NULL,
    resets_at INTEGER,
    message TEXT NOT NULL,
    UNIQUE (scope, scope_id, budget_window, unit, limit_type, limit_value, window_start, level)
  );
  CREATE INDEX budget_alerts_at ON budget_alerts (at);
  `,
  // 9: fewer bytes a record: 114 to 89 at 1M records a month (bench ledger-bytes-per-record; 96
  // before the cost's split of 7). In SQLite every column costs every row a header byte, NULL or
  // not, and an integer 1 to 8 bytes by its size.
  // - records: the cost's output side in whole nanodollars (`output_cost_nano`: 2 to 4 bytes where
  //   picodollars took 6). The cost stays exact to the picodollar and the input side is still the
  //   cost less the output side, so the two add up to it exactly; the split is exact to the
  //   nanodollar, never more than the cost. Rows written before are rounded so (half up).
  // - records: `cost` holds picodollars, or a whole number of nanodollars as its negative (nearly
  //   every priced call: prices per million tokens are whole nanodollars a token), 3 or 4 bytes
  //   where 6; read it through COST_SQL.
  // - records: `total_tokens` is NULL when the total is the input plus the output (nearly every
  //   call). When both are known and the total is not (written directly, never from validateUsage)
  //   it is -1; when either is unknown it is kept as it was. Read it through TOTAL_TOKENS_SQL.
  // - records: request_model, error_type, error_message and metadata, which most records leave
  //   empty, move into the `rare` JSON beside the rare counts (strings by their dictionary ids,
  //   metadata as its object): four header bytes a row. The run index follows metadata there.
  // - records are rebuilt once, in id order, as in 6. The writer now also writes its rows in id
  //   order (a row put before others split pages half full: 10% of the table).
  // - rollups: the output side in nanodollars, summed anew from the rows. rollup_user_hour (one row
  //   for every 2.3 records; read a user's few hours at a time) is rebuilt smaller: the total kept
  //   as its difference from input + output (`total_tokens_delta`, 0 in nearly every bucket); the
  //   cost as in records; and the six unknown counts, unpriced requests and the cost not split
  //   (eight columns) as one `unknowns`: a bit set (bit i: figure i of UNKNOWN_PARTS is the
  //   bucket's whole, else 0), one byte for nearly every bucket, or a JSON array of the eight
  //   figures when the bucket's records differ; INTEGER, so that a bit set bound as a double stays
  //   an integer. rollup_hour and rollup_user_day keep a column each: every summary reads them
  //   whole, and decoding a packed layout made that half again as slow, for under a byte a record.
  // The usage_records view is made anew after the migrations.
  `
  DROP VIEW IF EXISTS usage_records;
  CREATE TABLE records_v9 (
    id INTEGER PRIMARY KEY,
    provider INTEGER NOT NULL,
    service_type INTEGER NOT NULL,
    model INTEGER NOT NULL,
    operation INTEGER NOT NULL,
    input_tokens INTEGER,
    output_tokens INTEGER,
    cached_input_tokens INTEGER,
    cache_write_tokens INTEGER,
    reasoning_tokens INTEGER,
    total_tokens INTEGER,
    cost INTEGER,
    api_key_id INTEGER,
    user_id INTEGER,
    thread_id INTEGER,
    agent INTEGER,
    duration_us INTEGER,
    error INTEGER NOT NULL,
    rare TEXT,
    output_cost_nano INTEGER
  );
  INSERT INTO records_v9
  SELECT id, provider, service_type, model, operation, input_tokens, output_tokens, cached_input_tokens,
    cache_write_tokens, reasoning_tokens,
    CASE WHEN input_tokens IS NULL OR output_tokens IS NULL THEN total_tokens WHEN total_tokens IS NULL THEN -1
      WHEN total_tokens = input_tokens + output_tokens THEN NULL ELSE total_tokens END,
    CASE WHEN cost_pico > 0 AND cost_pico % 1000 = 0 THEN -(cost_pico / 1000) ELSE cost_pico END,
    api_key_id, user_id, thread_id, agent, duration_us, error,
    CASE WHEN request_model IS NULL AND error_type IS NULL AND error_message IS NULL AND metadata IS NULL THEN rare
      WHEN metadata IS NULL THEN json_patch(IFNULL(rare, '{}'),
        json_object('request_model', request_model, 'error_type', error_type, 'error_message', error_message))
      ELSE json_set(json_patch(IFNULL(rare, '{}'),
        json_object('request_model', request_model, 'error_type', error_type, 'error_message', error_message)), '$.metadata', json(metadata))
    END,
    CASE WHEN output_cost_pico IS NULL OR cost_pico IS NULL THEN NULL
      WHEN (output_cost_pico + 500) / 1000 * 1000 > cost_pico THEN cost_pico / 1000 ELSE (output_cost_pico + 500) / 1000 END
  FROM records ORDER BY id;
  DROP TABLE records;
  ALTER TABLE records_v9 RENAME TO records;
  CREATE INDEX records_run ON records (json_extract(rare, '$.metadata.run_id')) WHERE json_extract(rare, '$.metadata.run_id') IS NOT NULL;
  ALTER TABLE rollup_hour ADD COLUMN output_cost_nano INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE rollup_user_day ADD COLUMN output_cost_nano INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE rollup_user_hour ADD COLUMN output_cost_nano INTEGER NOT NULL DEFAULT 0;
  UPDATE rollup_hour SET output_cost_nano = x.o
  FROM (SELECT (id >> 10) / 3600000 AS hour, provider, service_type, model, operation, IFNULL(agent, 0) AS agent,
      IFNULL(api_key_id, 0) AS api_key_id, SUM(output_cost_nano) AS o
    FROM records WHERE output_cost_nano IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6, 7) AS x
  WHERE rollup_hour.hour = x.hour AND rollup_hour.provider = x.provider AND rollup_hour.service_type = x.service_type
    AND rollup_hour.model = x.model AND rollup_hour.operation = x.operation AND rollup_hour.agent = x.agent
    AND rollup_hour.api_key_id = x.api_key_id;
  UPDATE rollup_user_day SET output_cost_nano = x.o
  FROM (SELECT user_id, (id >> 10) / 86400000 AS day, provider, service_type, model, IFNULL(agent, 0) AS agent,
      SUM(output_cost_nano) AS o
    FROM records WHERE user_id IS NOT NULL AND output_cost_nano IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6) AS x
  WHERE rollup_user_day.user_id = x.user_id AND rollup_user_day.day = x.day AND rollup_user_day.provider = x.provider
    AND rollup_user_day.service_type = x.service_type AND rollup_user_day.model = x.model AND rollup_user_day.agent = x.agent;
  UPDATE rollup_user_hour SET output_cost_nano = x.o
  FROM (SELECT (id >> 10) / 3600000 AS hour, user_id, provider, service_type, model, IFNULL(agent, 0) AS agent,
      SUM(output_cost_nano) AS o
    FROM records WHERE user_id IS NOT NULL AND output_cost_nano IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6) AS x
  WHERE rollup_user_hour.hour = x.hour AND rollup_user_hour.user_id = x.user_id AND rollup_user_hour.provider = x.provider
    AND rollup_user_hour.service_type = x.service_type AND rollup_user_hour.model = x.model AND rollup_user_hour.agent = x.agent;
  ALTER TABLE rollup_hour DROP COLUMN output_cost_pico;
  ALTER TABLE rollup_user_day DROP COLUMN output_cost_pico;
  CREATE TABLE rollup_user_hour_v9 (
    hour INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    provider INTEGER NOT NULL,
    service_type INTEGER NOT NULL,
    model INTEGER NOT NULL,
    agent INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cached_input_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    total_tokens_delta INTEGER NOT NULL,
    cost INTEGER NOT NULL,
    output_cost_nano INTEGER NOT NULL,
    unknowns INTEGER NOT NULL,
    PRIMARY KEY (hour, user_id, provider, service_type, model, agent)
  ) WITHOUT ROWID;
  INSERT INTO rollup_user_hour_v9
  SELECT hour, user_id, provider, service_type, model, agent, requests, errors, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens,
    reasoning_tokens, total_tokens - input_tokens - output_tokens,
    CASE WHEN cost_pico > 0 AND cost_pico % 1000 = 0 THEN -(cost_pico / 1000) ELSE cost_pico END, output_cost_nano,
    CASE WHEN input_tokens_unknown IN (0, requests) AND output_tokens_unknown IN (0, requests)
      AND cached_input_tokens_unknown IN (0, requests) AND cache_write_tokens_unknown IN (0, requests)
      AND reasoning_tokens_unknown IN (0, requests) AND total_tokens_unknown IN (0, requests) AND unpriced IN (0, requests)
      AND unsplit_cost_pico IN (0, cost_pico)
    THEN (input_tokens_unknown = requests AND requests > 0) + (output_tokens_unknown = requests AND requests > 0) * 2 + (cached_input_tokens_unknown = requests AND requests > 0) * 4 + (cache_write_tokens_unknown = requests AND requests > 0) * 8 + (reasoning_tokens_unknown = requests AND requests > 0) * 16 + (total_tokens_unknown = requests AND requests > 0) * 32 + (unpriced = requests AND requests > 0) * 64 + (unsplit_cost_pico = cost_pico AND cost_pico > 0) * 128
    ELSE json_array(input_tokens_unknown, output_tokens_unknown, cached_input_tokens_unknown, cache_write_tokens_unknown,
      reasoning_tokens_unknown, total_tokens_unknown, unpriced, unsplit_cost_pico) END
  FROM rollup_user_hour ORDER BY hour, user_id, provider, service_type, model, agent;
  DROP TABLE rollup_user_hour;
  ALTER TABLE rollup_user_hour_v9 RENAME TO rollup_user_hour;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

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
