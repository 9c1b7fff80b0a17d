/**
 * The ledger's writer thread (started by LedgerWriter): opens its own connection to the ledger
 * file and writes the batches the main thread hands it, one at a time, in order. Each answer goes
 * to the result port, then the batch's number is stored in the shared state and notified, so the
 * main thread can take it without waiting for its event loop (a tight loop, or process exit).
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import type { BudgetAlertRow } from './budget-alerts.ts';
import type { EncodedBatch } from './encoded-batch.ts';
import { LedgerFile, lostMessage } from './ledger-file.ts';

/** What the main thread sends. */
export type ToWorker = { type: 'write'; seq: number; data: EncodedBatch; alerts?: BudgetAlertRow[] } | { type: 'close'; seq: number };

/** What the worker answers, once per message. */
export interface FromWorker {
  seq: number;
  /** The write failed: its message and SQLite's code; the batch was not written. */
  error?: { message: string; code: string | undefined } | undefined;
  /** The file had been deleted or replaced; the batch went to the file now at the path. */
  lost?: { identity: string; message: string } | undefined;
}

export interface WorkerData {
  file: string;
  /** Int32Array over a SharedArrayBuffer: [0] the number of the last batch answered. */
  state: SharedArrayBuffer;
  results: MessagePort;
  /** The identity of the file the main thread opened: a different one here means it went in between. */
  identity: string | undefined;
}

const { file, state, results, identity } = workerData as WorkerData;
const done = new Int32Array(state);
const ledger = new LedgerFile(file);

function answer(message: FromWorker): void {
  results.postMessage(message);
  Atomics.store(done, 0, message.seq);
  Atomics.notify(done, 0);
}

parentPort?.on('message', (m: ToWorker) => {
  if (m.type === 'close') {
    ledger.close();
    answer({ seq: m.seq });
    results.close();
    parentPort?.close();
    return;
  }
  let lost: FromWorker['lost'];
  try {
    const first = ledger.identity === undefined;
    lost = ledger.check();
    const store = ledger.store();
    if (first && identity !== undefined && ledger.identity !== identity) {
      lost = { identity, message: lostMessage(file) };
    }
    // Alerts first: kept again with a retried batch, each is ignored the second time (its unique key).
    if (m.alerts !== undefined && m.alerts.length > 0) store.keepBudgetAlertsSync(m.alerts);
    store.writeEncoded(m.data);
    answer({ seq: m.seq, lost });
  } catch (e) {
    const error = e as { message?: string; code?: unknown };
    answer({
      seq: m.seq,
      lost,
      error: { message: error?.message ?? String(e), code: typeof error?.code === 'string' ? error.code : undefined },
    });
  }
});
