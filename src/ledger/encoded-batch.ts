import type { UsageRecord } from '../usage.ts';
import type { RareCount } from '../usage-fields.ts';
import { rareCounts, rareJson } from './rare.ts';

/**
 * A batch of records as one Float64Array and a table of its distinct strings: how the writer keeps
 * the records waiting (pending.ts), how the main thread hands a batch to the writer thread (its
 * memory shared, not copied), and what the SQLite store writes from (each distinct string's
 * dictionary id looked up once a batch, no record object built per row).
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
 * writer's batches are over a SharedArrayBuffer (`sharedValues`): sent to the writer thread, it is
 * shared, neither copied (a structured clone of the values cost the main thread some 0.2 µs a
 * record, measured) nor transferred (the writer keeps the batch until it is written, to retry it).
 * A flat array of values would cost 1.97 µs a record (structured clone tags and copies each value).
 */
export interface EncodedBatch {
  values: Float64Array<ArrayBufferLike>;
  strings: string[];
}

/** Where the fields carried as indexes into the batch's strings sit (the string fields, metadata, rare). */
export const STRING_AT: readonly number[] = [...STRINGS, 'metadata', 'rare'].map((f) => AT[f as keyof typeof AT]);

/**
 * A batch's table of distinct strings: `index(x)` is x's place in `strings`, added when new, or -1
 * for null. A class rather than a closure made per table, so that encodeInto's calls keep one
 * target from batch to batch.
 */
export class StringTable {
  readonly strings: string[];
  readonly #index = new Map<string, number>();

  constructor(strings: string[] = []) {
    this.strings = strings;
    for (let k = strings.length - 1; k >= 0; k--) this.#index.set(strings[k] as string, k);
  }

  index(x: string | null): number {
    if (x === null) return -1;
    let k = this.#index.get(x);
    if (k === undefined) {
      k = this.strings.length;
      this.strings.push(x);
      this.#index.set(x, k);
    }
    return k;
  }
}

const n = (x: number | null | undefined): number => (x === null || x === undefined ? Number.NaN : x);

/**
 * Writes record `r` into `v` at offset `o` (WIDTH values), its strings as indexes into `t`
 * (spelt out field by field: a loop over the names is slower). Throws only when its metadata
 * cannot be written as JSON, before anything is written.
 */
export function encodeInto(v: Float64Array, o: number, r: UsageRecord, t: StringTable): void {
  const metadata = r.metadata === null ? null : JSON.stringify(r.metadata);
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
  v[o + 11] = t.index(r.provider);
  v[o + 12] = t.index(r.serviceType);
  v[o + 13] = t.index(r.model);
  v[o + 14] = t.index(r.requestModel);
  v[o + 15] = t.index(r.operation);
  v[o + 16] = t.index(r.apiKeyId);
  v[o + 17] = t.index(r.userId);
  v[o + 18] = t.index(r.threadId);
  v[o + 19] = t.index(r.agent);
  v[o + 20] = t.index(r.errorMessage);
  v[o + 21] = t.index(r.errorType);
  v[o + 22] = t.index(metadata);
  v[o + 23] = t.index(rareJson(r));
  v[o + 24] = n(r.inputCostUsd);
  v[o + 25] = n(r.outputCostUsd);
}

/** Room for `records` encoded records, in memory a worker thread can be given without a copy. */
export const sharedValues = (records: number): Float64Array<SharedArrayBuffer> =>
  new Float64Array(new SharedArrayBuffer(records * WIDTH * Float64Array.BYTES_PER_ELEMENT));

/** A batch for the writer thread. */
export function encodeBatch(batch: readonly UsageRecord[]): EncodedBatch {
  const v = new Float64Array(batch.length * WIDTH);
  const t = new StringTable();
  let o = 0;
  for (const r of batch) {
    encodeInto(v, o, r, t);
    o += WIDTH;
  }
  return { values: v, strings: t.strings };
}

/** Records in an encoded batch. */
export const countOf = (batch: EncodedBatch): number => batch.values.length / WIDTH;

const NUMBER_FIELDS: ReadonlySet<string> = new Set<string>([...NUMBERS, ...SPLIT]);

/**
 * The records `from` to `to` of an encoded batch, as they were given to encodeInto (for the stores
 * that write record objects, and for budget seeding's count of what is not written yet).
 */
export function decodeBatch(batch: EncodedBatch, from = 0, to = countOf(batch)): UsageRecord[] {
  const { values: v, strings } = batch;
  const out: UsageRecord[] = [];
  for (let o = from * WIDTH; o < to * WIDTH; o += WIDTH) {
    const r: Record<string, unknown> = {};
    RECORD_FIELDS.forEach((f, i) => {
      const x = v[o + i] as number;
      if (NUMBER_FIELDS.has(f)) r[f] = Number.isNaN(x) ? null : x;
      else if (f === 'error') r[f] = x === 1;
      else if (f === 'metadata') r[f] = x < 0 ? null : JSON.parse(strings[x] as string);
      else if (f === 'rare') Object.assign(r, rareCounts(x < 0 ? null : (strings[x] as string)));
      else r[f] = x < 0 ? null : strings[x];
    });
    out.push(r as unknown as UsageRecord);
  }
  return out;
}
