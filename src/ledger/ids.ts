/** Ids are the timestamp in ms times this, plus a sequence number (schema.ts). */
export const ID_SCALE = 1024;

/**
 * Hands out record ids inside one write transaction, in linear time however many records share a
 * millisecond. The first free id of a millisecond is read once per batch (one indexed `MAX(id)`
 * over its 1,024 ids, and not even that for milliseconds after the ledger's last row), and the
 * batch's records of that millisecond take the ids after it in turn. When all 1,024 are taken the
 * next record carries into the next millisecond, after that one's own rows: its time moves on by
 * a millisecond per 1,024 records of the burst, never onto an id another record holds.
 *
 * It must live no longer than its transaction: another process may write between two.
 */
export class IdAllocator {
  /** The next free id of each millisecond this batch has written to (it may lie in a later millisecond, once full). */
  readonly #next = new Map<number, number>();
  readonly #lastMs: number;
  readonly #firstFree: (ms: number) => number;

  /**
   * @param lastId the ledger's highest id when the transaction began, null when it is empty
   * @param firstFree the first id after a millisecond's rows (its first id when it has none), read from the ledger
   */
  constructor(lastId: number | null, firstFree: (ms: number) => number) {
    this.#lastMs = lastId === null ? Number.NEGATIVE_INFINITY : Math.floor(lastId / ID_SCALE);
    this.#firstFree = firstFree;
  }

  #nextIn(ms: number): number {
    const known = this.#next.get(ms);
    if (known !== undefined) return known;
    // Live traffic lands after the last row: nothing to read.
    return ms > this.#lastMs ? ms * ID_SCALE : this.#firstFree(ms);
  }

  /** The id of a record of millisecond `ms` (a whole number). */
  take(ms: number): number {
    let at = ms;
    let id = this.#nextIn(ms);
    // Full: carry into the next millisecond, after whatever it holds.
    while (Math.floor(id / ID_SCALE) !== at) {
      at = Math.floor(id / ID_SCALE);
      id = Math.max(id, this.#nextIn(at));
    }
    this.#next.set(ms, id + 1);
    if (at !== ms) this.#next.set(at, id + 1);
    return id;
  }
}

/**
 * A map that keeps at most about `2 × size` entries, the recently used ones: entries go into a
 * young generation; when it is full it becomes the old one and the previous old one is dropped;
 * an old entry read again moves back into the young one. The dictionary of a long-running ledger
 * writer sees a new thread or user id on every call, so an unbounded map grows with the ledger.
 */
export class RecentMap<K, V> {
  #young = new Map<K, V>();
  #old = new Map<K, V>();
  readonly #size: number;

  constructor(size: number) {
    this.#size = size;
  }

  get(key: K): V | undefined {
    const v = this.#young.get(key);
    if (v !== undefined) return v;
    const o = this.#old.get(key);
    if (o !== undefined) this.set(key, o);
    return o;
  }

  set(key: K, value: V): void {
    this.#young.set(key, value);
    if (this.#young.size >= this.#size) {
      this.#old = this.#young;
      this.#young = new Map();
    }
  }

  delete(key: K): void {
    this.#young.delete(key);
    this.#old.delete(key);
  }

  /** How many entries it holds (an entry may be counted twice, once in each generation). */
  get size(): number {
    return this.#young.size + this.#old.size;
  }
}
