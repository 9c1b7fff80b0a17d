/**
 * The PostgreSQL ledger's schema, one migration per version (kept in `tokenmeter_schema`). The same
 * records and rollups as the SQLite ledger (schema.ts), in PostgreSQL's terms, for many writers:
 *
 * - Ids: a `bigserial`, and the time in its own indexed column `ts` (epoch ms). SQLite's ids are
 *   the timestamp × 1024 plus a sequence handed out by the one writer holding the file's lock; many
 *   instances writing one database at once would have to read and race for each millisecond's next
 *   id. A sequence hands out ids without any lock held across transactions, `ts` keeps the exact
 *   time (no burst moves on a millisecond), and `(ts, id)` orders records in time.
 * - Strings are kept as text, not in a dictionary: a shared dictionary would be one more upsert and
 *   round trip per new string from every instance, and PostgreSQL compresses repeated values in
 *   its pages no worse than a join saves. The rollups' "none" is '' (validation turns '' into null).
 * - Rollups are upserts on their bucket key (INSERT … ON CONFLICT DO UPDATE adding the sums), so
 *   any number of instances can add to one bucket at once and no update is lost.
 * - `tokenmeter_batches` keeps one row per written batch, so that a batch whose COMMIT was cut
 *   (the database went away at that moment) is not written twice when it is retried.
 * - `tokenmeter_imports` keeps how far `tokenmeter migrate` has copied each SQLite ledger (its last
 *   record id, in the same transaction as the rows), so that running it again adds only what is new.
 */
import { FIELD_LIST } from '../usage-fields.ts';

export const PG_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE records (
    id bigserial PRIMARY KEY,
    ts bigint NOT NULL,
    provider text NOT NULL,
    service_type text NOT NULL,
    model text NOT NULL,
    request_model text,
    operation text NOT NULL,
    input_tokens bigint,
    output_tokens bigint,
    cached_input_tokens bigint,
    cache_write_tokens bigint,
    cache_write_1h_tokens bigint,
    input_audio_tokens bigint,
    cached_audio_tokens bigint,
    output_audio_tokens bigint,
    output_image_tokens bigint,
    reasoning_tokens bigint,
    total_tokens bigint,
    search_units bigint,
    web_searches bigint,
    cost_pico bigint,
    api_key_id text,
    user_id text,
    thread_id text,
    agent text,
    duration_us bigint,
    error boolean NOT NULL,
    error_type text,
    error_message text,
    metadata jsonb
  );
  CREATE INDEX records_ts ON records (ts, id);
  CREATE INDEX records_thread ON records (thread_id) WHERE thread_id IS NOT NULL;
  CREATE INDEX records_run ON records ((metadata ->> 'run_id')) WHERE metadata IS NOT NULL;
  CREATE TABLE rollup_hour (
    hour integer NOT NULL,
    provider text NOT NULL,
    service_type text NOT NULL,
    model text NOT NULL,
    operation text NOT NULL,
    agent text NOT NULL,
    api_key_id text NOT NULL,
    requests bigint NOT NULL,
    errors bigint NOT NULL,
    input_tokens bigint NOT NULL,
    output_tokens bigint NOT NULL,
    cached_input_tokens bigint NOT NULL,
    cache_write_tokens bigint NOT NULL,
    reasoning_tokens bigint NOT NULL,
    total_tokens bigint NOT NULL,
    cost_pico bigint NOT NULL,
    unpriced bigint NOT NULL,
    PRIMARY KEY (hour, provider, service_type, model, operation, agent, api_key_id)
  );
  CREATE TABLE rollup_user_day (
    user_id text NOT NULL,
    day integer NOT NULL,
    provider text NOT NULL,
    service_type text NOT NULL,
    model text NOT NULL,
    agent text NOT NULL,
    requests bigint NOT NULL,
    errors bigint NOT NULL,
    input_tokens bigint NOT NULL,
    output_tokens bigint NOT NULL,
    cached_input_tokens bigint NOT NULL,
    cache_write_tokens bigint NOT NULL,
    reasoning_tokens bigint NOT NULL,
    total_tokens bigint NOT NULL,
    cost_pico bigint NOT NULL,
    unpriced bigint NOT NULL,
    PRIMARY KEY (user_id, day, provider, service_type, model, agent)
  );
  CREATE TABLE rollup_user_hour (
    hour integer NOT NULL,
    user_id text NOT NULL,
    provider text NOT NULL,
    service_type text NOT NULL,
    model text NOT NULL,
    agent text NOT NULL,
    requests bigint NOT NULL,
    errors bigint NOT NULL,
    input_tokens bigint NOT NULL,
    output_tokens bigint NOT NULL,
    cached_input_tokens bigint NOT NULL,
    cache_write_tokens bigint NOT NULL,
    reasoning_tokens bigint NOT NULL,
    total_tokens bigint NOT NULL,
    cost_pico bigint NOT NULL,
    unpriced bigint NOT NULL,
    PRIMARY KEY (hour, user_id, provider, service_type, model, agent)
  );
  CREATE TABLE tokenmeter_batches (token uuid PRIMARY KEY, written_at bigint NOT NULL);
  CREATE TABLE tokenmeter_imports (source text PRIMARY KEY, last_id bigint NOT NULL, records bigint NOT NULL);
  CREATE VIEW usage_records AS
  SELECT id, to_char(to_timestamp(ts / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS timestamp,
    provider, service_type, model, request_model, operation, input_tokens, output_tokens, cached_input_tokens,
    cache_write_tokens, cache_write_1h_tokens, input_audio_tokens, cached_audio_tokens, output_audio_tokens,
    output_image_tokens, reasoning_tokens, total_tokens, search_units, web_searches, cost_pico / 1e12 AS cost_usd,
    api_key_id, user_id, thread_id, agent, duration_us / 1000.0 AS duration_ms, error, error_type, error_message, metadata
  FROM records;
  `,
  // 2: the rare counts in one jsonb column `rare`, only those a record has, as in SQLite's schema 6
  // (a new rare count needs no column); the view is made from the table of record fields after the
  // migrations (usageRecordsViewPg). Dropping a column in PostgreSQL only marks it dropped.
  `
  DROP VIEW usage_records;
  ALTER TABLE records ADD COLUMN rare jsonb;
  UPDATE records SET rare = jsonb_strip_nulls(jsonb_build_object('cache_write_1h_tokens', cache_write_1h_tokens,
    'input_audio_tokens', input_audio_tokens, 'cached_audio_tokens', cached_audio_tokens, 'output_audio_tokens', output_audio_tokens,
    'output_image_tokens', output_image_tokens, 'search_units', search_units, 'web_searches', web_searches))
  WHERE cache_write_1h_tokens IS NOT NULL OR input_audio_tokens IS NOT NULL OR cached_audio_tokens IS NOT NULL
    OR output_audio_tokens IS NOT NULL OR output_image_tokens IS NOT NULL OR search_units IS NOT NULL OR web_searches IS NOT NULL;
  ALTER TABLE records DROP COLUMN cache_write_1h_tokens, DROP COLUMN input_audio_tokens, DROP COLUMN cached_audio_tokens,
    DROP COLUMN output_audio_tokens, DROP COLUMN output_image_tokens, DROP COLUMN search_units, DROP COLUMN web_searches;
  `,
  // 3: a record's cost split into its input and output sides, as SQLite's schema 7: records keep
  // the output side (the input side is the cost less it; NULL for rows written before, never a
  // made-up 0); the rollups sum the output side over the records whose split is known and the cost
  // of those whose split is not (the input side is the cost less both), and count, per token
  // count, the records that did not report it, filled from the rows already there.
  `
  ALTER TABLE records ADD COLUMN output_cost_pico bigint;
  ALTER TABLE rollup_hour ADD COLUMN unsplit_cost_pico bigint NOT NULL DEFAULT 0,
    ADD COLUMN output_cost_pico bigint NOT NULL DEFAULT 0,
    ADD COLUMN input_tokens_unknown bigint NOT NULL DEFAULT 0,
    ADD COLUMN output_tokens_unknown bigint NOT NULL DEFAULT 0,
    ADD COLUMN cached_input_tokens_unknown bigint NOT NULL DEFAULT 0,
    ADD COLUMN cache_write_tokens_unknown bigint NOT NULL DEFAULT 0,
    ADD COLUMN reasoning_tokens_unknown bigint NOT NULL DEFAULT 0,
    ADD COLUMN total_tokens_unknown bigint NOT NULL DEFAULT 0;
  ALTER TABLE rollup_user_day ADD COLUMN unsplit_cost_pico bigint NOT NULL DEFAULT 0,
    ADD COLUMN output_cost_pico bigint NOT NULL DEFAULT 0,
    ADD COLUMN input_tokens_unknown bigint NOT NULL DEFAULT 0,
    ADD COLUMN output_tokens_unknown bigint NOT NULL DEFAULT 0,
    ADD COLUMN cached_input_tokens_unknown bigint NOT NULL DEFAULT 0,
    ADD COLUMN cache_write_tokens_unknown bigint NOT NULL DEFAULT 0,
    ADD COLUMN reasoning_tokens_unknown bigint NOT NULL DEFAULT 0,
    ADD COLUMN total_tokens_unknown bigint NOT NULL DEFAULT 0;
  ALTER TABLE rollup_user_hour ADD COLUMN unsplit_cost_pico bigint NOT NULL DEFAULT 0,
    ADD COLUMN output_cost_pico bigint NOT NULL DEFAULT 0,
    ADD COLUMN input_tokens_unknown bigint NOT NULL DEFAULT 0,
    ADD COLUMN output_tokens_unknown bigint NOT NULL DEFAULT 0,
    ADD COLUMN cached_input_tokens_unknown bigint NOT NULL DEFAULT 0,
    ADD COLUMN cache_write_tokens_unknown bigint NOT NULL DEFAULT 0,
    ADD COLUMN reasoning_tokens_unknown bigint NOT NULL DEFAULT 0,
    ADD COLUMN total_tokens_unknown bigint NOT NULL DEFAULT 0;
  UPDATE rollup_hour SET unsplit_cost_pico = cost_pico;
  UPDATE rollup_user_day SET unsplit_cost_pico = cost_pico;
  UPDATE rollup_user_hour SET unsplit_cost_pico = cost_pico;
  UPDATE rollup_hour SET input_tokens_unknown = x.i, output_tokens_unknown = x.o, cached_input_tokens_unknown = x.c,
    cache_write_tokens_unknown = x.w, reasoning_tokens_unknown = x.r, total_tokens_unknown = x.t
  FROM (SELECT ts / 3600000 AS hour, provider, service_type, model, operation, COALESCE(agent, '') AS agent,
      COALESCE(api_key_id, '') AS api_key_id, COUNT(*) FILTER (WHERE input_tokens IS NULL) AS i, COUNT(*) FILTER (WHERE output_tokens IS NULL) AS o,
      COUNT(*) FILTER (WHERE cached_input_tokens IS NULL) AS c, COUNT(*) FILTER (WHERE cache_write_tokens IS NULL) AS w,
      COUNT(*) FILTER (WHERE reasoning_tokens IS NULL) AS r, COUNT(*) FILTER (WHERE total_tokens IS NULL) AS t
    FROM records GROUP BY 1, 2, 3, 4, 5, 6, 7) AS x
  WHERE rollup_hour.hour = x.hour AND rollup_hour.provider = x.provider AND rollup_hour.service_type = x.service_type
    AND rollup_hour.model = x.model AND rollup_hour.operation = x.operation AND rollup_hour.agent = x.agent
    AND rollup_hour.api_key_id = x.api_key_id;
  UPDATE rollup_user_day SET input_tokens_unknown = x.i, output_tokens_unknown = x.o, cached_input_tokens_unknown = x.c,
    cache_write_tokens_unknown = x.w, reasoning_tokens_unknown = x.r, total_tokens_unknown = x.t
  FROM (SELECT user_id, ts / 86400000 AS day, provider, service_type, model, COALESCE(agent, '') AS agent, COUNT(*) FILTER (WHERE input_tokens IS NULL) AS i, COUNT(*) FILTER (WHERE output_tokens IS NULL) AS o,
      COUNT(*) FILTER (WHERE cached_input_tokens IS NULL) AS c, COUNT(*) FILTER (WHERE cache_write_tokens IS NULL) AS w,
      COUNT(*) FILTER (WHERE reasoning_tokens IS NULL) AS r, COUNT(*) FILTER (WHERE total_tokens IS NULL) AS t
    FROM records WHERE user_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6) AS x
  WHERE rollup_user_day.user_id = x.user_id AND rollup_user_day.day = x.day AND rollup_user_day.provider = x.provider
    AND rollup_user_day.service_type = x.service_type AND rollup_user_day.model = x.model AND rollup_user_day.agent = x.agent;
  UPDATE rollup_user_hour SET input_tokens_unknown = x.i, output_tokens_unknown = x.o, cached_input_tokens_unknown = x.c,
    cache_write_tokens_unknown = x.w, reasoning_tokens_unknown = x.r, total_tokens_unknown = x.t
  FROM (SELECT ts / 3600000 AS hour, user_id, provider, service_type, model, COALESCE(agent, '') AS agent, COUNT(*) FILTER (WHERE input_tokens IS NULL) AS i, COUNT(*) FILTER (WHERE output_tokens IS NULL) AS o,
      COUNT(*) FILTER (WHERE cached_input_tokens IS NULL) AS c, COUNT(*) FILTER (WHERE cache_write_tokens IS NULL) AS w,
      COUNT(*) FILTER (WHERE reasoning_tokens IS NULL) AS r, COUNT(*) FILTER (WHERE total_tokens IS NULL) AS t
    FROM records WHERE user_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6) AS x
  WHERE rollup_user_hour.hour = x.hour AND rollup_user_hour.user_id = x.user_id AND rollup_user_hour.provider = x.provider
    AND rollup_user_hour.service_type = x.service_type AND rollup_user_hour.model = x.model AND rollup_user_hour.agent = x.agent;
  `,
  // 4 (budget-alerts.ts), as SQLite's 8: the budget alerts raised, one row per budget, limit, window
  // and level, whichever instance raised it first (INSERT … ON CONFLICT DO NOTHING). Self-contained.
  `
  CREATE TABLE budget_alerts (
    id bigserial PRIMARY KEY,
    at bigint NOT NULL,
    scope text NOT NULL,
    scope_id text NOT NULL,
    budget_window text NOT NULL,
    unit text NOT NULL,
    limit_type text NOT NULL,
    limit_value double precision NOT NULL,
    window_start bigint NOT NULL,
    level text NOT NULL,
    threshold double precision NOT NULL,
    used double precision NOT NULL,
    percent_used double precision NOT NULL,
    resets_at bigint,
    message text NOT NULL,
    UNIQUE (scope, scope_id, budget_window, unit, limit_type, limit_value, window_start, level)
  );
  CREATE INDEX budget_alerts_at ON budget_alerts (at);
  `,
  // Alertmanager's notifications (SQLite's schema 5, notifications.ts and notifications-pg.ts): each
  // webhook request, and each alert once by (fingerprint, starts_at), updated by the notifications
  // that repeat or resolve it. Times are epoch ms. Label sets are `json`, not `jsonb`: kept as sent,
  // their keys in Alertmanager's order, as SQLite answers them. Self-contained (nothing above
  // depends on it, it depends on nothing above), so it stays valid in any order after them.
  `
  CREATE TABLE alertmanager_notifications (
    id bigserial PRIMARY KEY,
    received_at bigint NOT NULL,
    receiver text NOT NULL,
    status text NOT NULL,
    group_key text NOT NULL,
    group_labels json NOT NULL,
    common_labels json NOT NULL,
    common_annotations json NOT NULL,
    external_url text NOT NULL,
    alerts integer NOT NULL,
    truncated_alerts bigint NOT NULL
  );
  CREATE TABLE alertmanager_alerts (
    fingerprint text NOT NULL,
    starts_at bigint NOT NULL,
    status text NOT NULL,
    ends_at bigint,
    labels json NOT NULL,
    annotations json NOT NULL,
    generator_url text NOT NULL,
    receiver text NOT NULL,
    group_key text NOT NULL,
    first_received_at bigint NOT NULL,
    last_received_at bigint NOT NULL,
    notifications bigint NOT NULL,
    last_notification bigint NOT NULL,
    PRIMARY KEY (fingerprint, starts_at)
  );
  CREATE INDEX alertmanager_alerts_received ON alertmanager_alerts (last_received_at);
  `,
];

/** A record field as the PostgreSQL view reads it from `records`. */
function pgViewColumn(kind: string, column: string, rare: boolean): string {
  if (rare) return `(rare ->> '${column}')::bigint AS ${column}`;
  switch (kind) {
    case 'time':
      return `to_char(to_timestamp(ts / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ${column}`;
    case 'usd':
      // The ledger keeps the cost and its output side; the input side is the one less the other.
      if (column === 'output_cost_usd') return `output_cost_pico / 1e12 AS ${column}`;
      if (column === 'input_cost_usd') return `(cost_pico - output_cost_pico) / 1e12 AS ${column}`;
      return `cost_pico / 1e12 AS ${column}`;
    case 'ms':
      return `duration_us / 1000.0 AS ${column}`;
    default:
      return column;
  }
}

/** The view's columns, in order: the store compares them with the view's to know when to make it anew. */
export const PG_VIEW_COLUMNS: readonly string[] = ['id', ...FIELD_LIST.map(([, f]) => f.column)];

/**
 * The `usage_records` view, made from the table of record fields (usage-fields.ts), as SQLite's
 * (schema.ts): made anew whenever its columns differ from the table's, without a migration.
 */
export function usageRecordsViewPg(): string {
  const cols = FIELD_LIST.map(([, f]) => pgViewColumn(f.kind, f.column, f.rare === true));
  return `CREATE VIEW usage_records AS SELECT id, ${cols.join(', ')} FROM records`;
}

export const PG_SCHEMA_VERSION = PG_MIGRATIONS.length;

/**
 * The advisory lock every instance takes while it migrates (pg_advisory_lock): instances starting
 * together migrate once, one after the other finding the schema current. An arbitrary constant
 * ("tokenmeter" in ASCII, folded to 63 bits).
 */
export const MIGRATION_LOCK = 0x746f6b656e6d65n;
