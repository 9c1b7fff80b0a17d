/**
 * The reads under way beside the writer (`LedgerWriter.readBeside`, budget seeding): while one
 * runs, no batch starts, so that a read finds in the ledger only what was there when it began.
 */
export class ReadGate {
  /** Reads under way. */
  count = 0;
  /** Resolves when the last read under way ends; undefined when none runs. */
  done: Promise<void> | undefined;
  #end: (() => void) | undefined;

  /** A read begins. */
  enter(): void {
    this.count++;
    if (this.done === undefined) {
      this.done = new Promise<void>((resolve) => {
        this.#end = resolve;
      });
    }
  }

  /** A read ends; true when it was the last one under way (`done` then resolves). */
  leave(): boolean {
    if (--this.count !== 0) return false;
    const end = this.#end;
    this.done = undefined;
    this.#end = undefined;
    end?.();
    return true;
  }
}
