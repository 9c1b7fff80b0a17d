import type { LedgerStore } from './types.ts';

/** How records reach the ledger. */
export interface LedgerWriterOptions {
  /**
   * `batch`: records are queued and written in batches off the hot path (by a writer thread for
   * the SQLite file), made durable by `flush()`, `close()` and on process exit. `sync`: each record
   * is written before `record()` returns, on the calling thread. @default 'batch'
   */
  durability?: 'batch' | 'sync';
  /** Write when this many records wait. @default 1000 */
  batchSize?: number;
  /** Write at least this often while records wait, in ms. @default 1000 */
  flushIntervalMs?: number;
  /**
   * The most records kept in memory, waiting or being written (a loop that records faster than the
   * disk writes, or a ledger that cannot be written); past it the oldest are dropped, with an
   * error. @default 1000000
   */
  maxPending?: number;
  /** Write the SQLite file from a worker thread (`batch` durability only). @default true */
  thread?: boolean;
}

/** Where the records go: a SQLite file this writer opens (and reopens), or a store of the caller's. */
export type LedgerTarget = { file: string } | (() => LedgerStore);

/** What an option left out means. */
export const WRITER_DEFAULTS = {
  durability: 'batch',
  batchSize: 1000,
  flushIntervalMs: 1000,
  maxPending: 1_000_000,
  thread: true,
} as const;
