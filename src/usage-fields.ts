/**
 * The one table of record fields. Each field of a usage record is declared here once: its
 * camelCase name (UsageInput, UsageRecord), its snake_case name (the `usage_records` view's column,
 * the CSV header and JSON export key, the archive key), what kind of value it holds, and for the
 * counts: which counts include it (validation's part-of checks), whether most records leave it
 * empty (rare: kept in the ledger's `rare` column, where an absent count costs no byte), its price
 * key (`pricing` in config.json, PriceOverride) and its line in `tokenmeter inspect`.
 *
 * Driven from it: the view of both stores (schema.ts, postgres-schema.ts), the rare column's
 * encoding (ledger/rare.ts), the export and archive columns (ledger/columns.ts), validation's
 * part-of checks (usage.ts), `inspect`'s lines (cli/inspect.ts) and the price keys of config.json
 * (config.ts). It sits beside usage.ts, below every layer that reads it (pipeline, ledger, reports,
 * cli, pricing), so that each imports it downward.
 */
import type { UsageRecord } from './usage.ts';

/** A field of a record, by its camelCase name (the table's entries refer to each other by it). */
type RecordKey = Exclude<keyof UsageRecord, 'costPicoUsd'>;

/** What a field holds, which decides how each store keeps it and how the view gives it back. */
export type FieldKind =
  /** Epoch ms in a record; ISO 8601 in the view and exports. */
  | 'time'
  /** A short string (provider, model, user...): the SQLite ledger keeps it once in `strings`. */
  | 'label'
  /** A non-negative integer count; null when unknown. */
  | 'count'
  /** USD (kept as integer picodollars). */
  | 'usd'
  /** Milliseconds (kept as integer microseconds). */
  | 'ms'
  /** true or false. */
  | 'flag'
  /** Free text kept as it is. */
  | 'text'
  /** A JSON object. */
  | 'json';

/** A count that includes another: `part` is no more than `of` (plus `plus`, disjoint from it, when given). */
export interface PartOf {
  /** The count that includes this one. */
  readonly of: RecordKey;
  /** Another part of `of`, disjoint from this one: the two together are no more than `of`. */
  readonly plus?: RecordKey;
  /**
   * The part needs its whole: when `of` is unknown it is taken as 0 (a one-hour cache write
   * without any cache write is a bug in the caller). Otherwise the check waits for a known whole.
   */
  readonly needsWhole?: true;
}

/** How `tokenmeter inspect` shows a count. */
export interface InspectLine {
  /** The line's label (`input tokens`, `cached`). */
  readonly label: string;
  /** The count this one is shown under (indented), or in brackets after (`inside`). */
  readonly under?: RecordKey;
  /** Shown in brackets after the count it is part of, when not 0: `300 (100 for 1 hour)`. */
  readonly inside?: true;
  /** `always` (unknown shown as such), `known` (when the provider sent it), `nonzero` (when above 0). @default 'always' */
  readonly show?: 'always' | 'known' | 'nonzero';
}

/** One field of a usage record. */
export interface FieldSpec {
  /** The snake_case name: the view's column, the CSV header, the JSON export and archive key. */
  readonly column: string;
  readonly kind: FieldKind;
  /** Counts that most records leave empty: kept together in the ledger's `rare` column (JSON), where an absent one costs nothing. */
  readonly rare?: true;
  /** The counts that include this one, checked in this order. */
  readonly partOf?: readonly PartOf[];
  /** Its price key (PriceOverride's; config.json's is the same in snake_case), USD per 1M tokens (per unit for search units). */
  readonly price?: string;
  /** Its line in `tokenmeter inspect`; none: not shown there. */
  readonly inspect?: InspectLine;
}

/**
 * Every field of a record, in export order (CSV columns, JSON keys). A new count goes here; the
 * test beside this file checks that it reaches the view, the exports, the archive and inspect.
 */
export const FIELDS = {
  timestamp: { column: 'timestamp', kind: 'time' },
  provider: { column: 'provider', kind: 'label' },
  serviceType: { column: 'service_type', kind: 'label' },
  model: { column: 'model', kind: 'label' },
  requestModel: { column: 'request_model', kind: 'label' },
  operation: { column: 'operation', kind: 'label' },
  /** All prompt tokens, cached and cache-write tokens included. */
  inputTokens: { column: 'input_tokens', kind: 'count', price: 'input', inspect: { label: 'input tokens' } },
  /** All generated tokens, reasoning tokens included. */
  outputTokens: { column: 'output_tokens', kind: 'count', price: 'output', inspect: { label: 'output tokens' } },
  /** Prompt tokens read from the provider's cache. */
  cachedInputTokens: {
    column: 'cached_input_tokens',
    kind: 'count',
    partOf: [{ of: 'inputTokens' }],
    price: 'cachedInput',
    inspect: { label: 'cached', under: 'inputTokens' },
  },
  /** Prompt tokens written to the provider's cache. */
  cacheWriteTokens: {
    column: 'cache_write_tokens',
    kind: 'count',
    partOf: [{ of: 'inputTokens', plus: 'cachedInputTokens' }],
    price: 'cacheWrite',
    inspect: { label: 'cache write', under: 'inputTokens' },
  },
  /** Of the cache writes, those cached for one hour (Anthropic), billed at a higher rate. */
  cacheWrite1hTokens: {
    column: 'cache_write_1h_tokens',
    kind: 'count',
    rare: true,
    partOf: [{ of: 'cacheWriteTokens', needsWhole: true }],
    price: 'cacheWrite1h',
    inspect: { label: 'for 1 hour', under: 'cacheWriteTokens', inside: true, show: 'nonzero' },
  },
  /** Of the input, the audio tokens (cached audio included). */
  inputAudioTokens: {
    column: 'input_audio_tokens',
    kind: 'count',
    rare: true,
    partOf: [{ of: 'inputTokens' }],
    price: 'inputAudio',
    // OpenAI reports 0 audio tokens on every chat completion: shown only for the calls that had audio.
    inspect: { label: 'audio', under: 'inputTokens', show: 'nonzero' },
  },
  /** Of the cached input, the audio tokens (part of the input audio too). */
  cachedAudioTokens: {
    column: 'cached_audio_tokens',
    kind: 'count',
    rare: true,
    partOf: [
      { of: 'cachedInputTokens', needsWhole: true },
      { of: 'inputAudioTokens', needsWhole: true },
    ],
    price: 'cachedAudio',
    inspect: { label: 'cached', under: 'inputAudioTokens', inside: true, show: 'nonzero' },
  },
  /** Of the output, the audio tokens (spoken output). */
  outputAudioTokens: {
    column: 'output_audio_tokens',
    kind: 'count',
    rare: true,
    partOf: [{ of: 'outputTokens' }],
    price: 'outputAudio',
    inspect: { label: 'audio', under: 'outputTokens', show: 'nonzero' },
  },
  /** Of the output, the generated images' tokens. */
  outputImageTokens: {
    column: 'output_image_tokens',
    kind: 'count',
    rare: true,
    partOf: [{ of: 'outputTokens' }, { of: 'outputTokens', plus: 'outputAudioTokens' }],
    price: 'outputImage',
    inspect: { label: 'images', under: 'outputTokens', show: 'nonzero' },
  },
  /** Reasoning ("thinking") tokens, part of the output. */
  reasoningTokens: {
    column: 'reasoning_tokens',
    kind: 'count',
    partOf: [{ of: 'outputTokens' }],
    inspect: { label: 'reasoning', under: 'outputTokens' },
  },
  totalTokens: { column: 'total_tokens', kind: 'count', inspect: { label: 'total tokens' } },
  /** Search units of rerank APIs that bill per search (Cohere): rare among all calls. */
  searchUnits: {
    column: 'search_units',
    kind: 'count',
    rare: true,
    price: 'searchUnit',
    inspect: { label: 'search units', show: 'known' },
  },
  /** Web searches the provider ran for the call (Anthropic's web search tool). */
  webSearches: { column: 'web_searches', kind: 'count', rare: true, inspect: { label: 'web searches', show: 'known' } },
  costUsd: { column: 'cost_usd', kind: 'usd' },
  /** Of the cost, the input side (input-side counts, per-search fees); null when the split is unknown. */
  inputCostUsd: { column: 'input_cost_usd', kind: 'usd' },
  /** Of the cost, the output side (generated counts); null when the split is unknown. */
  outputCostUsd: { column: 'output_cost_usd', kind: 'usd' },
  apiKeyId: { column: 'api_key_id', kind: 'label' },
  userId: { column: 'user_id', kind: 'label' },
  threadId: { column: 'thread_id', kind: 'label' },
  agent: { column: 'agent', kind: 'label' },
  durationMs: { column: 'duration_ms', kind: 'ms' },
  error: { column: 'error', kind: 'flag' },
  errorType: { column: 'error_type', kind: 'label' },
  errorMessage: { column: 'error_message', kind: 'text' },
  metadata: { column: 'metadata', kind: 'json' },
} as const satisfies Record<RecordKey, FieldSpec>;

/** The name of a record field. */
export type FieldName = keyof typeof FIELDS;
/** The name of a count field. */
export type CountField = { [K in FieldName]: (typeof FIELDS)[K]['kind'] extends 'count' ? K : never }[FieldName];
/** The name of a rare count (kept in the `rare` column). */
export type RareCount = { [K in FieldName]: (typeof FIELDS)[K] extends { rare: true } ? K : never }[FieldName];
/** The name of a count kept in a column of its own. */
export type CommonCount = Exclude<CountField, RareCount>;
/** The price keys (PriceOverride's). */
export type PriceKey = { [K in FieldName]: (typeof FIELDS)[K] extends { price: infer P extends string } ? P : never }[FieldName];

const specs = FIELDS as Record<FieldName, FieldSpec>;

/** Every field as [name, spec], in export order. */
export const FIELD_LIST: readonly (readonly [FieldName, FieldSpec])[] = (Object.keys(FIELDS) as FieldName[]).map((k) => [k, specs[k]]);

/** The counts, in export order. */
export const COUNT_FIELDS: readonly CountField[] = FIELD_LIST.filter(([, f]) => f.kind === 'count').map(([k]) => k as CountField);

/** The rare counts, in export order: the keys of the `rare` column's JSON are their `column` names. */
export const RARE_COUNTS: readonly RareCount[] = FIELD_LIST.filter(([, f]) => f.rare === true).map(([k]) => k as RareCount);

/** The counts kept in columns of their own. */
export const COMMON_COUNTS: readonly CommonCount[] = COUNT_FIELDS.filter((k) => specs[k].rare !== true) as CommonCount[];

/** One part-of check: `part` (plus `plus`) no more than `of`. */
export interface PartRule extends PartOf {
  readonly part: CountField;
}

/** Every part-of check, in table order (validation runs them in this order). */
export const PART_RULES: readonly PartRule[] = COUNT_FIELDS.flatMap((part) => (specs[part].partOf ?? []).map((r) => ({ part, ...r })));

/** The price keys, in table order, with the count each prices. */
export const PRICE_KEYS: readonly (readonly [PriceKey, CountField])[] = COUNT_FIELDS.filter((k) => specs[k].price !== undefined).map(
  (k) => [specs[k].price as PriceKey, k] as const,
);

/** camelCase to snake_case (`cacheWrite1h` → `cache_write_1h`): config.json's spelling of a price key. */
export function snakeCase(name: string): string {
  return name.replace(/([a-z])([A-Z0-9])/g, '$1_$2').toLowerCase();
}

/** The spec of a field. */
export function fieldSpec(name: FieldName): FieldSpec {
  return specs[name];
}
