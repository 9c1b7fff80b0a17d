/**
 * The one table of record fields. Each field of a usage record is declared here once: its
 * camelCase name (UsageInput, UsageRecord), its snake_case name (the `usage_records` view's column,
 * the CSV header and JSON export key, the archive key), what kind of value it holds, and for the
 * counts: what it counts (the REST schema's description), which counts include it (validation's
 * part-of checks), whether most records leave it empty (rare: kept in the ledger's `rare` column,
 * where an absent count costs no byte), its price key (`pricing` in config.json, PriceOverride),
 * its rate's key in genai-prices' data and its line in `tokenmeter inspect`.
 *
 * Derived from it: the counts of the record's types (UsageInput, UsageRecord, the providers'
 * Usage, BillableUsage, PriceOverride and ResolvedPrice's rates, by the mapped types below);
 * validation's reading of each count, its key set and part-of checks (usage.ts); the copy of a
 * provider's counts into a call's input (pipeline/usage-input.ts); the REST API's schema
 * (server/usage-schema.ts); the view of both stores (schema.ts, postgres-schema.ts), the rare
 * column's encoding (ledger/rare.ts), the export and archive columns (ledger/columns.ts);
 * `inspect`'s lines (cli/inspect.ts); the price keys of config.json (config.ts) and code, the rates
 * read from genai-prices and the cost of the output's priced parts (pricing/). docs/architecture.md
 * says how to add a count. It sits beside usage.ts, below every layer that reads it (pipeline,
 * ledger, reports, cli, pricing, providers), so that each imports it downward.
 */
/**
 * A field of a record, by its camelCase name (the table's entries refer to each other by it). The
 * table is where the counts' names come from, so it cannot be typed by them: `refsAreCounts` below
 * checks that each name it refers to is one of its counts.
 */
type RecordKey = string;

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
  /** What a count counts, in a line: its description in the REST API's schema (OpenAPI). Every count has one. */
  readonly about?: string;
  /** Counts that most records leave empty: kept together in the ledger's `rare` column (JSON), where an absent one costs nothing. */
  readonly rare?: true;
  /** The counts that include this one, checked in this order. */
  readonly partOf?: readonly PartOf[];
  /** Its price key (PriceOverride's; config.json's is the same in snake_case), USD per 1M tokens (per unit for search units). */
  readonly price?: string;
  /** The key of its rate (USD per 1M tokens) in genai-prices' data (`ModelPrice`), when genai-prices prices it. */
  readonly genaiPrices?: string;
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
  inputTokens: {
    column: 'input_tokens',
    kind: 'count',
    about: 'All prompt tokens, cached and cache-write ones included',
    price: 'input',
    genaiPrices: 'input_mtok',
    inspect: { label: 'input tokens' },
  },
  /** All generated tokens, reasoning tokens included. */
  outputTokens: {
    column: 'output_tokens',
    kind: 'count',
    about: 'All generated tokens, reasoning ones included',
    price: 'output',
    genaiPrices: 'output_mtok',
    inspect: { label: 'output tokens' },
  },
  /** Prompt tokens read from the provider's cache (part of `inputTokens`). */
  cachedInputTokens: {
    column: 'cached_input_tokens',
    kind: 'count',
    about: 'Prompt tokens read from the cache (part of inputTokens)',
    partOf: [{ of: 'inputTokens' }],
    price: 'cachedInput',
    genaiPrices: 'cache_read_mtok',
    inspect: { label: 'cached', under: 'inputTokens' },
  },
  /** Prompt tokens written to the provider's cache (part of `inputTokens`). */
  cacheWriteTokens: {
    column: 'cache_write_tokens',
    kind: 'count',
    about: 'Prompt tokens written to the cache (part of inputTokens)',
    partOf: [{ of: 'inputTokens', plus: 'cachedInputTokens' }],
    price: 'cacheWrite',
    genaiPrices: 'cache_write_mtok',
    inspect: { label: 'cache write', under: 'inputTokens' },
  },
  /** Of `cacheWriteTokens`, those cached for one hour (Anthropic's `ttl: "1h"`), billed at a higher rate than the rest. */
  cacheWrite1hTokens: {
    column: 'cache_write_1h_tokens',
    kind: 'count',
    about: 'Of cacheWriteTokens, those cached for one hour',
    rare: true,
    partOf: [{ of: 'cacheWriteTokens', needsWhole: true }],
    price: 'cacheWrite1h',
    genaiPrices: 'cache_write_1h_mtok',
    inspect: { label: 'for 1 hour', under: 'cacheWriteTokens', inside: true, show: 'nonzero' },
  },
  /**
   * Of `inputTokens`, the audio ones, cached audio included (OpenAI's
   * `prompt_tokens_details.audio_tokens`, Gemini's AUDIO `promptTokensDetails`), billed at the
   * model's audio input rate where it has one.
   */
  inputAudioTokens: {
    column: 'input_audio_tokens',
    kind: 'count',
    about: 'Of inputTokens, the audio ones',
    rare: true,
    partOf: [{ of: 'inputTokens' }],
    price: 'inputAudio',
    genaiPrices: 'input_audio_mtok',
    // OpenAI reports 0 audio tokens on every chat completion: shown only for the calls that had audio.
    inspect: { label: 'audio', under: 'inputTokens', show: 'nonzero' },
  },
  /** Of `cachedInputTokens`, the audio ones (part of `inputAudioTokens` too), billed at the model's cached-audio rate where it has one. */
  cachedAudioTokens: {
    column: 'cached_audio_tokens',
    kind: 'count',
    about: 'Of cachedInputTokens, the audio ones',
    rare: true,
    partOf: [
      { of: 'cachedInputTokens', needsWhole: true },
      { of: 'inputAudioTokens', needsWhole: true },
    ],
    price: 'cachedAudio',
    genaiPrices: 'cache_audio_read_mtok',
    inspect: { label: 'cached', under: 'inputAudioTokens', inside: true, show: 'nonzero' },
  },
  /** Of `outputTokens`, the audio ones (spoken output), billed at the model's audio output rate where it has one. */
  outputAudioTokens: {
    column: 'output_audio_tokens',
    kind: 'count',
    about: 'Of outputTokens, the audio ones',
    rare: true,
    partOf: [{ of: 'outputTokens' }],
    price: 'outputAudio',
    genaiPrices: 'output_audio_mtok',
    inspect: { label: 'audio', under: 'outputTokens', show: 'nonzero' },
  },
  /** Of `outputTokens`, the generated images' (Gemini's IMAGE `candidatesTokensDetails`), billed at the model's image output rate where it has one. */
  outputImageTokens: {
    column: 'output_image_tokens',
    kind: 'count',
    about: 'Of outputTokens, the generated images’',
    rare: true,
    partOf: [{ of: 'outputTokens' }, { of: 'outputTokens', plus: 'outputAudioTokens' }],
    price: 'outputImage',
    genaiPrices: 'output_image_mtok',
    inspect: { label: 'images', under: 'outputTokens', show: 'nonzero' },
  },
  /** Reasoning ("thinking") tokens (part of `outputTokens`). */
  reasoningTokens: {
    column: 'reasoning_tokens',
    kind: 'count',
    about: 'Reasoning tokens (part of outputTokens)',
    partOf: [{ of: 'outputTokens' }],
    inspect: { label: 'reasoning', under: 'outputTokens' },
  },
  /** Defaults to input plus output when both are known (input alone for embeddings and reranks); else unknown. */
  totalTokens: {
    column: 'total_tokens',
    kind: 'count',
    about: 'Default: input plus output when both are known',
    inspect: { label: 'total tokens' },
  },
  /** Search units, for rerank APIs that bill per search (Cohere): rare among all calls. */
  searchUnits: {
    column: 'search_units',
    kind: 'count',
    about: 'Search units (rerank APIs billed per search)',
    rare: true,
    price: 'searchUnit',
    inspect: { label: 'search units', show: 'known' },
  },
  /** Web searches the provider ran for the call (Anthropic's web search tool), billed per search beside the tokens. */
  webSearches: {
    column: 'web_searches',
    kind: 'count',
    about: 'Web searches the provider ran for the call',
    rare: true,
    inspect: { label: 'web searches', show: 'known' },
  },
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
} as const satisfies Record<string, FieldSpec>;

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

type Fields = typeof FIELDS;
/** The count's own name when `K` is a count, else never: the `as` clause of the mapped types below. */
type IfCount<K extends FieldName> = Fields[K]['kind'] extends 'count' ? K : never;

/*
 * The counts of each shape of a call, mapped from the table: a count added to it is a field of
 * UsageRecord, UsageInput, the providers' Usage, BillableUsage and PriceOverride without another
 * line, and each keeps the doc comment of its entry above.
 */

/** The counts as a validated record holds them: a number, or null when unknown. */
export type RecordCounts = { -readonly [K in FieldName as IfCount<K>]: number | null };
/** The counts as a caller gives them: left out (or null) when unknown, never 0. */
export type InputCounts = { -readonly [K in FieldName as IfCount<K>]?: number | null | undefined };
/** The counts as a provider's converter reads them: undefined when the provider did not send it. */
export type ReadCounts = { -readonly [K in FieldName as IfCount<K>]?: number | undefined };
/** A USD price per price key: per 1M tokens (per unit for search units), as PriceOverride and config.json give them. */
export type PricesByKey = { -readonly [K in FieldName as Fields[K] extends { price: infer P extends string } ? P : never]?: number };

// Checked when compiled: every name the table refers to is one of its counts, and every count says what it counts.
type Refs = {
  [K in FieldName]:
    | (Fields[K] extends { partOf: readonly (infer R)[] }
        ? (R extends { of: infer O } ? O : never) | (R extends { plus: infer P } ? P : never)
        : never)
    | (Fields[K] extends { inspect: { under: infer U } } ? U : never);
}[FieldName];
const refsAreCounts: [
  Exclude<Refs, CountField>,
  { [K in CountField]: Fields[K] extends { about: string } ? never : K }[CountField],
] extends [never, never]
  ? true
  : never = true;
void refsAreCounts;

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

/** A field's name as it may appear in generated code: the table's names are identifiers, checked so that nothing else can reach the source. */
export function identifier(name: string): string {
  if (!/^[A-Za-z][A-Za-z0-9]*$/.test(name)) throw new Error(`not a field name: ${name}`);
  return name;
}

/**
 * Writes out, once, a function of `s` returning one object literal with `keys` in this order: each
 * count as `read(name)` gives its expression (of `s`), every other key `blank`, for the caller to
 * fill. The code on record()'s path that reads or copies every count is made so: one literal of a
 * fixed shape, each count read by its name, is what V8 makes fast, where a loop over the counts
 * (`o[name] = s[name]`, a lookup by a different name each time) is several times slower
 * (bench/record.ts). `scope` names the functions `read`'s expressions call.
 */
export function compileLiteral<S, T>(
  keys: readonly string[],
  read: (count: CountField) => string,
  blank: 'null' | 'undefined',
  scope: Readonly<Record<string, unknown>> = {},
): (s: S) => T {
  const counts = new Set<string>(COUNT_FIELDS);
  const body = keys.map((k) => `${identifier(k)}: ${counts.has(k) ? read(k as CountField) : blank}`).join(',\n');
  const names = Object.keys(scope).map(identifier);
  return new Function(...names, `'use strict'; return function literal(s) { return {\n${body}\n}; };`)(...names.map((n) => scope[n]));
}
