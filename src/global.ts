import { ValidationError } from './errors.ts';
import { type TrackOptions, trackWith, wrapperOrDecorator } from './instrument/track.ts';
import { type RecordResult, TokenMonitor, type TokenMonitorOptions } from './monitor.ts';
import { checkMethodOptions, TRACK_OPTION_KEYS } from './option-keys.ts';
import type { ServiceType, UsageInput } from './usage.ts';

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

/** The call with the helper's service type; one it contradicts (from JavaScript) is an error, not overridden. */
function typed(helper: string, usage: UsageArgs, serviceType: ServiceType): UsageInput {
  const given = (usage as UsageInput | null | undefined)?.serviceType;
  if (given !== undefined && given !== serviceType) {
    throw new ValidationError('serviceType', given, `${helper} records ${serviceType} calls; use record() for others`);
  }
  return { ...usage, serviceType };
}

/** Records an LLM call on the process-wide monitor. */
export function logLlmUsage(usage: UsageArgs): RecordResult {
  return getTokenMonitor().record(typed('logLlmUsage', usage, 'llm'));
}

/** Records an embedding call on the process-wide monitor. */
export function logEmbeddingUsage(usage: UsageArgs): RecordResult {
  return getTokenMonitor().record(typed('logEmbeddingUsage', usage, 'embedding'));
}

/** Records a rerank call (with `searchUnits` where the API bills per search) on the process-wide monitor. */
export function logRerankUsage(usage: UsageArgs): RecordResult {
  return getTokenMonitor().record(typed('logRerankUsage', usage, 'reranking'));
}

/** Meters any function that returns a provider response, on the process-wide monitor (created on first call). */
export function track<F extends (this: unknown, ...args: never[]) => unknown>(fn: F, options: TrackOptions): F {
  checkMethodOptions(options, TRACK_OPTION_KEYS, 'track options');
  return trackWith(() => getTokenMonitor(), fn, options);
}

/** A tracker's options with its service type; an unknown key, or a service type it contradicts, is an error. */
function trackOptions(helper: string, options: Omit<TrackOptions, 'serviceType'>, serviceType: ServiceType): TrackOptions {
  checkMethodOptions(options, TRACK_OPTION_KEYS, `${helper} options`);
  const given = (options as TrackOptions | undefined)?.serviceType;
  if (given !== undefined && given !== serviceType) {
    throw new ValidationError('serviceType', given, `${helper} tracks ${serviceType} calls; use track() for others`);
  }
  return { ...options, serviceType };
}

/** `trackLlmUsage(opts)(fn)`, or `@trackLlmUsage(opts)` on a class method: meters LLM calls on the process-wide monitor. */
export function trackLlmUsage(options: Omit<TrackOptions, 'serviceType'>) {
  return wrapperOrDecorator(() => getTokenMonitor(), trackOptions('trackLlmUsage', options, 'llm'));
}

/** As `trackLlmUsage`, for embedding calls. */
export function trackEmbeddingUsage(options: Omit<TrackOptions, 'serviceType'>) {
  return wrapperOrDecorator(() => getTokenMonitor(), trackOptions('trackEmbeddingUsage', options, 'embedding'));
}

/** As `trackLlmUsage`, for rerank calls. */
export function trackRerankUsage(options: Omit<TrackOptions, 'serviceType'>) {
  return wrapperOrDecorator(() => getTokenMonitor(), trackOptions('trackRerankUsage', options, 'reranking'));
}
