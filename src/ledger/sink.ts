import type { PricedRecord, RecordSink, SinkAnswer } from '../record-sink.ts';
import type { LedgerWriter } from './writer.ts';

/** The ledger as a sink of the recording pipeline: queues each record for its batched writes, and says whether it is kept. */
export class LedgerSink implements RecordSink {
  readonly name = 'ledger';
  /** Records wait in the writer's queue after accept() returns. */
  readonly keeps = true;
  readonly #writer: LedgerWriter;

  constructor(writer: LedgerWriter) {
    this.#writer = writer;
  }

  accept(r: PricedRecord, answer: SinkAnswer): void {
    // With durability 'sync', whether it is on disk (if not, it stays queued and is retried).
    answer.logged = this.#writer.add(r);
  }
}
