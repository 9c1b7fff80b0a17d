import type { BudgetAlertRow } from './budget-alerts.ts';
import type { EncodedBatch } from './encoded-batch.ts';

/** The most batches (of batchSize) written in one transaction when a backlog waits. */
export const MAX_BATCHES_IN_ONE = 10;

/** A batch being written, and who waits for it. */
export interface InFlight {
  seq: number;
  batch: EncodedBatch;
  /** Budget alerts written with the batch (before its records: keeping one twice is ignored, a record twice is not). */
  alerts: BudgetAlertRow[];
  done: Promise<void>;
  settle: (error: unknown) => void;
  error: unknown;
}

/** Batch `seq`, about to be written: `done` resolves (never rejects) when `settle` is called, which keeps the error in `error`. */
export function inFlight(seq: number, batch: EncodedBatch, alerts: BudgetAlertRow[]): InFlight {
  let settle: (error: unknown) => void = () => {};
  const done = new Promise<void>((resolve) => {
    settle = (error) => {
      f.error = error;
      resolve();
    };
  });
  const f: InFlight = { seq, batch, alerts, done, settle, error: undefined };
  return f;
}
