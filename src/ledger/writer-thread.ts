import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { FromWorker, ToWorker, WorkerData } from './writer-worker.ts';

/** How long process exit waits for the writer thread's batch: past SQLite's busy timeout (10 s). */
export const EXIT_WAIT_MS = 15_000;

// The worker runs the source as it is shipped: writer-worker.ts beside this file in the source
// (Node strips the types), writer-worker.js in the build.
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './writer-worker.ts' : './writer-worker.js', import.meta.url);

/**
 * The worker thread that writes the ledger file, and the two ways to hear from it: its answers on
 * a port of their own (taken with receiveMessageOnPort when this thread cannot wait for its event
 * loop), and the number of the last batch answered in shared memory (read by `poll()` in a loop
 * that never yields, and waited on with Atomics.wait at exit, as pino's thread-stream does).
 */
export class WriterThread {
  readonly #worker: Worker;
  readonly #results: MessagePort;
  readonly #done = new Int32Array(new SharedArrayBuffer(4));
  readonly #onAnswer: (m: FromWorker) => void;
  #closing: ((m: FromWorker) => void) | undefined;

  constructor(file: string, identity: string | undefined, onAnswer: (m: FromWorker) => void, onDied: (error: unknown) => void) {
    const { port1, port2 } = new MessageChannel();
    this.#results = port1;
    this.#onAnswer = onAnswer;
    const data: WorkerData = { file, state: this.#done.buffer as SharedArrayBuffer, results: port2, identity };
    this.#worker = new Worker(WORKER_URL, { workerData: data, transferList: [port2] });
    // Neither keeps the process alive on its own; a batch in flight does (see send()).
    this.#worker.unref();
    port1.on('message', (m: FromWorker) => this.#answer(m));
    port1.unref();
    this.#worker.on('error', (e) => {
      if (this.#closing === undefined) onDied(e);
    });
    this.#worker.on('exit', (code) => {
      if (this.#closing === undefined) onDied(new Error(`exited with code ${code}`));
    });
  }

  #answer(m: FromWorker): void {
    this.#results.unref();
    if (this.#closing !== undefined) this.#closing(m);
    else this.#onAnswer(m);
  }

  send(m: ToWorker): void {
    // Until the answer, the process waits for it (an app that ends with a batch in flight writes it).
    this.#results.ref();
    // A batch's values are shared memory (encoded-batch.ts): the writer thread reads the very batch the writer keeps to retry.
    this.#worker.postMessage(m);
  }

  /** Takes the answer to batch `seq` if it arrived, without waiting for the event loop (one atomic read when not). */
  poll(seq: number): void {
    if (Atomics.load(this.#done, 0) < seq) return;
    const m = receiveMessageOnPort(this.#results);
    if (m !== undefined) this.#answer(m.message as FromWorker);
  }

  /** Blocks until batch `seq` is answered, at most `ms`. */
  waitSync(seq: number, ms: number): void {
    const until = Date.now() + ms;
    for (let now = Date.now(); now < until; now = Date.now()) {
      const v = Atomics.load(this.#done, 0);
      if (v >= seq) return;
      Atomics.wait(this.#done, 0, v, until - now);
    }
  }

  /** Closes the worker's connection and ends it. */
  async close(seq: number): Promise<void> {
    const closed = new Promise<void>((resolve) => {
      this.#closing = () => resolve();
    });
    this.send({ type: 'close', seq });
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, EXIT_WAIT_MS).unref())]);
    await this.#worker.terminate();
    this.#results.close();
  }
}

/** The writer thread's failure to write a batch, as an error (the worker's LedgerError, rebuilt: its message names the file); undefined for a batch written. */
export function answerError(m: FromWorker): Error | undefined {
  return m.error === undefined ? undefined : Object.assign(new Error(m.error.message), { name: 'LedgerError', code: m.error.code });
}
