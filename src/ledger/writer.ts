import type { UsageRecord } from '../usage.ts';
import type { BudgetAlertRow } from './budget-alerts.ts';
import { countOf, decodeBatch, type EncodedBatch } from './encoded-batch.ts';
import { PendingRecords } from './pending.ts';
import type { LedgerStore } from './types.ts';
import { type InFlight, inFlight, MAX_BATCHES_IN_ONE } from './writer-batch.ts';
import { exitHooks } from './writer-exit.ts';
import { type LedgerHealth, type LedgerWriterHooks, WriterHealth } from './writer-health.ts';
import { type LedgerTarget, type LedgerWriterOptions, WRITER_DEFAULTS } from './writer-options.ts';
import { ReadGate } from './writer-reads.ts';
import { WriterStore } from './writer-store.ts';
import { answerError, EXIT_WAIT_MS, WriterThread } from './writer-thread.ts';
import type { FromWorker } from './writer-worker.ts';

/** Re-exported where they were always imported from (monitor-options.ts). */
export type { LedgerHealth, LedgerTarget, LedgerWriterOptions };

/** How long budget seeding waits for the writer thread's batch before counting it from memory. */
const SEED_WAIT_MS = 50;

/**
 * Queues records and writes them in batches, never on the caller's thread in `batch` durability:
 * the SQLite file is written by a worker thread with its own connection (WAL lets this thread's
 * reads run beside it), other stores from a timer. `add()` only queues, and hands a batch to the
 * writer thread (its values in shared memory, no disk I/O) when `batchSize` records wait and none
 * is being written. A failed write (full disk, read-only file, a lock held too long) keeps the batch, in
 * order, and retries with backoff; nothing is dropped until `maxPending` records wait, and then
 * loudly. A ledger file deleted or replaced while in use is noticed before the next batch,
 * reported, and opened afresh. Nothing here ever throws into `add()`.
 */
export class LedgerWriter {
  readonly #store: WriterStore;
  readonly #health: WriterHealth;
  readonly #o: Required<LedgerWriterOptions>;
  #thread: WriterThread | undefined;
  /** The records waiting to be written, encoded as they come (pending.ts). */
  readonly #pending: PendingRecords;
  /** Budget alerts waiting to be kept (addAlerts). */
  #alerts: BudgetAlertRow[] = [];
  #inflight: InFlight | undefined;
  #seq = 0;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = 0;
  #closed = false;
  /** A write when the event loop ran out of work (beforeExit) failed: not tried again at exit. */
  #exitWriteFailed = false;
  /** Records add()ed so far (readBeside tells those recorded before a read from those since). */
  #added = 0;
  /** Reads under way beside the writer (readBeside): no batch starts while one runs. */
  readonly #reads = new ReadGate();
  /**
   * Records waiting upstream of this writer (calls the monitor records at the event loop's next
   * turn): handed over before what waits is written by `flush()` and at exit. Set by the monitor.
   */
  upstream: (() => void) | undefined = undefined;

  constructor(target: LedgerTarget, hooks: LedgerWriterHooks, options: LedgerWriterOptions = {}) {
    this.#health = new WriterHealth(hooks);
    this.#store = new WriterStore(target, this.#health);
    this.#o = { ...WRITER_DEFAULTS, ...options };
    this.#pending = new PendingRecords(this.#o.batchSize);
    exitHooks.add(this);
  }

  /** The store this thread reads from (and writes to, in-thread), opened on first use and reopened when its file went. */
  store(): LedgerStore {
    return this.#store.get();
  }

  /** Records waiting or being written. */
  get #waiting(): number {
    return this.#pending.length + (this.#inflight === undefined ? 0 : countOf(this.#inflight.batch));
  }

  /** Whether batches go to a writer thread. */
  get #threaded(): boolean {
    return this.#store.file !== undefined && this.#o.durability === 'batch' && this.#o.thread;
  }

  /**
   * Queues a record. In `sync` durability it is written now, and the result says whether it is
   * durable (false: it stays queued and is retried); otherwise true.
   */
  add(record: UsageRecord): boolean {
    if (this.#closed) return false;
    try {
      this.#pending.push(record);
    } catch (error) {
      // Validation lets no such record through; should one come, it alone is lost, and said so.
      this.#health.lost(1, `a record cannot be written to the ledger: ${(error as Error)?.message ?? error}`, error);
      return false;
    }
    this.#added++;
    if (this.#o.durability === 'sync') {
      // Not while a read beside the writer runs (budget seeding): that read must not find records
      // added after it began, which are counted as they come. Written right after it (false meanwhile).
      if (this.#reads.count === 0) return this.flushSync();
      this.#schedule(0);
      return false;
    }
    // A batch the writer thread finished is taken here, so a loop that never yields keeps it busy.
    this.#takeAnswer(0);
    if (this.#waiting > this.#o.maxPending) this.#drop();
    if (this.#pending.length >= this.#o.batchSize && !this.#health.failing && this.#inflight === undefined && this.#reads.count === 0) {
      if (this.#threaded) this.#start();
      else this.#schedule(0);
    } else if (this.#timer === undefined) {
      this.#schedule(this.#health.failing ? Math.max(0, this.#health.retryAt - Date.now()) : this.#o.flushIntervalMs);
    }
    return true;
  }

  /**
   * Queues budget alerts to be kept in the ledger with the next batch, which starts as soon as the
   * event loop turns (never here: this runs inside record()). A store that keeps none ignores them.
   */
  addAlerts(alerts: readonly BudgetAlertRow[]): void {
    if (this.#closed || alerts.length === 0) return;
    for (const a of alerts) this.#alerts.push(a);
    if (!this.#health.failing) this.#schedule(0);
    else if (this.#timer === undefined) this.#schedule(Math.max(0, this.#health.retryAt - Date.now()));
  }

  #drop(): void {
    const n = Math.min(this.#pending.length, this.#waiting - this.#o.maxPending);
    if (n <= 0) return;
    this.#pending.dropOldest(n);
    this.#health.dropped(n, this.#o.maxPending);
  }

  /** Arms the timer for `ms` from now, unless it is already due by then (never re-armed per record). */
  #schedule(ms: number): void {
    const at = Date.now() + ms;
    if (this.#timer !== undefined) {
      if (this.#timerAt <= at) return;
      clearTimeout(this.#timer);
    }
    this.#timerAt = at;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush().catch(() => {});
    }, ms);
    this.#timer.unref();
  }

  /** Starts writing everything waiting (one batch at a time); returns the batch in flight. */
  #start(): InFlight {
    // At most MAX_BATCHES_IN_ONE batches go at once: a backlog is written as a series of bounded
    // transactions (progress shows in health(), other processes get the lock between them).
    const most = this.#o.batchSize * MAX_BATCHES_IN_ONE;
    const batch = this.#pending.take(most);
    const alerts = this.#alerts;
    this.#alerts = [];
    const f = inFlight(++this.#seq, batch, alerts);
    this.#inflight = f;
    if (this.#threaded) {
      try {
        this.#thread ??= new WriterThread(
          this.#store.file?.path as string,
          this.#store.file?.identity,
          (m) => this.#answered(m),
          (e) => this.#threadDied(e),
        );
        this.#thread.send({ type: 'write', seq: f.seq, data: batch, alerts });
        return f;
      } catch (error) {
        this.#threadDied(error);
        return f;
      }
    }
    void this.#store.write(batch, alerts).then((error) => this.#finish(f, error));
    return f;
  }

  /** Takes the writer thread's answer to the batch in flight if it has come, first waiting up to `waitMs` for it. */
  #takeAnswer(waitMs: number): void {
    const f = this.#inflight;
    if (f === undefined || this.#thread === undefined) return;
    if (waitMs > 0) this.#thread.waitSync(f.seq, waitMs);
    this.#thread.poll(f.seq);
  }

  /** The writer thread's answer to a batch. */
  #answered(m: FromWorker): void {
    const f = this.#inflight;
    if (f === undefined || f.seq !== m.seq) return;
    if (m.lost !== undefined) this.#store.fileLost(m.lost.identity, m.lost.message);
    this.#finish(f, answerError(m));
  }

  /** The writer thread could not start or stopped: batches are written on this thread from now on, and the one in flight again. */
  #threadDied(error: unknown): void {
    this.#thread = undefined;
    this.#o.thread = false;
    this.#health.threadStopped(error);
    const f = this.#inflight;
    if (f !== undefined) {
      this.#inflight = undefined;
      this.#pending.unshift(f.batch);
      this.#alerts = f.alerts.concat(this.#alerts);
      f.settle(undefined);
      this.#schedule(0);
    }
  }

  #finish(f: InFlight, error: unknown): void {
    if (this.#inflight !== f) return;
    this.#inflight = undefined;
    if (error === undefined) {
      this.#pending.recycle(f.batch);
      this.#succeeded(countOf(f.batch));
    } else {
      this.#alerts = f.alerts.concat(this.#alerts);
      this.#failed(f.batch, error);
    }
    f.settle(error);
  }

  /**
   * Writes everything waiting, now, on this thread (process exit, `durability: 'sync'`, budget
   * seeding): first waits for the batch the writer thread has, if any. Never throws; true when
   * nothing waits any more.
   */
  flushSync(): boolean {
    this.#takeAnswer(EXIT_WAIT_MS);
    if (this.#alerts.length > 0) this.#keepAlertsSync();
    if (this.#pending.length === 0) return this.#inflight === undefined;
    let batch: EncodedBatch | undefined;
    try {
      // A store that only writes asynchronously: as soon as the event loop turns (nothing taken:
      // with `durability: 'sync'` this runs on every add()).
      if (!this.#store.writesSync()) {
        this.#schedule(0);
        return false;
      }
      batch = this.#pending.take();
      this.#store.writeSync(batch);
      this.#succeeded(countOf(batch));
      return this.#pending.length === 0;
    } catch (error) {
      this.#failed(batch, error);
      return false;
    }
  }

  /** Keeps the waiting budget alerts now, on this thread (flushSync); on failure they wait for the next write. */
  #keepAlertsSync(): void {
    const alerts = this.#alerts;
    this.#alerts = [];
    try {
      if (this.#store.keepAlertsSync(alerts) === 'later') {
        this.#alerts = alerts.concat(this.#alerts);
        this.#schedule(0);
      }
    } catch (error) {
      this.#alerts = alerts.concat(this.#alerts);
      this.#health.error(`cannot keep ${alerts.length} budget alerts in the ledger: ${(error as Error)?.message ?? error}`, error);
    }
  }

  /** Takes what waits upstream (see `upstream`) into the queue; never throws. */
  handOver(): void {
    try {
      this.upstream?.();
    } catch {
      // Reported where it failed; what was handed over is queued.
    }
  }

  /**
   * The event loop ran out of work (`beforeExit`): a store that only writes asynchronously
   * (PostgreSQL) is written now, which keeps the process alive until it is done, since its timer
   * does not. Once per failure: a ledger that cannot be written does not keep the process from
   * exiting (`exited()` then reports what is lost). True when a write started.
   */
  writeBeforeExit(): boolean {
    this.handOver();
    if (this.#closed || this.#exitWriteFailed) return false;
    if (this.#pending.length === 0 && this.#inflight === undefined) return false;
    if (this.#store.file !== undefined || this.#store.writesSync()) return false;
    void this.flush().catch(() => {
      this.#exitWriteFailed = true;
    });
    return true;
  }

  /**
   * The process exits (after `flushSync()`): records still queued for a store that cannot be
   * written synchronously are lost with the process. Counted in `dropped` and reported through
   * the error hook (log and `tokenmeter_internal_errors_total`), never silently.
   */
  exited(): void {
    const n = this.#waiting;
    if (n === 0 || this.#closed) return;
    this.#pending.clear();
    const sync = this.#store.file !== undefined || this.#store.opened?.writeSync !== undefined;
    this.#health.lostAtExit(n, this.#store.where ?? '', sync, this.#inflight !== undefined);
  }

  /** Writes everything waiting; resolves once it is durable. Rejects when the ledger cannot be written (the records stay queued). */
  async flush(): Promise<void> {
    this.handOver();
    // What waits now goes in bounded batches; records added meanwhile may ride along, but never
    // keep this waiting longer than the backlog it was called with.
    let rounds = Math.ceil((this.#pending.length + 1) / (this.#o.batchSize * MAX_BATCHES_IN_ONE)) + 1;
    for (;;) {
      while (this.#inflight !== undefined || this.#reads.done !== undefined) {
        if (this.#inflight !== undefined) await this.#inflight.done;
        else await this.#reads.done;
      }
      if ((this.#pending.length === 0 && this.#alerts.length === 0) || rounds-- === 0) {
        if (this.#health.failing && this.#health.lastError !== undefined) throw new Error(this.#health.lastError);
        return;
      }
      const f = this.#start();
      await f.done;
      if (f.error !== undefined) throw f.error;
    }
  }

  #succeeded(n: number): void {
    this.#exitWriteFailed = false;
    this.#health.wrote(n);
    if (this.#pending.length === 0 || this.#closed) return;
    // Not while a read beside the writer runs: it must find in the ledger only what was there when it began.
    if (this.#pending.length >= this.#o.batchSize && this.#threaded && this.#reads.count === 0) this.#start();
    else this.#schedule(this.#pending.length >= this.#o.batchSize ? 0 : this.#o.flushIntervalMs);
  }

  /** A write failed: its batch (none when it failed before one was taken) goes back ahead of what arrived since, in order. */
  #failed(batch: EncodedBatch | undefined, error: unknown): void {
    if (batch !== undefined) this.#pending.unshift(batch);
    if (this.#pending.length > this.#o.maxPending) this.#drop();
    const retryMs = this.#health.failed(error, this.#pending.length);
    if (!this.#closed) this.#schedule(retryMs);
  }

  /**
   * Reads the ledger beside this writer (budget seeding from an asynchronous store): waits for the
   * batch being written, holds the next ones back while `read` runs (writes wait, record() does
   * not), and hands it the records not written yet that were added before this call. A record is
   * then counted once: in the ledger, in that list, or (added since) by whoever counts from now on.
   */
  async readBeside<T>(read: (unwritten: readonly UsageRecord[]) => Promise<T>): Promise<T> {
    const added = this.#added;
    this.#reads.enter();
    try {
      // Nothing is read before this returns (a budget seeded from inside record() reads later).
      await undefined;
      while (this.#inflight !== undefined) await this.#inflight.done;
      // Those added since this call are the last ones (a failed batch goes back in front, in order).
      const since = Math.min(this.#pending.length, this.#added - added);
      return await read(this.#pending.records(this.#pending.length - since));
    } finally {
      if (this.#reads.leave()) {
        if (this.#pending.length > 0 && !this.#closed)
          this.#schedule(this.#pending.length >= this.#o.batchSize ? 0 : this.#o.flushIntervalMs);
      }
    }
  }

  /**
   * The records not in the ledger yet, for a reader that adds them to what the ledger holds
   * (budget seeding) without writing on this thread: first waits a moment for the batch the
   * writer thread has, so that a record is either in the ledger or in this list. Never throws.
   * A batch still being written after SEED_WAIT_MS (the file locked by another process) is listed
   * too: should it land while the reader reads, it counts twice, which makes a budget stricter for
   * a moment, never looser; and record() does not stall for the lock.
   */
  unwrittenSync(): readonly UsageRecord[] {
    this.#takeAnswer(SEED_WAIT_MS);
    const f = this.#inflight;
    return f === undefined ? this.#pending.records() : decodeBatch(f.batch).concat(this.#pending.records());
  }

  health(): LedgerHealth {
    return this.#health.report(this.#store.where, this.#waiting);
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
    await this.#thread?.close(++this.#seq);
    this.#thread = undefined;
    await this.#store.close();
    if (error !== undefined && this.#pending.length > 0) {
      const n = this.#pending.length;
      this.#pending.clear();
      this.#health.lost(n, `closing with the ledger unwritable: ${n} records were not written`, error);
    }
  }
}
