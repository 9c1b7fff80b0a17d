/**
 * The SQLite ledger's migrations, one per version (PRAGMA user_version): 1 to 6 in
 * sqlite-migrations-early.ts, 7 on here, a new one at the end. A migration only ever adds: a ledger
 * written by an older tokenmeter opens in a newer one, never the reverse. Each migration's SQL is
 * written out in full, never built from constants: a shipped migration must stay exactly as it ran
 * (not even reformatted). migrate() runs them when a store opens for writing.
 */
import type BetterSqlite3 from 'better-sqlite3';
import { usageRecordsViewSql } from './schema.ts';
import { MIGRATIONS_1_TO_6 } from './sqlite-migrations-early.ts';

/** Every migration, in order: migration n is MIGRATIONS[n - 1]. */
export const MIGRATIONS: readonly string[] = [
  ...MIGRATIONS_1_TO_6,
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

/** The schema a ledger has after every migration (its PRAGMA user_version). */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings a ledger opened for writing to SCHEMA_VERSION, in one IMMEDIATE transaction, and makes its
 * usage_records view anew when the table of record fields changed. A newer schema than this
 * tokenmeter's is refused.
 */
export function migrate(db: BetterSqlite3.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) throw new Error(`its schema version ${current} is newer than this tokenmeter's (${SCHEMA_VERSION})`);
  const view = usageRecordsViewSql();
  const viewNow = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'view' AND name = 'usage_records'").pluck();
  if (current === SCHEMA_VERSION && viewNow.get() === view) return;
  db.transaction(() => {
    // Another process may have migrated while this one waited for the lock.
    const v = db.pragma('user_version', { simple: true }) as number;
    for (let i = v; i < SCHEMA_VERSION; i++) db.exec(MIGRATIONS[i] as string);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
    // The view holds no data: made anew from the table of record fields whenever it differs (a field added).
    if (viewNow.get() !== view) {
      db.exec('DROP VIEW IF EXISTS usage_records');
      db.exec(view);
    }
  }).immediate();
}
