import { type TrackOptions, trackWith, wrapperOrDecorator } from './instrument/track.ts';
import { type RecordResult, TokenMonitor, type TokenMonitorOptions } from './monitor.ts';
import type { UsageInput } from './usage.ts';

/**
 * The seed-style convenience for code that wants one monitor per process. The library itself never
 * uses it; pass a TokenMonitor around where you can.
 */
let global: TokenMonitor | undefined;

/** The process-wide monitor, created with `options` on first use. */
export function getTokenMonitor(options?: TokenMonitorOptions): TokenMonitor {
  global ??= new TokenMonitor(options);
  return global;
}

/** Closes the process-wide monitor; the next `getTokenMonitor()` makes a new one. */
export async function closeTokenMonitor(): Promise<void> {
  const m = global;
  global = undefined;
  await m?.close();
}

/** A call's fields without the service type, which each helper sets. */
export type UsageArgs = Omit<UsageInput, 'serviceType'>;

/** Records an LLM call on the process-wide monitor. */
export function logLlmUsage(usage: UsageArgs): RecordResult {
  return getTokenMonitor().record({ ...usage, serviceType: 'llm' });
}

/** Records an embedding call on the process-wide monitor. */
export function logEmbeddingUsage(usage: UsageArgs): RecordResult {
  return getTokenMonitor().record({ ...usage, serviceType: 'embedding' });
}

/** Records a rerank call (with `searchUnits` where the API bills per search) on the process-wide monitor. */
export function logRerankUsage(usage: UsageArgs): RecordResult {
  return getTokenMonitor().record({ ...usage, serviceType: 'reranking' });
}

/** Meters any function that returns a provider response, on the process-wide monitor (created on first call). */
export function track<F extends (this: unknown, ...args: never[]) => unknown>(fn: F, options: TrackOptions): F {
  return trackWith(() => getTokenMonitor(), fn, options);
}

/** `trackLlmUsage(opts)(fn)`, or `@trackLlmUsage(opts)` on a class method: meters LLM calls on the process-wide monitor. */
export function trackLlmUsage(options: Omit<TrackOptions, 'serviceType'>) {
  return wrapperOrDecorator(() => getTokenMonitor(), { ...options, serviceType: 'llm' });
}

/** As `trackLlmUsage`, for embedding calls. */
export function trackEmbeddingUsage(options: Omit<TrackOptions, 'serviceType'>) {
  return wrapperOrDecorator(() => getTokenMonitor(), { ...options, serviceType: 'embedding' });
}

/** As `trackLlmUsage`, for rerank calls. */
export function trackRerankUsage(options: Omit<TrackOptions, 'serviceType'>) {
  return wrapperOrDecorator(() => getTokenMonitor(), { ...options, serviceType: 'reranking' });
}
