import type { ServiceType } from '../usage.ts';
import { errorOf } from './error-type.ts';
import type { Held } from './wrap.ts';

/** How to meter a function that returns a provider response. */
export interface TrackOptions {
  /** Provider id; picks the converter that reads the response's usage. */
  provider: string;
  /** The model, when the response does not say. */
  model?: string;
  /** What the call is for, e.g. `extract_nodes`. */
  operation?: string;
  /** @default what the response shows, else 'llm' */
  serviceType?: ServiceType;
}

/** What a tracker hands the monitor after each call. */
export interface TrackedCall {
  options: TrackOptions;
  /** The function's first argument, taken as the request. */
  request: unknown;
  response?: unknown;
  error?: { type: string; message: string };
  durationMs: number;
  /** What `admitCall` held against enforced budgets, given back when the call is recorded. */
  held?: Held;
}

/** The part of a monitor that `track` needs: it records, and never throws. */
export interface CallSink {
  recordCall(call: TrackedCall): void;
  /**
   * Before the function runs: holds the call's estimated cost against enforced budgets (what it
   * returns comes back as `held`), or throws a BudgetExceededError, and nothing else.
   */
  admitCall?(options: TrackOptions, args: readonly unknown[]): Held | undefined;
}

type AnyFn = (this: unknown, ...args: never[]) => unknown;

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/**
 * Wraps `fn` (sync or async) so each call is metered from the response it returns; failures are
 * recorded and rethrown unchanged. The sink is looked up at call time, so wrapping costs nothing
 * until the function runs. A call an enforced budget cannot afford is refused before `fn` runs:
 * an `async` function's promise rejects with the BudgetExceededError, any other function throws it.
 */
export function trackWith<F extends AnyFn>(sink: () => CallSink, fn: F, options: TrackOptions): F {
  if (typeof fn !== 'function') throw new TypeError(`track: expected a function, got ${typeof fn}`);
  // An async function's callers handle its failures as rejections (`.catch()`, Promise.all).
  const isAsync = fn.constructor?.name === 'AsyncFunction';
  const tracked = function (this: unknown, ...args: Parameters<F>): ReturnType<F> {
    const s = sink();
    let held: Held | undefined;
    if (s.admitCall !== undefined) {
      try {
        held = s.admitCall(options, args);
      } catch (error) {
        if (isAsync) return Promise.reject(error) as ReturnType<F>;
        throw error;
      }
    }
    const start = performance.now();
    const done = (response: unknown, error?: unknown) => {
      const call: TrackedCall = { options, request: args[0], durationMs: performance.now() - start };
      if (error === undefined) call.response = response;
      else call.error = errorOf(error);
      if (held !== undefined) call.held = held;
      s.recordCall(call);
    };
    let result: unknown;
    try {
      result = fn.apply(this, args);
    } catch (error) {
      done(undefined, error);
      throw error;
    }
    if (!isThenable(result)) {
      done(result);
      return result as ReturnType<F>;
    }
    return Promise.resolve(result).then(
      (v) => {
        done(v);
        return v;
      },
      (error: unknown) => {
        done(undefined, error ?? new Error('rejected'));
        throw error;
      },
    ) as ReturnType<F>;
  };
  Object.defineProperty(tracked, 'name', { value: fn.name });
  return tracked as F;
}

/**
 * A tracker that works both as a function wrapper, `trackLlmUsage(opts)(fn)`, and as a standard
 * (TC39) method decorator, `@trackLlmUsage(opts) method() {}`.
 */
export function wrapperOrDecorator(sink: () => CallSink, options: TrackOptions) {
  return <F extends AnyFn>(fn: F, _context?: ClassMethodDecoratorContext): F => trackWith(sink, fn, options);
}
