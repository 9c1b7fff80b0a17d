import { EXIT_WAIT_MS } from './writer-thread.ts';

/** What exit handling asks of each open writer (LedgerWriter). */
export interface ExitWriter {
  /** Takes the records waiting upstream of the writer into its queue. */
  handOver(): void;
  /** Writes what a store that only writes asynchronously holds; true when a write started. */
  writeBeforeExit(): boolean;
  /** Writes what waits, now, on this thread. */
  flushSync(): boolean;
  /** Reports what is still not written as lost. */
  exited(): void;
  flush(): Promise<void>;
}

/**
 * Writes every open writer's queue when the process exits normally or is stopped by SIGINT or
 * SIGTERM. One listener per event for all writers; after a signal, the default action (exit) is
 * kept unless the application listens for that signal itself. A store that only writes
 * asynchronously (PostgreSQL) is written when the event loop runs out of work (`beforeExit`) and,
 * after a signal, before the signal is raised again (at most EXIT_WAIT_MS); `process.exit()` gives
 * it no such chance: what it still holds then is reported lost (`exited()`).
 */
class ExitHooks {
  readonly #writers = new Set<ExitWriter>();
  readonly #onBeforeExit = () => {
    for (const w of this.#writers) w.writeBeforeExit();
  };
  readonly #onExit = () => {
    for (const w of this.#writers) w.handOver();
    for (const w of this.#writers) w.flushSync();
    for (const w of this.#writers) w.exited();
  };
  readonly #onSignal = (signal: NodeJS.Signals) => {
    for (const w of this.#writers) w.handOver();
    for (const w of this.#writers) w.flushSync();
    const raise = () => {
      this.#onExit();
      if (process.listenerCount(signal) === 0) {
        this.#detach();
        process.kill(process.pid, signal);
      }
    };
    if (process.listenerCount(signal) !== 1) return;
    // Ours is the only listener: the signal ends the process once the asynchronous stores are written.
    process.off(signal, this.#onSignal);
    const writes = [...this.#writers].filter((w) => w.writeBeforeExit()).map((w) => w.flush().catch(() => {}));
    if (writes.length === 0) raise();
    else void Promise.race([Promise.all(writes), new Promise((r) => setTimeout(r, EXIT_WAIT_MS).unref())]).then(raise);
  };

  add(w: ExitWriter): void {
    if (this.#writers.size === 0) {
      process.on('beforeExit', this.#onBeforeExit);
      process.on('exit', this.#onExit);
      process.on('SIGINT', this.#onSignal);
      process.on('SIGTERM', this.#onSignal);
    }
    this.#writers.add(w);
  }

  delete(w: ExitWriter): void {
    if (this.#writers.delete(w) && this.#writers.size === 0) this.#detach();
  }

  #detach(): void {
    process.off('beforeExit', this.#onBeforeExit);
    process.off('exit', this.#onExit);
    process.off('SIGINT', this.#onSignal);
    process.off('SIGTERM', this.#onSignal);
  }
}

/** The one set of exit listeners for all writers. */
export const exitHooks = new ExitHooks();
