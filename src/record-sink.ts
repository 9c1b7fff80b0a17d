import type { UsageRecord } from './usage.ts';

/**
 * A validated, priced record: every sink gets the same object, read-only (frozen as well when a
 * sink keeps it past the call, see `RecordSink.keeps`), so that none can change it for the others.
 */
export type PricedRecord = Readonly<UsageRecord>;

/**
 * What a sink may say back about one record, for `record()`'s result: most sinks say nothing;
 * the ledger says whether the record is kept (`logged`), budgets which alerts it raised.
 */
export interface SinkAnswer<A = unknown> {
  logged: boolean;
  alerts: readonly A[];
}

/**
 * One consumer of recorded calls (metrics, the ledger, budgets). The pipeline hands each the same
 * record in a fixed order; a sink that throws is counted and logged under its `name` and the
 * others still get the record. Sinks do not know each other.
 */
export interface RecordSink {
  /** The `component` label of `tokenmeter_internal_errors_total` when `accept` throws. */
  readonly name: string;
  /**
   * True when the sink holds the record after `accept` returns (the ledger's queue): the pipeline
   * then freezes it, so that neither the caller (who gets it back) nor anyone else can change what
   * is kept. Otherwise the record is read-only by type alone (a freeze costs some hundreds of ns a
   * record, more than the rest of the metrics path).
   */
  readonly keeps?: boolean;
  /** Takes one record; sets what it has to say back on `answer` (see SinkAnswer). */
  accept(record: PricedRecord, answer: SinkAnswer): void;
}
