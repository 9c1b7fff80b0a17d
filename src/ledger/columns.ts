import type { UsageRecord } from '../usage.ts';

/**
 * The record fields in export order, with their snake_case names (CSV headers, JSON export and
 * archive keys, SQL columns of the `usage_records` view).
 */
export const RECORD_COLUMNS = [
  ['timestamp', 'timestamp'],
  ['provider', 'provider'],
  ['serviceType', 'service_type'],
  ['model', 'model'],
  ['requestModel', 'request_model'],
  ['operation', 'operation'],
  ['inputTokens', 'input_tokens'],
  ['outputTokens', 'output_tokens'],
  ['cachedInputTokens', 'cached_input_tokens'],
  ['cacheWriteTokens', 'cache_write_tokens'],
  ['cacheWrite1hTokens', 'cache_write_1h_tokens'],
  ['inputAudioTokens', 'input_audio_tokens'],
  ['cachedAudioTokens', 'cached_audio_tokens'],
  ['outputAudioTokens', 'output_audio_tokens'],
  ['outputImageTokens', 'output_image_tokens'],
  ['reasoningTokens', 'reasoning_tokens'],
  ['totalTokens', 'total_tokens'],
  ['searchUnits', 'search_units'],
  ['webSearches', 'web_searches'],
  ['costUsd', 'cost_usd'],
  ['apiKeyId', 'api_key_id'],
  ['userId', 'user_id'],
  ['threadId', 'thread_id'],
  ['agent', 'agent'],
  ['durationMs', 'duration_ms'],
  ['error', 'error'],
  ['errorType', 'error_type'],
  ['errorMessage', 'error_message'],
  ['metadata', 'metadata'],
] as const satisfies readonly (readonly [keyof UsageRecord, string])[];

/** A record with snake_case keys and an ISO 8601 timestamp, as exports and archives hold it. */
export function toSnakeRecord(r: UsageRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, name] of RECORD_COLUMNS) out[name] = field === 'timestamp' ? new Date(r.timestamp).toISOString() : r[field];
  return out;
}

/** The reverse of {@link toSnakeRecord}; the exact cost comes back from the USD figure. */
export function fromSnakeRecord(o: Record<string, unknown>): UsageRecord {
  const r: Record<string, unknown> = {};
  for (const [field, name] of RECORD_COLUMNS) r[field] = o[name] ?? (field === 'error' ? false : null);
  r.timestamp = Date.parse(String(o.timestamp));
  r.costPicoUsd =
    typeof o.cost_pico_usd === 'number' ? o.cost_pico_usd : typeof r.costUsd === 'number' ? Math.round(r.costUsd * 1e12) : null;
  return r as unknown as UsageRecord;
}
