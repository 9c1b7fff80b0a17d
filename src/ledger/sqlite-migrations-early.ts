/**
 * The SQLite ledger's migrations 1 to 6 (schema.ts describes the layout they build up to). Each
 * migration's SQL is written out in full, never built from constants: a shipped migration must stay
 * exactly as it ran, so this file is never edited (sqlite-migrations.ts adds the later ones).
 */
export const MIGRATIONS_1_TO_6: readonly string[] = [
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
];
