import { statSync } from 'node:fs';
import { SqliteStore } from './sqlite.ts';

/** The file a path names now (device and inode), or undefined when there is none. */
export function fileIdentity(path: string): string | undefined {
  const s = statSync(path, { bigint: true, throwIfNoEntry: false });
  return s === undefined ? undefined : `${s.dev}:${s.ino}`;
}

/** What is said when the ledger file was found gone. */
export function lostMessage(path: string): string {
  return `ledger file ${path} was deleted or replaced while in use (removed, moved, or another file put in its place): the earlier records went with the file it was; a new ledger is opened there and the records from now on are kept in it`;
}

/** Said when the file a connection writes into is no longer the one at its path. */
export interface FileLost {
  /** The identity of the file that went (the same for every connection that had it open). */
  identity: string;
  message: string;
}

/**
 * A SQLite ledger file that this process opened and can open again. SQLite goes on writing into a
 * file that was deleted, moved away or renamed over (restored from a backup) while open, and so
 * loses every later record without an error; `check()` compares the path's device and inode with
 * the opened file's (one stat, before each batch) and, when they differ, opens the path afresh
 * (a new file with the schema, or the file put there).
 */
export class LedgerFile {
  readonly path: string;
  #store: SqliteStore | undefined;
  #identity: string | undefined;
  /** The write-ahead log's identity, from the first check that found it. */
  #wal: string | undefined;

  constructor(path: string) {
    this.path = path;
  }

  /** The connection, opened on first use (throws a LedgerError when it cannot be). */
  store(): SqliteStore {
    if (this.#store === undefined) {
      this.#store = new SqliteStore(this.path);
      this.#identity = fileIdentity(this.path);
      this.#wal = fileIdentity(`${this.path}-wal`);
    }
    return this.#store;
  }

  /** The identity of the file opened, once open. */
  get identity(): string | undefined {
    return this.#identity;
  }

  /**
   * Reopens the path if the file there is no longer the one open, and says so. Closing the old
   * connection is safe: SQLite does not checkpoint or delete the WAL of a database file that has
   * been unlinked or renamed (its "has moved" check), so the new file's WAL is left alone.
   */
  check(): FileLost | undefined {
    if (this.#store === undefined || this.#identity === undefined) return undefined;
    if (fileIdentity(this.path) !== this.#identity) {
      const identity = this.#identity;
      this.#store.closeSync();
      this.#store = undefined;
      this.#identity = undefined;
      this.#wal = undefined;
      return { identity, message: lostMessage(this.path) };
    }
    // The write-ahead log keeps its file while any connection is open, so another one means it was
    // deleted under us. This connection goes on writing into the old one and copies it into the
    // database at its next checkpoint, so the records are kept; but other readers see stale data
    // or fail (SQLITE_IOERR_SHORT_READ) until then: reported, not reopened (that would lose them).
    const wal = fileIdentity(`${this.path}-wal`);
    if (this.#wal === undefined || wal === this.#wal) {
      this.#wal ??= wal;
      return undefined;
    }
    const identity = `wal ${this.#wal}`;
    this.#wal = wal;
    return {
      identity,
      message: `ledger write-ahead log ${this.path}-wal was deleted or replaced while in use: other processes may read stale data or fail until this process checkpoints it (never delete ledger.db-wal or ledger.db-shm while a ledger is open)`,
    };
  }

  close(): void {
    this.#store?.closeSync();
    this.#store = undefined;
    this.#identity = undefined;
    this.#wal = undefined;
  }
}
