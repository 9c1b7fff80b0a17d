import { observeAsyncIterable, type StreamEnd, type TextOf } from './stainless.ts';
import { type ClientRecorder, type Instrumenter, type Prepared, wrapMethod } from './wrap.ts';

/**
 * The `ollama` client (class `Ollama`, and the default instance `ollama`). `chat` and `generate`
 * resolve to the response object as the server sent it (snake_case: `prompt_eval_count`,
 * `eval_count`), or, with `stream: true`, to an `AbortableAsyncIterator` of the NDJSON objects,
 * the last one (`done: true`) carrying the counts; it stops the request with `abort()`, as does
 * the client's own `abort()`. `embed` and the legacy `embeddings` resolve to one object.
 * Local models are free: the price book prices provider `ollama` at 0 unless a price is set.
 */
export const instrumentOllama: Instrumenter = (client, recorder) => {
  const c = client as { config?: { headers?: unknown } };
  const r = withBearerKey(recorder, c.config?.headers);
  for (const method of ['chat', 'generate']) wrapMethod(client, method, r, abortable);
  wrapMethod(client, 'embed', r);
  wrapMethod(client, 'embeddings', r);
};

/**
 * The key of a client that sends one (Ollama's cloud, `https://ollama.com`), for the api_key_id
 * label and redaction: its `headers` option is any HeadersInit (a plain object, a Headers, pairs).
 */
function withBearerKey(recorder: ClientRecorder, headers: unknown): ClientRecorder {
  if (recorder.apiKey !== undefined || typeof headers !== 'object' || headers === null) return recorder;
  let auth: unknown;
  if (headers instanceof Headers) auth = headers.get('authorization');
  else if (Array.isArray(headers)) auth = headers.find((p) => Array.isArray(p) && String(p[0]).toLowerCase() === 'authorization')?.[1];
  else auth = Object.entries(headers).find(([k]) => k.toLowerCase() === 'authorization')?.[1];
  const key = typeof auth === 'string' ? /^Bearer\s+(\S+)$/i.exec(auth)?.[1] : undefined;
  return key === undefined ? recorder : { ...recorder, apiKey: key };
}

const ABORTABLE: Prepared = { observeResult: observeAbortableIterator };
const abortable = (): Prepared => ABORTABLE;

interface AbortableLike {
  abort: (this: unknown) => void;
  [Symbol.asyncIterator]: (this: unknown) => AsyncIterator<unknown>;
}

/**
 * Observes an `AbortableAsyncIterator` in place, so the caller keeps the very object the SDK made,
 * its `abort()` included (a generator in its place, the default, would lose it). Its iteration is
 * observed as any SDK generator's: the end reported once, when the stream ends, fails (an abort
 * while reading fails it with an AbortError, as the bare client does), or the caller stops
 * reading. An `abort()` before any reading ends it too, as partial.
 */
export function observeAbortableIterator(data: unknown, onEnd: (end: StreamEnd) => void, textOf?: TextOf): unknown {
  const it = data as Partial<AbortableLike> | null;
  const iterate = it?.[Symbol.asyncIterator];
  const abort = it?.abort;
  if (typeof it !== 'object' || it === null || typeof abort !== 'function' || typeof iterate !== 'function') return undefined;
  let started = false;
  let ended = false;
  const once = (end: StreamEnd) => {
    if (ended) return;
    ended = true;
    try {
      onEnd(end);
    } catch {
      // Never into the caller's code path.
    }
  };
  // Own properties of this one object, shadowing the class's methods.
  Object.defineProperty(it, Symbol.asyncIterator, {
    configurable: true,
    writable: true,
    value(this: unknown) {
      started = true;
      return observeAsyncIterable({ [Symbol.asyncIterator]: () => iterate.call(this) }, once, textOf);
    },
  });
  Object.defineProperty(it, 'abort', {
    configurable: true,
    writable: true,
    value(this: unknown) {
      if (!started) once({ events: [], complete: false });
      return abort.call(this);
    },
  });
  return it;
}
