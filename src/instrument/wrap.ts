import type { CallContext } from '../context.ts';
import { converterFor } from '../providers/registry.ts';
import type { ProviderConverter, Usage } from '../providers/types.ts';
import { type CallObserver, observeCall } from './api-promise.ts';
import { callerSignal, errorOf, errorTypeOf } from './error-type.ts';
import { estimateUsage } from './estimate.ts';
import {
  type DropWatcher,
  type EventKeeper,
  isAsyncIterable,
  isStream,
  type ObserveOptions,
  observeAsyncIterable,
  observeStream,
  type StreamEnd,
  type StreamSink,
  unwatchDrop,
  watchDrop,
} from './stainless.ts';

/** The monitor as instrumented clients see it. */
export interface UsageRecorder {
  /** Records a call's usage; nothing is built for the caller (instrumented clients read no result). */
  meterUsage(
    usage: Usage,
    facts: {
      durationMs?: number;
      error?: { type: string; message: string };
      apiKey?: string;
      context?: CallContext;
      wholeContext?: boolean;
      held?: Held;
    },
  ): void;
  /**
   * Before the request leaves: holds the call's estimated cost against enforced budgets, or throws
   * a BudgetExceededError. What it returns comes back as `facts.held`.
   */
  admit?(provider: string, body: unknown, context: CallContext | undefined, apiKey: string | undefined): Held | undefined;
  settle?(held: Held | undefined): void;
  currentContext(): CallContext | undefined;
  /** Holds `flush()` and `close()` until `work` (a stream's usage being estimated, then recorded) is done. */
  waitFor?(work: Promise<unknown>): void;
  /** Keeps a client's key out of what the monitor logs. */
  addSecret?(apiKey: string): void;
}

/** One instrumented client: who records, for which provider, with which key and context. */
export interface ClientRecorder {
  readonly monitor: UsageRecorder;
  readonly provider: string;
  readonly apiKey: string | undefined;
  /** Context given to `instrument()`; a `withContext` around a call wins over it. */
  readonly context: CallContext | undefined;
}

/** Sets up metering on a client, in place. */
export type Instrumenter = (client: object, recorder: ClientRecorder) => void;

/** What to change about a call before it goes out: its body, and how to observe its stream. */
export interface Prepared {
  /** The body to send instead of the caller's (left out: the caller's, unchanged). */
  body?: unknown;
  observe?: ObserveOptions;
  /**
   * Observes a result the defaults would not hand back intact (a ReadableStream, an iterator with
   * methods of its own such as `abort()`): returns what the caller gets and calls `onEnd` once, or
   * undefined to leave the result to the defaults. `textOf` is the converter's, for StreamEnd.text.
   */
  observeResult?: (data: unknown, onEnd: (end: StreamEnd) => void, textOf?: (event: unknown) => string | undefined) => unknown;
  /**
   * The errorType of a failure the error alone does not tell, or undefined to leave it to
   * errorTypeOf (@google/genai aborts its own timeouts and the caller's signal with the same
   * AbortError: only the caller's signal tells them apart).
   */
  errorType?: (error: unknown) => string | undefined;
}

const WRAPPED = Symbol.for('tokenmeter.wrapped');
const NO_OPTIONS: ObserveOptions = {};

/** What a call holds against enforced budgets until its usage is recorded (opaque here). */
// biome-ignore lint/suspicious/noExplicitAny: the monitor's type; instrument/ does not import budgets/.
export type Held = readonly (readonly [any, number])[];

/**
 * Calls `fn` (with `thisArg` and `args`) after `admit`. An enforced budget without room stops it
 * before anything is sent: the caller gets a promise rejected with the BudgetExceededError, as
 * from any failed request (a synchronous throw would escape a `Promise.all(items.map(...))`), and
 * nothing is recorded, since nothing was used. A call that throws at once gives back what it held.
 */
export function admitted(
  recorder: ClientRecorder,
  body: unknown,
  context: CallContext | undefined,
  fn: (...a: unknown[]) => unknown,
  thisArg: unknown,
  args: ArrayLike<unknown>,
): { held: Held | undefined; result: unknown; blocked?: true } {
  let held: Held | undefined;
  try {
    held = recorder.monitor.admit?.(recorder.provider, body, context, recorder.apiKey);
  } catch (error) {
    return { held: undefined, result: Promise.reject(error), blocked: true };
  }
  try {
    return { held, result: Reflect.apply(fn, thisArg, args) };
  } catch (error) {
    recorder.monitor.settle?.(held);
    throw error;
  }
}

/**
 * Records one instrumented call of `recorder`'s client: its usage, how long it took, and the
 * context it was made in (the whole of it: whatever runs when its end is recorded is not added).
 * What `admit` held is given back; a failure is recorded with its error, and its `errorType` when
 * the wrapper knows it (else errorTypeOf's).
 */
export function recordMetered(
  recorder: ClientRecorder,
  usage: Usage,
  durationMs: number,
  context: CallContext | undefined,
  held: Held | undefined,
  error?: unknown,
  errorType?: string,
): void {
  const facts: Parameters<UsageRecorder['meterUsage']>[1] = { durationMs, wholeContext: true };
  if (held !== undefined) facts.held = held;
  if (error !== undefined) facts.error = errorOf(error, errorType);
  if (recorder.apiKey !== undefined) facts.apiKey = recorder.apiKey;
  if (context !== undefined) facts.context = context;
  // The recorder's provider wins: one given to instrument() (a gateway read as OpenAI) is set here.
  usage.provider = recorder.provider;
  recorder.monitor.meterUsage(usage, facts);
}

/** The context of one call: `instrument()`'s, with a `withContext` around the call winning. */
export function contextFor(recorder: ClientRecorder): CallContext | undefined {
  const dynamic = recorder.monitor.currentContext();
  if (recorder.context === undefined) return dynamic;
  if (dynamic === undefined) return recorder.context;
  const merged: CallContext = { ...recorder.context, ...dynamic };
  if (recorder.context.metadata !== undefined && dynamic.metadata !== undefined)
    merged.metadata = { ...recorder.context.metadata, ...dynamic.metadata };
  return merged;
}

/**
 * One metered call: what recording its usage takes (the request, what `admit` held, when it
 * started), in one object whose methods observe the result, its stream and the stream's drop,
 * rather than a closure per step.
 */
class MeteredCall implements CallObserver, StreamSink, DropWatcher {
  readonly #recorder: ClientRecorder;
  readonly #converter: ProviderConverter;
  readonly #body: unknown;
  /** The caller's request options (the second argument), read only if the call fails. */
  readonly #options: unknown;
  readonly #prepared: Prepared | undefined;
  readonly #context: CallContext | undefined;
  readonly #start: number;
  held: Held | undefined = undefined;
  /** Set once the call's end is recorded: a stream's end, or its drop, is recorded once. */
  #ended = false;
  /** What the stream's latest reading kept: what a stream read partway, then let go of, is recorded with. */
  #kept: EventKeeper | undefined = undefined;

  constructor(
    recorder: ClientRecorder,
    converter: ProviderConverter,
    body: unknown,
    options: unknown,
    prepared: Prepared | undefined,
    context: CallContext | undefined,
    start: number,
  ) {
    this.#recorder = recorder;
    this.#converter = converter;
    this.#body = body;
    this.#options = options;
    this.#prepared = prepared;
    this.#context = context;
    this.#start = start;
  }

  #record(usage: Usage, error?: unknown, durationMs = performance.now() - this.#start): void {
    const type =
      error === undefined ? undefined : (this.#prepared?.errorType?.(error) ?? errorTypeOf(error, callerSignal(this.#body, this.#options)));
    recordMetered(this.#recorder, usage, durationMs, this.#context, this.held, error, type);
  }

  #onEnd(end: StreamEnd): void {
    if (this.#ended) return;
    this.#ended = true;
    // Let go of the events as soon as they are read: kept on, they outlive the stream and cost
    // garbage collection (measured: ~10 µs of CPU a stream).
    this.#kept = undefined;
    const usage = this.#converter.fromStream(end.events, this.#body);
    if (!end.complete) usage.partial = true;
    // A stream that ended normally without usage: counted with a tokenizer, then recorded
    // (asynchronously: the tokenizer loads on first use). One cut short keeps its counts unknown.
    if (usage.usageSource === 'missing' && usage.partial !== true && end.error === undefined && end.text !== undefined) {
      const durationMs = performance.now() - this.#start;
      const work = estimateUsage(usage, this.#body, end.text).then(
        (estimated) => this.#record(estimated, undefined, durationMs),
        () => this.#record(usage, undefined, durationMs),
      );
      this.#recorder.monitor.waitFor?.(work);
      return;
    }
    this.#record(usage, end.error);
  }

  /** The result as the caller gets it: observed when it is a stream, recorded now when it is a response. */
  onData(data: unknown): unknown {
    const converter = this.#converter;
    const prepared = this.#prepared;
    if (prepared?.observeResult !== undefined || isStream(data) || isAsyncIterable(data)) {
      // A stream let go of before its end (unread, or read partway) still ends: recorded as
      // abandoned with what was read, and what it held against enforced budgets given back, once
      // it is garbage-collected (dropped()).
      const observed = prepared?.observeResult?.(data, (end) => this.ended(end), converter.textOf);
      if (observed !== undefined) return watchDrop(observed, this);
      if (isStream(data)) {
        // This call is the stream's sink: no closure made per stream.
        observeStream(data, prepared?.observe ?? NO_OPTIONS, this, converter.textOf);
        return watchDrop(data, this);
      }
      // An SDK's own async generator (@google/genai streams): handed back observed.
      if (isAsyncIterable(data))
        return watchDrop(
          observeAsyncIterable(data, (end) => this.ended(end), converter.textOf, this),
          this,
        );
    }
    this.#record(converter.fromResponse(data, this.#body));
    return data;
  }

  /** A reading of the stream began (StreamSink). */
  reading(kept: EventKeeper): void {
    if (!this.#ended) this.#kept = kept;
  }

  /** The stream ended, failed or was stopped (StreamSink): its drop is no longer watched. */
  ended(end: StreamEnd): void {
    unwatchDrop(this);
    this.#onEnd(end);
  }

  /** The stream was garbage-collected before its end was reported (DropWatcher). */
  dropped(): void {
    this.#onEnd(this.#kept?.end(false) ?? { events: [], complete: false });
  }

  onError(error: unknown): void {
    this.#record(this.#converter.fromResponse(undefined, this.#body), error);
  }
}

/**
 * Replaces `resource[method]` (on that instance only) with a metered one that passes the same
 * arguments through and gives the caller the same result. Wrapping twice is a no-op.
 */
export function wrapMethod(
  resource: unknown,
  method: string,
  recorder: ClientRecorder,
  prepare?: (body: unknown) => Prepared | undefined,
): void {
  const r = resource as Record<string | symbol, unknown> | undefined;
  const original = r?.[method];
  if (r === undefined || typeof original !== 'function' || (original as unknown as Record<symbol, unknown>)[WRAPPED]) return;
  // Looked up once: a recorder's provider does not change.
  const converter = converterFor(recorder.provider);
  if (recorder.apiKey !== undefined) recorder.monitor.addSecret?.(recorder.apiKey);
  const metered = function (this: unknown, ...args: unknown[]): unknown {
    const body = args[0];
    const start = performance.now();
    const context = contextFor(recorder);
    let prepared: Prepared | undefined;
    if (prepare !== undefined) {
      try {
        prepared = prepare(body);
      } catch {
        prepared = undefined;
      }
    }
    // The caller's own arguments, the body changed if it is to be.
    if (prepared !== undefined && 'body' in prepared) args[0] = prepared.body;
    const call = admitted(recorder, body, context, original as (...a: unknown[]) => unknown, this, args);
    if (call.blocked) return call.result;
    const metering = new MeteredCall(recorder, converter, body, args[1], prepared, context, start);
    metering.held = call.held;
    return observeCall(call.result, metering);
  };
  Object.defineProperty(metered, WRAPPED, { value: true });
  r[method] = metered;
}
