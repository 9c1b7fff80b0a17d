import type { UsageRecord } from '../usage.ts';
import { countOf, decodeBatch, type EncodedBatch, encodeInto, STRING_AT, StringTable, sharedValues, WIDTH } from './encoded-batch.ts';

/** Rewrites the string indexes of records `from` to `to` of `v` through `index` (a new table's). */
function reindexStrings(v: Float64Array, from: number, to: number, index: (i: number) => number): void {
  for (let o = from * WIDTH; o < to * WIDTH; o += WIDTH) {
    for (const at of STRING_AT) {
      const i = v[o + at] as number;
      if (i >= 0) v[o + at] = index(i);
    }
  }
}

/** Whether a chunk has no room left. */
const full = (c: Chunk): boolean => c.end * WIDTH === c.values.length;

/** Strings a table holds before it is first rebuilt (see #compactIfSparse). */
const MIN_COMPACT = 1024;

/** Records `start` to `end` of a chunk's values wait. */
interface Chunk {
  values: Float64Array<SharedArrayBuffer>;
  start: number;
  end: number;
}

/**
 * The records waiting to be written, encoded as they come (encoded-batch.ts). A record object
 * kept until its batch is written lives through several garbage collections and is copied into
 * the old generation, to be collected there (measured, openai 6 streams, default config: some
 * 0.5 KB a call less promoted once encoded); encoded, it dies young, and a waiting record costs
 * WIDTH × 8 bytes plus its new strings (209 bytes a record against 360 as an object, measured).
 *
 * The values are kept in chunks of `batchSize` records: a chunk filled is handed over as a batch
 * as it is, and a backlog is taken from the front and added to at the end without moving what
 * waits. The strings are one table for all the chunks.
 */
export class PendingRecords {
  readonly #size: number;
  readonly #chunks: Chunk[] = [];
  #n = 0;
  #table = new StringTable();
  /** The table's size past which it is rebuilt from the records waiting (#compactIfSparse). */
  #compactAt = MIN_COMPACT;
  /** Chunks written and given back (recycle), reused: a SharedArrayBuffer is slow to allocate (~70 µs for 1,000 records, measured). */
  readonly #spare: Float64Array<SharedArrayBuffer>[] = [];

  /** `size`: records a chunk holds (the writer's batchSize). */
  constructor(size: number) {
    this.#size = Math.max(1, size);
  }

  get length(): number {
    return this.#n;
  }

  /** Queues a record. Throws (with nothing queued) only when its metadata cannot be written as JSON. */
  push(r: UsageRecord): void {
    let last = this.#chunks[this.#chunks.length - 1];
    if (last === undefined || full(last)) {
      last = { values: this.#spare.pop() ?? sharedValues(this.#size), start: 0, end: 0 };
      this.#chunks.push(last);
    }
    encodeInto(last.values, last.end * WIDTH, r, this.#table);
    last.end++;
    this.#n++;
  }

  /** Takes the first `max` records (all when fewer wait) as one batch of their own. */
  take(max = this.#n): EncodedBatch {
    const k = Math.min(max, this.#n);
    const first = this.#chunks[0];
    let values: Float64Array<SharedArrayBuffer>;
    if (first !== undefined && first.start === 0 && first.end === k && full(first)) {
      // A chunk filled, and all that is asked for: handed over as it is.
      values = first.values;
      this.#chunks.shift();
      this.#n -= k;
    } else {
      values = (k === this.#size ? this.#spare.pop() : undefined) ?? sharedValues(k);
      let o = 0;
      while (o < k * WIDTH) {
        const c = this.#chunks[0] as Chunk;
        const m = Math.min(c.end - c.start, k - o / WIDTH);
        values.set(c.values.subarray(c.start * WIDTH, (c.start + m) * WIDTH), o);
        o += m * WIDTH;
        this.#forget(m);
      }
    }
    if (this.#n === 0) {
      // The usual case: everything went, and the next records start a table of their own.
      const strings = this.#table.strings;
      this.clear();
      return { values, strings };
    }
    // A backlog: the rest stays, its indexes into the same strings (a batch may carry strings it does not use).
    const strings = this.#table.strings.slice();
    this.#compactIfSparse();
    return { values, strings };
  }

  /**
   * Lets go of the `m` first records (at most the first chunk's). A chunk emptied is let go of too,
   * but the last while it has room (the next records go there), so a first chunk is never empty
   * while records wait.
   */
  #forget(m: number): void {
    const c = this.#chunks[0] as Chunk;
    c.start += m;
    this.#n -= m;
    if (c.start === c.end && (this.#chunks.length > 1 || full(c))) this.#chunks.shift();
  }

  /** A batch taken from here was written: its memory may hold the next records. */
  recycle(batch: EncodedBatch): void {
    const v = batch.values;
    if (v.length === this.#size * WIDTH && v.buffer instanceof SharedArrayBuffer && this.#spare.length < 2)
      this.#spare.push(v as Float64Array<SharedArrayBuffer>);
  }

  /** Puts a batch back in front of what waits (its write failed), in order. */
  unshift(batch: EncodedBatch): void {
    const k = countOf(batch);
    if (k === 0) return;
    const v = sharedValues(k);
    v.set(batch.values);
    // The batch's strings, by their index in this table.
    const map = batch.strings.map((x) => this.#table.index(x));
    reindexStrings(v, 0, k, (i) => map[i] as number);
    this.#chunks.unshift({ values: v, start: 0, end: k });
    this.#n += k;
  }

  /** Drops the `k` oldest records. */
  dropOldest(k: number): void {
    let d = Math.min(k, this.#n);
    while (d > 0) {
      const c = this.#chunks[0] as Chunk;
      const m = Math.min(d, c.end - c.start);
      this.#forget(m);
      d -= m;
    }
    if (this.#n === 0) this.clear();
    else this.#compactIfSparse();
  }

  /**
   * Strings only the records gone used are let go of (unique error messages or metadata, in a
   * backlog that never empties, would otherwise pile up): the table is rebuilt from the records
   * waiting once it has grown to twice what the last rebuild kept, so that its memory stays within
   * twice what the records waiting use, and a rebuild (which reads them all) comes once per so
   * many new strings, not once per record.
   */
  #compactIfSparse(): void {
    if (this.#table.strings.length <= this.#compactAt) return;
    const old = this.#table.strings;
    this.#table = new StringTable();
    for (const c of this.#chunks) reindexStrings(c.values, c.start, c.end, (i) => this.#table.index(old[i] as string));
    this.#compactAt = 2 * this.#table.strings.length + MIN_COMPACT;
  }

  /** The first `k` records waiting, as record objects. */
  records(k = this.#n): UsageRecord[] {
    const out: UsageRecord[] = [];
    for (const c of this.#chunks) {
      if (out.length >= k) break;
      const m = Math.min(c.end - c.start, k - out.length);
      for (const r of decodeBatch({ values: c.values, strings: this.#table.strings }, c.start, c.start + m)) out.push(r);
    }
    return out;
  }

  /** Lets go of everything waiting. */
  clear(): void {
    this.#chunks.length = 0;
    this.#n = 0;
    this.#table = new StringTable();
    this.#compactAt = MIN_COMPACT;
  }
}
