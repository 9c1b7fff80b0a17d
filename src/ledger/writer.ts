import type { UsageRecord } from '../usage.ts';
import type { LedgerStore } from './types.ts';

/** How records reach the ledger. */
export interface LedgerWriterOptions {
  /**
   * `batch`: records are queued and written in batches off the hot path, made durable by
   * `flush()`, `close()` and on process exit. `sync`: each record is written before `record()`
   * returns. @default 'batch'
   */
  durability?: 'batch' | 'sync';
  /** Write when this many records wait. @default 1000 */
  batchSize?: number;
  /** Write at least this often while records wait, in ms. @default 1000 */
  flushIntervalMs?: number;
  /** The most records kept in memory while the ledger cannot be written; past it the oldest are dropped, with an error. @default 100000 */
  maxPending?: number;
}

/** What the writer reports about itself (`monitor.health().ledger`). */
export interface LedgerHealth {
  ok: boolean;
  location: string | undefined;
  /** Records waiting to be written. */
  pending: number;
  /** Records written by this process. */
  written: number;
  /** Records lost because the ledger stayed unwritable past `maxPending`. */
  dropped: number;
  /** The last write failure, until a write succeeds. */
  lastError: string | undefined;
  lastWriteAt: number | undefined;
}

interface Hooks {
  /** A write (or open) failed: log it and count it. Called once per failure streak, and once per drop. */
  onError(message: string, error: unknown): void;
  /** Writes work again after a failure. */
  onRecovered(message: string): void;
}

const DEFAULTS = { durability: 'batch', batchSize: 1000, flushIntervalMs: 1000, maxPending: 100_000 } as const;
const MAX_RETRY_MS = 30_000;
/** Past this many batches waiting, `add()` writes synchronously. */
const BACKPRESSURE = 10;

/**
 * Queues records and writes them in batches. A failed write (full disk, read-only file, a lock
 * held too long) keeps the batch, in order, and retries with backoff; nothing is dropped until
 * `maxPending` records wait, and then loudly. Nothing here ever throws into `add()`.
 */
export class LedgerWriter {
  readonly #open: () => LedgerStore;
  readonly #hooks: Hooks;
  readonly #o: Required<LedgerWriterOptions>;
  #store: LedgerStore | undefined;
  #pending: UsageRecord[] = [];
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;
  #failing = false;
  #retryMs = 0;
  #retryAt = 0;
  #written = 0;
  #dropped = 0;
  #lastError: string | undefined;
  #lastWriteAt: number | undefined;
  #closed = false;
  #droppedInStreak = false;

  constructor(open: () => LedgerStore, hooks: Hooks, options: LedgerWriterOptions = {}) {
    this.#open = open;
    this.#hooks = hooks;
    this.#o = { ...DEFAULTS, ...options };
    exitHooks.add(this);
  }

  /** The store, opened on first use (and reopened after a failure to open). */
  store(): LedgerStore {
    this.#store ??= this.#open();
    return this.#store;
  }

  add(record: UsageRecord): void {
    if (this.#closed) return;
    this.#pending.push(record);
    if (this.#o.durability === 'sync') {
      this.flushSync();
      return;
    }
    if (this.#pending.length >= this.#o.batchSize * BACKPRESSURE && !this.#failing && this.#store?.writeSync !== undefined) {
      // A burst of calls that never lets the event loop run (so the timer cannot write): write
      // now rather than let the queue grow without bound.
      this.flushSync();
      return;
    }
    if (this.#pending.length > this.#o.maxPending) this.#drop();
    if (this.#pending.length >= this.#o.batchSize && !this.#failing) {
      this.#schedule(0);
    } else {
      this.#schedule(this.#failing ? Math.max(0, this.#retryAt - Date.now()) : this.#o.flushIntervalMs);
    }
  }

  #drop(): void {
    const n = this.#pending.length - this.#o.maxPending;
    this.#pending.splice(0, n);
    this.#dropped += n;
    // Said once per failure streak (health() counts every one), not once per record.
    if (this.#droppedInStreak) return;
    this.#droppedInStreak = true;
    this.#hooks.onError(
      `ledger unwritable for too long: more than ${this.#o.maxPending} records wait in memory (maxPending), so the oldest are being dropped until it can be written (health().ledger.dropped counts them)`,
      new Error(this.#lastError ?? 'ledger unwritable'),
    );
  }

  #schedule(ms: number): void {
    if (this.#timer !== undefined) {
      if (ms > 0) return;
      clearTimeout(this.#timer);
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush().catch(() => {});
    }, ms);
    this.#timer.unref();
  }

  /** Writes everything waiting, now, synchronously (process exit, `durability: 'sync'`). Never throws. */
  flushSync(): boolean {
    if (this.#pending.length === 0) return true;
    const batch = this.#pending;
    this.#pending = [];
    try {
      const store = this.store();
      if (store.writeSync === undefined) {
        // A store that only writes asynchronously: as soon as the event loop turns.
        this.#pending = batch.concat(this.#pending);
        this.#schedule(0);
        return false;
      }
      store.writeSync(batch);
      this.#succeeded(batch.length);
      return true;
    } catch (error) {
      this.#failed(batch, error);
      return false;
    }
  }

  /** Writes everything waiting; resolves once it is durable. Rejects when the ledger cannot be written (the records stay queued). */
  async flush(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing;
    if (this.#pending.length === 0) {
      if (this.#failing && this.#lastError !== undefined) throw new Error(this.#lastError);
      return;
    }
    const batch = this.#pending;
    this.#pending = [];
    let error: unknown;
    this.#writing = (async () => {
      try {
        await this.store().write(batch);
        this.#succeeded(batch.length);
      } catch (e) {
        error = e;
        this.#failed(batch, e);
      }
    })();
    await this.#writing;
    this.#writing = undefined;
    if (error !== undefined) throw error;
  }

  #succeeded(n: number): void {
    this.#written += n;
    this.#lastWriteAt = Date.now();
    if (this.#failing) {
      this.#failing = false;
      this.#droppedInStreak = false;
      this.#retryMs = 0;
      this.#lastError = undefined;
      this.#hooks.onRecovered(`ledger writable again: ${n} waiting records written`);
    }
    if (this.#pending.length > 0) this.#schedule(this.#pending.length >= this.#o.batchSize ? 0 : this.#o.flushIntervalMs);
  }

  #failed(batch: UsageRecord[], error: unknown): void {
    // Keep the batch ahead of what arrived since, in order.
    this.#pending = batch.concat(this.#pending);
    if (this.#pending.length > this.#o.maxPending) this.#drop();
    this.#lastError = (error as Error)?.message ?? String(error);
    if (!this.#failing)
      this.#hooks.onError(`cannot write the ledger; ${this.#pending.length} records kept in memory and retried: ${this.#lastError}`, error);
    this.#failing = true;
    this.#retryMs = Math.min(MAX_RETRY_MS, this.#retryMs === 0 ? 250 : this.#retryMs * 2);
    this.#retryAt = Date.now() + this.#retryMs;
    if (!this.#closed) this.#schedule(this.#retryMs);
  }

  health(): LedgerHealth {
    return {
      ok: !this.#failing && this.#dropped === 0,
      location: this.#store?.location,
      pending: this.#pending.length,
      written: this.#written,
      dropped: this.#dropped,
      lastError: this.#lastError,
      lastWriteAt: this.#lastWriteAt,
    };
  }

  /** Writes what waits and closes the store. Safe to call twice; rejects if the last write failed (the records are reported lost). */
  async close(): Promise<void> {
    if (this.#closed) return;
    let error: unknown;
    try {
      await this.flush();
    } catch (e) {
      error = e;
    }
    this.#closed = true;
    exitHooks.delete(this);
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    await this.#store?.close();
    if (error !== undefined && this.#pending.length > 0) {
      const n = this.#pending.length;
      this.#dropped += n;
      this.#pending = [];
      this.#hooks.onError(`closing with the ledger unwritable: ${n} records were not written`, error);
    }
  }
}

/**
 * Writes every open writer's queue when the process exits normally or is stopped by SIGINT or
 * SIGTERM. One listener per event for all writers; after a signal, the default action (exit) is
 * kept unless the application listens for that signal itself.
 */
const exitHooks = new (class {
  readonly #writers = new Set<LedgerWriter>();
  readonly #onExit = () => {
    for (const w of this.#writers) w.flushSync();
  };
  readonly #onSignal = (signal: NodeJS.Signals) => {
    this.#onExit();
    if (process.listenerCount(signal) === 1) {
      this.#detach();
      process.kill(process.pid, signal);
    }
  };

  add(w: LedgerWriter): void {
    if (this.#writers.size === 0) {
      process.on('exit', this.#onExit);
      process.on('SIGINT', this.#onSignal);
      process.on('SIGTERM', this.#onSignal);
    }
    this.#writers.add(w);
  }

  delete(w: LedgerWriter): void {
    if (this.#writers.delete(w) && this.#writers.size === 0) this.#detach();
  }

  #detach(): void {
    process.off('exit', this.#onExit);
    process.off('SIGINT', this.#onSignal);
    process.off('SIGTERM', this.#onSignal);
  }
})();
