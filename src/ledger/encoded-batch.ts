import type { UsageRecord } from '../usage.ts';
import type { RareCount } from '../usage-fields.ts';
import { rareJson } from './rare.ts';

/**
 * A batch of records as one Float64Array and a table of its distinct strings: how the main thread
 * hands a batch to the writer thread (the buffer is transferred, not copied), and what the SQLite
 * store writes from (each distinct string's dictionary id looked up once a batch, no record object
 * built per row).
 */

/** The common count and money fields of a record, carried as numbers (null as NaN). */
const NUMBERS = [
  'timestamp',
  'inputTokens',
  'outputTokens',
  'cachedInputTokens',
  'cacheWriteTokens',
  'reasoningTokens',
  'totalTokens',
  'costUsd',
  'costPicoUsd',
  'durationMs',
] as const satisfies readonly (keyof UsageRecord)[];
/** The cost's two sides (schema 7), after the rest: the output side is what the ledger keeps (the input side is the cost less it). */
const SPLIT = ['inputCostUsd', 'outputCostUsd'] as const satisfies readonly (keyof UsageRecord)[];
/** The string fields, carried as indexes into the batch's table of strings (null as -1). */
const STRINGS = [
  'provider',
  'serviceType',
  'model',
  'requestModel',
  'operation',
  'apiKeyId',
  'userId',
  'threadId',
  'agent',
  'errorMessage',
  'errorType',
] as const satisfies readonly (keyof UsageRecord)[];

/**
 * Every field of a record, in the order a batch carries them to the writer thread; the rare counts
 * (usage-fields.ts) travel together as the `rare` column's JSON (rare.ts), a string of the batch.
 */
export const RECORD_FIELDS = [...NUMBERS, 'error', ...STRINGS, 'metadata', 'rare', ...SPLIT] as const;

// A field added to UsageRecord and neither here nor among the rare counts fails to compile.
const everyField: Record<Exclude<keyof UsageRecord, (typeof RECORD_FIELDS)[number] | RareCount>, never> = {};
void everyField;

/** Values per record in an encoded batch. */
export const WIDTH = RECORD_FIELDS.length;

/** Where each field sits within a record's values: `values[o + AT.model]` for the record at offset `o`. */
export const AT = Object.fromEntries(RECORD_FIELDS.map((f, i) => [f, i])) as { readonly [F in (typeof RECORD_FIELDS)[number]]: number };

/**
 * A batch as the writer thread receives it: every field a float64 (numbers, the error flag, and
 * indexes into `strings`, each distinct string of the batch once; metadata as its JSON). The
 * array's buffer is transferred, not copied: sending costs the main thread about a fifth of what a
 * flat array of values does (structured clone tags and copies each value; 0.44 against 1.97 µs a
 * record, measured).
 */
export interface EncodedBatch {
  values: Float64Array<ArrayBuffer>;
  strings: string[];
}

/** A batch for the writer thread (spelt out field by field: a loop over the names is slower). */
export function encodeBatch(batch: readonly UsageRecord[]): EncodedBatch {
  const v = new Float64Array(batch.length * WIDTH);
  const strings: string[] = [];
  const index = new Map<string, number>();
  const s = (x: string | null): number => {
    if (x === null) return -1;
    let k = index.get(x);
    if (k === undefined) {
      k = strings.length;
      strings.push(x);
      index.set(x, k);
    }
    return k;
  };
  const n = (x: number | null | undefined): number => (x === null || x === undefined ? Number.NaN : x);
  let o = 0;
  for (const r of batch) {
    v[o] = r.timestamp;
    v[o + 1] = n(r.inputTokens);
    v[o + 2] = n(r.outputTokens);
    v[o + 3] = n(r.cachedInputTokens);
    v[o + 4] = n(r.cacheWriteTokens);
    v[o + 5] = n(r.reasoningTokens);
    v[o + 6] = n(r.totalTokens);
    v[o + 7] = n(r.costUsd);
    v[o + 8] = n(r.costPicoUsd);
    v[o + 9] = n(r.durationMs);
    v[o + 10] = r.error ? 1 : 0;
    v[o + 11] = s(r.provider);
    v[o + 12] = s(r.serviceType);
    v[o + 13] = s(r.model);
    v[o + 14] = s(r.requestModel);
    v[o + 15] = s(r.operation);
    v[o + 16] = s(r.apiKeyId);
    v[o + 17] = s(r.userId);
    v[o + 18] = s(r.threadId);
    v[o + 19] = s(r.agent);
    v[o + 20] = s(r.errorMessage);
    v[o + 21] = s(r.errorType);
    v[o + 22] = r.metadata === null ? -1 : s(JSON.stringify(r.metadata));
    v[o + 23] = s(rareJson(r));
    v[o + 24] = n(r.inputCostUsd);
    v[o + 25] = n(r.outputCostUsd);
    o += WIDTH;
  }
  return { values: v, strings };
}
