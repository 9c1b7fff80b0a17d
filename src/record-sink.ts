import type { UsageRecord } from './usage.ts';

/** A validated, priced record, frozen: every sink gets the same object, and none can change it for the others. */
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
  /** Takes one record; sets what it has to say back on `answer` (see SinkAnswer). */
  accept(record: PricedRecord, answer: SinkAnswer): void;
}
