import type { BudgetAlertRow } from './budget-alerts.ts';
import { decodeBatch, type EncodedBatch } from './encoded-batch.ts';
import { LedgerFile } from './ledger-file.ts';
import type { LedgerStore } from './types.ts';
import type { WriterHealth } from './writer-health.ts';
import type { LedgerTarget } from './writer-options.ts';

/**
 * The store a LedgerWriter reads from and writes to on this thread: a SQLite file it opens (and
 * reopens when the file went, deleted or replaced: reported once per file), or a store of the
 * caller's. Batches reach it as the writer keeps them (encoded-batch.ts): a store that reads that
 * form (SQLite) writes them as they are, others get record objects.
 */
export class WriterStore {
  readonly #open: () => LedgerStore;
  /** The SQLite file, when the target is one. */
  readonly file: LedgerFile | undefined;
  readonly #health: WriterHealth;
  #store: LedgerStore | undefined;

  constructor(target: LedgerTarget, health: WriterHealth) {
    this.#health = health;
    if (typeof target === 'function') {
      this.#open = target;
    } else {
      const file = new LedgerFile(target.file);
      this.file = file;
      this.#open = () => file.store();
    }
  }

  /** The store, opened on first use and reopened when its file went. */
  get(): LedgerStore {
    if (this.file !== undefined) this.#checkFile();
    this.#store ??= this.#open();
    return this.#store;
  }

  /** The store if it is open (nothing is opened). */
  get opened(): LedgerStore | undefined {
    return this.#store;
  }

  /** Where the records go, for what is reported: the file's path or the store's location. */
  get where(): string | undefined {
    return this.file?.path ?? this.#store?.location;
  }

  /** Reopens a file that went; reported here unless the writer thread writes it (it reports, once per file). */
  #checkFile(): void {
    const lost = this.file?.check();
    if (lost === undefined) return;
    this.#store = undefined;
    this.fileLost(lost.identity, lost.message);
  }

  fileLost(identity: string, message: string): void {
    this.#health.fileLost(this.file?.path ?? '', identity, message);
  }

  /** Writes a batch, its alerts first, on this thread; resolves to the error (never rejects). */
  async write(batch: EncodedBatch, alerts: readonly BudgetAlertRow[]): Promise<unknown> {
    try {
      const store = this.get();
      if (alerts.length > 0) await store.keepBudgetAlerts?.(alerts);
      if (store.writeEncoded !== undefined) store.writeEncoded(batch);
      else await store.write(decodeBatch(batch));
      return undefined;
    } catch (e) {
      return e ?? new Error('write failed');
    }
  }

  /** Whether the store writes before returning (opening it; throws when it cannot be opened). */
  writesSync(): boolean {
    return this.get().writeSync !== undefined;
  }

  /** Writes a batch before returning, to a store that can (writesSync). Throws what the store throws. */
  writeSync(batch: EncodedBatch): void {
    const store = this.get();
    if (store.writeEncoded !== undefined) store.writeEncoded(batch);
    else if (store.writeSync !== undefined) store.writeSync(decodeBatch(batch));
    else throw new Error(`the ledger ${this.where ?? ''} cannot be written synchronously`);
  }

  /**
   * Keeps budget alerts before returning: `kept`; `later` when the store keeps them only
   * asynchronously (nothing kept); `never` when it keeps none. Throws what the store throws.
   */
  keepAlertsSync(alerts: readonly BudgetAlertRow[]): 'kept' | 'later' | 'never' {
    const store = this.get();
    if (store.keepBudgetAlertsSync === undefined) return store.keepBudgetAlerts === undefined ? 'never' : 'later';
    store.keepBudgetAlertsSync(alerts);
    return 'kept';
  }

  async close(): Promise<void> {
    await this.#store?.close();
  }
}
