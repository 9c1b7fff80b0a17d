import { LedgerError } from '../errors.ts';

/** What the writer reports about itself (`monitor.health().ledger`). */
export interface LedgerHealth {
  ok: boolean;
  location: string | undefined;
  /** Records waiting to be written (those being written included). */
  pending: number;
  /** Records written by this process. */
  written: number;
  /** Records lost because the ledger stayed unwritable past `maxPending`. */
  dropped: number;
  /** Times the ledger file (or its write-ahead log) was found deleted or replaced while in use: what was written to the file before is no longer in the ledger. */
  replaced: number;
  /** The last write failure, until a write succeeds; else the last time the file was found deleted or replaced. */
  lastError: string | undefined;
  lastWriteAt: number | undefined;
}

/** How the writer tells its owner about failures (the monitor logs and counts them). */
export interface LedgerWriterHooks {
  /** A write (or open) failed, or the file went: log it and count it. Called once per failure streak, once per drop, once per lost file. */
  onError(message: string, error: unknown): void;
  /** Writes work again after a failure. */
  onRecovered(message: string): void;
}

const MAX_RETRY_MS = 30_000;

/**
 * The writer's failure streak (writes retried with backoff) and the counts `health()` reports.
 * Every record dropped or lost is counted here and said through the hooks: once per failure
 * streak for writes and drops, once per file that went, once per loss at exit or close.
 */
export class WriterHealth {
  readonly #hooks: LedgerWriterHooks;
  /** Writes fail: what waits is retried at `retryAt`. */
  failing = false;
  retryAt = 0;
  #retryMs = 0;
  /** The last write failure, until a write succeeds. */
  lastError: string | undefined;
  #written = 0;
  #dropped = 0;
  #replaced = 0;
  readonly #lostFiles = new Set<string>();
  #lastLoss: string | undefined;
  #lastWriteAt: number | undefined;
  #droppedInStreak = false;

  constructor(hooks: LedgerWriterHooks) {
    this.#hooks = hooks;
  }

  /** The ledger file at `path` was found deleted or replaced: said once per file (`identity`). */
  fileLost(path: string, identity: string, message: string): void {
    if (this.#lostFiles.has(identity)) return;
    this.#lostFiles.add(identity);
    this.#replaced++;
    this.#lastLoss = message;
    this.#hooks.onError(`${message} (${this.#written} records written by this process so far)`, new LedgerError(path, message));
  }

  /** `n` of the oldest records were dropped, more than `maxPending` waiting: counted, said once per failure streak. */
  dropped(n: number, maxPending: number): void {
    this.#dropped += n;
    // Said once per failure streak (health() counts every one), not once per record.
    if (this.#droppedInStreak) return;
    this.#droppedInStreak = true;
    this.#hooks.onError(
      `ledger ${this.failing ? 'unwritable for too long' : 'written slower than records arrive'}: more than ${maxPending} records wait in memory (maxPending), so the oldest are being dropped (health().ledger.dropped counts them)`,
      new Error(this.lastError ?? 'ledger behind'),
    );
  }

  /** `n` records will never be written (process exit, close): counted as dropped and said. */
  lost(n: number, message: string, error: unknown): void {
    this.#dropped += n;
    this.#hooks.onError(message, error);
  }

  /**
   * The process exits with `n` records not written to the ledger at `where`: a store that writes
   * synchronously (`sync`) could not be written; any other was still to be written, from the
   * event loop the process left (`inFlight`: a batch among them, which may have landed).
   */
  lostAtExit(n: number, where: string, sync: boolean, inFlight: boolean): void {
    const lastError = this.lastError;
    this.lost(
      n,
      sync
        ? `the process exited with ${n} records not written to the ledger ${where}: ${lastError ?? 'it could not be written'}`
        : `the process exited with ${n} records not written to the ledger ${where} (${inFlight ? 'a batch in flight among them, which may have landed' : 'queued'}): it writes asynchronously, so exit through await monitor.close(), or let the event loop end, rather than process.exit()`,
      new LedgerError(where, lastError ?? 'records not written at exit'),
    );
  }

  /** The writer thread could not start or stopped: the writer writes on the main thread from now on. */
  threadStopped(error: unknown): void {
    this.error(`the ledger's writer thread stopped (${(error as Error)?.message ?? error}); writing on the main thread from now on`, error);
  }

  /** A failure that is neither a write's nor a loss (the writer thread stopped, alerts not kept). */
  error(message: string, error: unknown): void {
    this.#hooks.onError(message, error);
  }

  /** `n` records were written: a failure streak ends. */
  wrote(n: number): void {
    this.#written += n;
    this.#lastWriteAt = Date.now();
    if (this.failing) {
      this.failing = false;
      this.#droppedInStreak = false;
      this.#retryMs = 0;
      this.lastError = undefined;
      this.#hooks.onRecovered(`ledger writable again: ${n} waiting records written`);
    }
  }

  /** A write failed, `pending` records kept to retry: said when a streak starts. Returns the ms until the retry (doubling, at most MAX_RETRY_MS). */
  failed(error: unknown, pending: number): number {
    this.lastError = (error as Error)?.message ?? String(error);
    if (!this.failing)
      this.#hooks.onError(`cannot write the ledger; ${pending} records kept in memory and retried: ${this.lastError}`, error);
    this.failing = true;
    this.#retryMs = Math.min(MAX_RETRY_MS, this.#retryMs === 0 ? 250 : this.#retryMs * 2);
    this.retryAt = Date.now() + this.#retryMs;
    return this.#retryMs;
  }

  report(location: string | undefined, pending: number): LedgerHealth {
    return {
      ok: !this.failing && this.#dropped === 0 && this.#replaced === 0,
      location,
      pending,
      written: this.#written,
      dropped: this.#dropped,
      replaced: this.#replaced,
      lastError: this.lastError ?? this.#lastLoss,
      lastWriteAt: this.#lastWriteAt,
    };
  }
}
