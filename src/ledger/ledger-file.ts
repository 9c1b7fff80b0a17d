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

/** The count and money fields of a record, carried as numbers (null as NaN). */
const NUMBERS = [
  'timestamp',
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
  'durationMs',
] as const satisfies readonly (keyof UsageRecord)[];
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

/** Every field of a record, in the order a batch carries them to the writer thread. */
export const RECORD_FIELDS = [...NUMBERS, 'error', ...STRINGS, 'metadata'] as const;

// A field added to UsageRecord and not here fails to compile.
const everyField: Record<Exclude<keyof UsageRecord, (typeof RECORD_FIELDS)[number]>, never> = {};
void everyField;

const WIDTH = RECORD_FIELDS.length;

/**
 * A batch as the writer thread receives it: every field a float64 (numbers, the error flag, and
 * indexes into `strings`, each distinct string of the batch once; metadata as its JSON). The
 * array's buffer is transferred, not copied: sending costs the main thread about a fifth of what a
 * flat array of values does (structured clone tags and copies each value; 0.44 against 1.97 µs a
 * record, measured).
 */
export interface EncodedBatch {
  values: Float64Array<ArrayBuffer>;
  strings: string[];
}

/** A batch for the writer thread (spelt out field by field: a loop over the names is slower). */
export function encodeBatch(batch: readonly UsageRecord[]): EncodedBatch {
  const v = new Float64Array(batch.length * WIDTH);
  const strings: string[] = [];
  const index = new Map<string, number>();
  const s = (x: string | null): number => {
    if (x === null) return -1;
    let k = index.get(x);
    if (k === undefined) {
      k = strings.length;
      strings.push(x);
      index.set(x, k);
    }
    return k;
  };
  const n = (x: number | null | undefined): number => (x === null || x === undefined ? Number.NaN : x);
  let o = 0;
  for (const r of batch) {
    v[o] = r.timestamp;
    v[o + 1] = n(r.inputTokens);
    v[o + 2] = n(r.outputTokens);
    v[o + 3] = n(r.cachedInputTokens);
    v[o + 4] = n(r.cacheWriteTokens);
    v[o + 5] = n(r.cacheWrite1hTokens);
    v[o + 6] = n(r.inputAudioTokens);
    v[o + 7] = n(r.cachedAudioTokens);
    v[o + 8] = n(r.outputAudioTokens);
    v[o + 9] = n(r.outputImageTokens);
    v[o + 10] = n(r.reasoningTokens);
    v[o + 11] = n(r.totalTokens);
    v[o + 12] = n(r.searchUnits);
    v[o + 13] = n(r.webSearches);
    v[o + 14] = n(r.costUsd);
    v[o + 15] = n(r.costPicoUsd);
    v[o + 16] = n(r.durationMs);
    v[o + 17] = r.error ? 1 : 0;
    v[o + 18] = s(r.provider);
    v[o + 19] = s(r.serviceType);
    v[o + 20] = s(r.model);
    v[o + 21] = s(r.requestModel);
    v[o + 22] = s(r.operation);
    v[o + 23] = s(r.apiKeyId);
    v[o + 24] = s(r.userId);
    v[o + 25] = s(r.threadId);
    v[o + 26] = s(r.agent);
    v[o + 27] = s(r.errorMessage);
    v[o + 28] = s(r.errorType);
    v[o + 29] = r.metadata === null ? -1 : s(JSON.stringify(r.metadata));
    o += WIDTH;
  }
  return { values: v, strings };
}

/** The records of an encoded batch, each built as one literal so that they share a shape (the writer's property reads stay fast). */
export function decodeBatch({ values: v, strings }: EncodedBatch): UsageRecord[] {
  const out: UsageRecord[] = [];
  const n = (x: number): number | null => (Number.isNaN(x) ? null : x);
  const s = (x: number): string | null => (x < 0 ? null : (strings[x] as string));
  for (let o = 0; o < v.length; o += WIDTH) {
    const metadata = v[o + 29] as number;
    out.push({
      timestamp: v[o] as number,
      provider: s(v[o + 18] as number) as string,
      serviceType: s(v[o + 19] as number) as UsageRecord['serviceType'],
      model: s(v[o + 20] as number) as string,
      requestModel: s(v[o + 21] as number),
      operation: s(v[o + 22] as number) as string,
      inputTokens: n(v[o + 1] as number),
      outputTokens: n(v[o + 2] as number),
      cachedInputTokens: n(v[o + 3] as number),
      cacheWriteTokens: n(v[o + 4] as number),
      cacheWrite1hTokens: n(v[o + 5] as number),
      inputAudioTokens: n(v[o + 6] as number),
      cachedAudioTokens: n(v[o + 7] as number),
      outputAudioTokens: n(v[o + 8] as number),
      outputImageTokens: n(v[o + 9] as number),
      reasoningTokens: n(v[o + 10] as number),
      totalTokens: n(v[o + 11] as number),
      searchUnits: n(v[o + 12] as number),
      webSearches: n(v[o + 13] as number),
      costUsd: n(v[o + 14] as number),
      costPicoUsd: n(v[o + 15] as number),
      apiKeyId: s(v[o + 23] as number),
      userId: s(v[o + 24] as number),
      threadId: s(v[o + 25] as number),
      agent: s(v[o + 26] as number),
      durationMs: n(v[o + 16] as number),
      error: v[o + 17] === 1,
      errorMessage: s(v[o + 27] as number),
      errorType: s(v[o + 28] as number),
      metadata: metadata < 0 ? null : (JSON.parse(strings[metadata] as string) as Record<string, unknown>),
    });
  }
  return out;
}
