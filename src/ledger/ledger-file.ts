import { statSync } from 'node:fs';
import type { UsageRecord } from '../usage.ts';
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

/**
 * Every field of a record, in the order a batch carries them to the writer thread: flat arrays of
 * primitives cost the main thread about half what an array of objects does to send (structured
 * clone copies each object's keys).
 */
export const RECORD_FIELDS = [
  'timestamp',
  'provider',
  'serviceType',
  'model',
  'requestModel',
  'operation',
  'inputTokens',
  'outputTokens',
  'cachedInputTokens',
  'cacheWriteTokens',
  'cacheWrite1hTokens',
  'inputAudioTokens',
  'cachedAudioTokens',
  'outputAudioTokens',
  'outputImageTokens',
  'reasoningTokens',
  'totalTokens',
  'searchUnits',
  'webSearches',
  'costUsd',
  'costPicoUsd',
  'apiKeyId',
  'userId',
  'threadId',
  'agent',
  'durationMs',
  'error',
  'errorMessage',
  'errorType',
  'metadata',
] as const satisfies readonly (keyof UsageRecord)[];

// A field added to UsageRecord and not here fails to compile.
const everyField: Record<Exclude<keyof UsageRecord, (typeof RECORD_FIELDS)[number]>, never> = {};
void everyField;

/** A batch as one flat array, RECORD_FIELDS.length values a record (spelt out: a loop over the names is slower). */
export function encodeBatch(batch: readonly UsageRecord[]): unknown[] {
  const out: unknown[] = [];
  for (const r of batch) {
    out.push(
      r.timestamp,
      r.provider,
      r.serviceType,
      r.model,
      r.requestModel,
      r.operation,
      r.inputTokens,
      r.outputTokens,
      r.cachedInputTokens,
      r.cacheWriteTokens,
      r.cacheWrite1hTokens,
      r.inputAudioTokens,
      r.cachedAudioTokens,
      r.outputAudioTokens,
      r.outputImageTokens,
      r.reasoningTokens,
      r.totalTokens,
      r.searchUnits,
      r.webSearches,
      r.costUsd,
      r.costPicoUsd,
      r.apiKeyId,
      r.userId,
      r.threadId,
      r.agent,
      r.durationMs,
      r.error,
      r.errorMessage,
      r.errorType,
      r.metadata,
    );
  }
  return out;
}

/** The records of an encoded batch, each built as one literal so that they share a shape (the writer's property reads stay fast). */
export function decodeBatch(d: readonly unknown[]): UsageRecord[] {
  const out: UsageRecord[] = [];
  for (let i = 0; i < d.length; i += RECORD_FIELDS.length) {
    out.push({
      timestamp: d[i] as number,
      provider: d[i + 1] as string,
      serviceType: d[i + 2] as UsageRecord['serviceType'],
      model: d[i + 3] as string,
      requestModel: d[i + 4] as string | null,
      operation: d[i + 5] as string,
      inputTokens: d[i + 6] as number | null,
      outputTokens: d[i + 7] as number | null,
      cachedInputTokens: d[i + 8] as number | null,
      cacheWriteTokens: d[i + 9] as number | null,
      cacheWrite1hTokens: d[i + 10] as number | null,
      inputAudioTokens: d[i + 11] as number | null,
      cachedAudioTokens: d[i + 12] as number | null,
      outputAudioTokens: d[i + 13] as number | null,
      outputImageTokens: d[i + 14] as number | null,
      reasoningTokens: d[i + 15] as number | null,
      totalTokens: d[i + 16] as number | null,
      searchUnits: d[i + 17] as number | null,
      webSearches: d[i + 18] as number | null,
      costUsd: d[i + 19] as number | null,
      costPicoUsd: d[i + 20] as number | null,
      apiKeyId: d[i + 21] as string | null,
      userId: d[i + 22] as string | null,
      threadId: d[i + 23] as string | null,
      agent: d[i + 24] as string | null,
      durationMs: d[i + 25] as number | null,
      error: d[i + 26] as boolean,
      errorMessage: d[i + 27] as string | null,
      errorType: d[i + 28] as string | null,
      metadata: d[i + 29] as Record<string, unknown> | null,
    });
  }
  return out;
}
