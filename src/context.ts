import { AsyncLocalStorage } from 'node:async_hooks';

/** Who and what a call is for: set once with `withContext`, applied to every call inside it. */
export interface CallContext {
  userId?: string;
  threadId?: string;
  agent?: string;
  operation?: string;
  /** Merged into each record's metadata (the record's own keys win). */
  metadata?: Record<string, unknown>;
  /** The run (`monitor.session()`) the calls belong to; kept as metadata.run_id. */
  runId?: string;
}

/**
 * Context that follows a call across awaits (AsyncLocalStorage), one store per monitor. Nested
 * contexts merge: inner fields win, metadata merges key by key.
 */
export class ContextStore {
  readonly #als = new AsyncLocalStorage<CallContext>();

  current(): CallContext | undefined {
    return this.#als.getStore();
  }

  run<T>(context: CallContext, fn: () => T): T {
    const outer = this.#als.getStore();
    return this.#als.run(outer === undefined ? { ...context } : merge(outer, context), fn);
  }
}

function merge(outer: CallContext, inner: CallContext): CallContext {
  const out: CallContext = { ...outer, ...inner };
  if (outer.metadata !== undefined && inner.metadata !== undefined) out.metadata = { ...outer.metadata, ...inner.metadata };
  return out;
}
