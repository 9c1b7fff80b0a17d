import { Worker } from 'node:worker_threads';
import { createStderrLogger } from '../logger.ts';
import type { CountAnswer, CountRequest, Encoding } from './tokenizer-worker.ts';

/**
 * js-tiktoken, run in a worker thread of the process's own: building o200k_base takes 0.5-3 s of
 * CPU and counting a long run without spaces tens of ms a piece, which on the main thread froze the
 * app's event loop. The main thread only sends texts and reads counts: it never builds an encoding
 * nor encodes. One thread per process, started when a first count (or load) is asked for, holding
 * each encoding once loaded; it never keeps the process alive on its own, and ends with it.
 *
 * When js-tiktoken is not installed, no thread starts and every loader resolves undefined. When the
 * thread fails (an error or exit of its own), every count waiting or asked for later rejects, the
 * failure is reported to the monitors listening (`onTokenizerFailure`), or logged to stderr when
 * none is, and callers fall back to what they do without js-tiktoken.
 */

/**
 * Counts the tokens of each text, off the main thread. Resolves undefined when the thread has too
 * much waiting to take these (see MAX_WAITING_*); rejects once the thread failed. A count the
 * process must wait for before it exits (a record depends on it) keeps it alive until answered;
 * a `background` one (filling a cache) does not.
 */
export type CountTokens = (texts: readonly string[], options?: { background?: boolean }) => Promise<number[] | undefined>;

/**
 * What may wait for the thread at once, in texts and characters (a text counts whole): a burst of
 * long streams without usage waits in line, not in ever more memory. Past either, a count resolves
 * undefined (a stream stays without counts, a hold keeps its script estimate). Four 4 Mi-character
 * streams (stainless.ts TEXT_CAP) fit.
 */
const MAX_WAITING_TEXTS = 100_000;
const MAX_WAITING_CHARS = 16 * 1024 * 1024;

// The worker runs the source as it is shipped: tokenizer-worker.ts beside this file in the source
// (Node strips the types), tokenizer-worker.js in the build.
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './tokenizer-worker.ts' : './tokenizer-worker.js', import.meta.url);

interface Waiting {
  texts: number;
  chars: number;
  /** Keeps the process alive until answered. */
  keepsAlive: boolean;
  resolve: (counts: number[] | undefined) => void;
  reject: (error: Error) => void;
}

/** The worker, the counts it owes, and the bounds on them. */
class TokenizerThread {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, Waiting>();
  #id = 0;
  #texts = 0;
  #chars = 0;
  /** Counts waiting that keep the process alive. */
  #keepingAlive = 0;
  #failed: Error | undefined;
  readonly #onFailed: (error: Error) => void;

  constructor(onFailed: (error: Error) => void) {
    this.#onFailed = onFailed;
    this.#worker = new Worker(WORKER_URL, { name: 'tokenmeter tokenizer' });
    this.#worker.on('message', (m: CountAnswer) => this.#answer(m));
    this.#worker.on('error', (e) => this.#fail(new Error(`the tokenizer thread failed: ${e?.message ?? String(e)}`)));
    this.#worker.on('exit', (code) => this.#fail(new Error(`the tokenizer thread exited (code ${code})`)));
    // It does not keep the process alive on its own; a count a record waits for does (see count()).
    // After the listeners: a first 'message' listener refs the worker's port again.
    this.#worker.unref();
  }

  /** Once: every count waiting rejects, so does every later one, and the thread is ended. */
  #fail(cause: Error): void {
    if (this.#failed !== undefined) return;
    const error = new Error(
      `${cause.message}; js-tiktoken is not used again in this process: holds keep their script estimate, streams that end without usage stay without counts`,
    );
    this.#failed = error;
    for (const w of this.#waiting.values()) w.reject(error);
    this.#waiting.clear();
    if (this.#keepingAlive > 0) this.#worker.unref();
    this.#keepingAlive = 0;
    void this.#worker.terminate();
    this.#onFailed(error);
  }

  /** Counts `texts` with `encoding`; an empty list resolves once the encoding is loaded. */
  count(encoding: Encoding, texts: readonly string[], background: boolean): Promise<number[] | undefined> {
    if (this.#failed !== undefined) return Promise.reject(this.#failed);
    let chars = 0;
    for (const t of texts) chars += t.length;
    if (this.#waiting.size > 0 && (this.#texts + texts.length > MAX_WAITING_TEXTS || this.#chars + chars > MAX_WAITING_CHARS)) {
      return Promise.resolve(undefined);
    }
    const id = ++this.#id;
    const keepsAlive = !background;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { texts: texts.length, chars, keepsAlive, resolve, reject });
      this.#texts += texts.length;
      this.#chars += chars;
      if (keepsAlive && this.#keepingAlive++ === 0) this.#worker.ref();
      const request: CountRequest = { id, encoding, texts: texts as string[] };
      this.#worker.postMessage(request);
    });
  }

  #answer(m: CountAnswer): void {
    if ('error' in m) {
      // Loading or counting failed for a reason other than a missing package: not to be trusted
      // again (every count waiting rejects, this one included).
      this.#fail(new Error(`the tokenizer thread could not count: ${m.error}`));
      return;
    }
    const w = this.#waiting.get(m.id);
    if (w === undefined) return;
    this.#waiting.delete(m.id);
    this.#texts -= w.texts;
    this.#chars -= w.chars;
    if (w.keepsAlive && --this.#keepingAlive === 0) this.#worker.unref();
    w.resolve('counts' in m ? m.counts : undefined);
  }

  /** Ends the thread as a failure of its own would (tests of the fallback). */
  kill(): Promise<number> {
    return this.#worker.terminate();
  }
}

let installed: Promise<boolean> | undefined;
let thread: TokenizerThread | undefined;
let failure: Error | undefined;
const listeners = new Set<WeakRef<(error: Error) => void>>();

/**
 * Whether the optional peer js-tiktoken can be imported here. Its lite entry is a few KB (the
 * ranks, megabytes, load only in the thread): importing it tells without starting a thread when
 * the package is not installed.
 */
function tiktokenInstalled(): Promise<boolean> {
  installed ??= import('js-tiktoken/lite').then(
    () => true,
    () => false,
  );
  return installed;
}

function failed(error: Error): void {
  failure = error;
  let heard = false;
  for (const ref of listeners) {
    const listener = ref.deref();
    if (listener === undefined) {
      listeners.delete(ref);
      continue;
    }
    heard = true;
    try {
      listener(error);
    } catch {
      // A listener's failure is its own.
    }
  }
  if (!heard) createStderrLogger().error(error.message);
}

/**
 * Calls `listener` when the tokenizer thread fails (once per process: it is not restarted), until
 * the returned function is called. Held weakly: the caller keeps `listener` alive as long as it
 * wants to hear (a monitor holds its own in a field), so a monitor never closed is not kept by it.
 */
export function onTokenizerFailure(listener: (error: Error) => void): () => void {
  const ref = new WeakRef(listener);
  listeners.add(ref);
  return () => {
    listeners.delete(ref);
  };
}

/**
 * A counter for `encoding` on the tokenizer thread (started by the first count), or undefined when
 * js-tiktoken is not installed. Resolves without waiting for the encoding to load: counts wait for
 * it in the thread; `count([])` resolves once it is loaded.
 */
export async function threadCounter(encoding: Encoding): Promise<CountTokens | undefined> {
  if (!(await tiktokenInstalled())) return undefined;
  return (texts, options) => {
    if (failure !== undefined) return Promise.reject(failure);
    thread ??= new TokenizerThread(failed);
    return thread.count(encoding, texts, options?.background === true);
  };
}

/** Ends the tokenizer thread as a crash would; resolves with its exit code. For tests of the fallback. */
export function killTokenizerThread(): Promise<number | undefined> {
  return thread?.kill() ?? Promise.resolve(undefined);
}
