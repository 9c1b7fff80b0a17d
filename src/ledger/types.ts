import type { UsageRecord } from '../usage.ts';
import type { BudgetAlertQuery, BudgetAlertRow } from './budget-alerts.ts';
import type { EncodedBatch } from './encoded-batch.ts';
import type { AlertmanagerNotification, KeptNotification, ReceivedAlert, ReceivedAlertQuery } from './notifications.ts';

/** The record fields a ledger query can group by or filter on. */
export const DIMENSIONS = [
  'provider',
  'model',
  'serviceType',
  'operation',
  'agent',
  'userId',
  'threadId',
  'apiKeyId',
  'day',
  'hour',
] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** A time range and the filters every ledger read takes. Times are epoch milliseconds, `until` exclusive. */
export interface LedgerFilter {
  since?: number | undefined;
  until?: number | undefined;
  provider?: string | undefined;
  model?: string | undefined;
  serviceType?: string | undefined;
  operation?: string | undefined;
  agent?: string | undefined;
  userId?: string | undefined;
  threadId?: string | undefined;
  apiKeyId?: string | undefined;
  /** Records of one run (`monitor.session()`), by their `metadata.run_id`: read from the rows, never the rollups. */
  runId?: string | undefined;
  /** Only records with a user: grouped by user, the users' rollups alone answer (no reads for the records without one). */
  withUser?: boolean | undefined;
}

/** Sums over a set of records. Token counts the providers did not report add nothing. */
export interface Totals {
  requests: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  totalTokens: number;
  /** Known cost in USD; calls of unpriced models add nothing (see unpricedRequests). */
  costUsd: number;
  /** The same cost in picodollars (1e-12 USD), exact. */
  costPicoUsd: bigint;
  unpricedRequests: number;
  /**
   * Of the known cost, the input side (input-side counts, per-search fees), over the records whose
   * split is known: those written before tokenmeter kept it (ledger schema 7) and those whose cost
   * the caller gave are not split, and the cost less both sides is theirs.
   */
  inputCostUsd: number;
  inputCostPicoUsd: bigint;
  /** Of the known cost, the output side (generated counts), over the records whose split is known. */
  outputCostUsd: number;
  outputCostPicoUsd: bigint;
  /** Per token count, how many of the records did not report it: the sum above is of the others (a lower bound). */
  unknownCounts: UnknownCounts;
}

/** Per token count, the records that did not report it. */
export interface UnknownCounts {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  totalTokens: number;
}

/** One group of an aggregate: the values of its dimensions (null for a record without one), and its sums. */
export interface AggregateRow extends Totals {
  key: Partial<Record<Dimension, string | null>>;
}

/** Raw records, newest first unless `order` says otherwise. */
export interface RecordQuery extends LedgerFilter {
  limit?: number | undefined;
  /** Only the failed calls. */
  errors?: boolean | undefined;
  order?: 'asc' | 'desc' | undefined;
}

/** What a store did with the rows older than a cutoff. */
export interface ArchiveInfo {
  /** The archive's file name, e.g. `ledger-2026-10.ndjson.gz`. */
  file: string;
  path: string;
  month: string;
  bytes: number;
}

/**
 * Where usage records are kept. One implementation per file (`sqlite.ts`; PostgreSQL later):
 * callers see only this interface, so a store can be swapped without touching them. Reads are
 * asynchronous so that a networked store fits; `writeSync` is there for stores that can write
 * before `record()` returns (`durability: 'sync'`) and on process exit.
 */
export interface LedgerStore {
  /** `sqlite` or `postgres`. */
  readonly kind: string;
  /** Where the data lives (a file path, or a connection string without its password). */
  readonly location: string;
  /** Writes a batch in one transaction, rollups included: all of it or nothing. */
  write(batch: readonly UsageRecord[]): Promise<void>;
  /** The same, before returning; undefined for stores that cannot. */
  writeSync?: ((batch: readonly UsageRecord[]) => void) | undefined;
  /**
   * The same, from the batch as the writer keeps it (encoded-batch.ts), with no record object
   * built: for a store that writes synchronously and reads that form (SQLite).
   */
  writeEncoded?: ((batch: EncodedBatch) => void) | undefined;
  /** Sums grouped by `by` (none: one row of grand totals), read from rollups where they answer. */
  aggregate(filter: LedgerFilter, by: readonly Dimension[]): Promise<AggregateRow[]>;
  /** The same, before returning; undefined for stores that cannot (budgets seed from it at start-up). */
  aggregateSync?: ((filter: LedgerFilter, by: readonly Dimension[]) => AggregateRow[]) | undefined;
  /** Raw records. */
  records(query: RecordQuery): Promise<UsageRecord[]>;
  /** Raw records one at a time, oldest first, for exports that do not fit in memory. */
  iterate(filter: LedgerFilter): AsyncIterable<UsageRecord>;
  /** How many records match. */
  count(filter: LedgerFilter): Promise<number>;
  /** The first and last record's timestamps; null when there is none. */
  span(filter?: LedgerFilter): Promise<{ first: number; last: number } | null>;
  /** Keeps a notification Alertmanager posted to `/v1/alertmanager`; undefined for stores that cannot. */
  keepNotification?: ((n: AlertmanagerNotification, receivedAt?: number) => KeptNotification | Promise<KeptNotification>) | undefined;
  /** The alerts of those notifications, newest notified first; undefined for stores that keep none. */
  receivedAlerts?: ((q?: ReceivedAlertQuery) => ReceivedAlert[] | Promise<ReceivedAlert[]>) | undefined;
  /** Keeps budget alerts, each once per budget, limit, window and level (one already kept is left as it is); undefined for stores that keep none. */
  keepBudgetAlerts?: ((alerts: readonly BudgetAlertRow[]) => Promise<void>) | undefined;
  /** The same, before returning; undefined for stores that cannot (written on process exit). */
  keepBudgetAlertsSync?: ((alerts: readonly BudgetAlertRow[]) => void) | undefined;
  /** The budget alerts kept, newest first (default limit 100); undefined for stores that keep none. */
  budgetAlerts?: ((q?: BudgetAlertQuery) => Promise<BudgetAlertRow[]>) | undefined;
  /** Deletes every record (and rollup bucket) before `cutoff`, returning how many records went. */
  deleteBefore(cutoff: number): Promise<number>;
  close(): Promise<void>;
}
