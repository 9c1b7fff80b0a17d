import type { Held } from '../budgeting.ts';
import type { CallContext } from '../context.ts';
import type { TrackedCall } from '../instrument/track.ts';
import { extractUsage, type Usage } from '../providers/index.ts';
import type { ServiceType, UsageInput } from '../usage.ts';

/** What an instrumented call adds to the usage its response reports. */
export interface CallFacts {
  durationMs?: number;
  /** Set when the call failed. */
  error?: { type: string; message: string };
  /** The client's API key; only its id is kept. */
  apiKey?: string;
  /** The model to record when the response and request name none. */
  model?: string;
  /** What the call was for; wins over the response's kind of call. */
  operation?: string;
  serviceType?: ServiceType;
  metadata?: Record<string, unknown>;
  /** Who and what the call was for (an instrumented client's context, merged with `withContext`'s). */
  context?: CallContext;
  /**
   * True when `context` is all of the call's context, taken when the call was made (instrumented
   * clients): the context running when its usage is recorded (a stream read elsewhere) is not
   * added. Otherwise that context fills what `context` leaves unset.
   */
  wholeContext?: boolean;
  /** What `admit` held for the call, given back now that its usage is known. */
  held?: Held | undefined;
  /** When the call ended (epoch ms), for a call recorded later than that (see LaterQueue); else now. */
  timestamp?: number;
}

/**
 * The record of a call from the usage its provider's response reported and what the instrumented
 * call adds (`facts`): the one place a `Usage` becomes a `UsageInput`. Its counts are not copied:
 * they stay on `usage`, which names them as UsageInput does, and are read from there when the call
 * is checked (`pipeline.meter(input, ctx, usage)`, see validateBuilt).
 */
export function inputOfUsage(usage: Usage, facts: CallFacts): UsageInput {
  const ctx = facts.context;
  let metadata = ctx?.metadata === undefined ? facts.metadata : { ...ctx.metadata, ...facts.metadata };
  if (ctx?.runId !== undefined) metadata = { ...metadata, run_id: ctx.runId };
  if (usage.usageSource !== 'reported' || usage.partial === true) {
    metadata = { ...metadata, usage: usage.usageSource, ...(usage.partial === true ? { partial: true } : {}) };
  }
  // A tier other than the standard one is kept with the record, and priced (see costPico).
  if (usage.serviceTier !== undefined) metadata = { ...metadata, service_tier: usage.serviceTier };
  const model = usage.model ?? usage.requestModel ?? facts.model ?? 'unknown';
  return {
    provider: usage.provider,
    model,
    requestModel: usage.requestModel !== undefined && usage.requestModel !== model ? usage.requestModel : undefined,
    serviceType: facts.serviceType ?? usage.serviceType,
    operation: facts.operation ?? ctx?.operation ?? usage.operation,
    userId: ctx?.userId,
    threadId: ctx?.threadId,
    agent: ctx?.agent,
    durationMs: facts.durationMs,
    apiKey: facts.apiKey,
    error: facts.error !== undefined,
    errorType: facts.error?.type,
    errorMessage: facts.error?.message,
    metadata,
    timestamp: facts.timestamp,
  };
}

/** The usage and facts of a call `track()` observed; its hold goes with the facts (settled when recorded). */
export function usageOfCall(call: TrackedCall): { usage: Usage; facts: CallFacts } {
  const o = call.options;
  const usage = extractUsage({ provider: o.provider, request: call.request, response: call.response });
  const facts: CallFacts = { durationMs: call.durationMs, held: call.held as Held | undefined };
  if (call.error !== undefined) facts.error = call.error;
  if (o.model !== undefined) facts.model = o.model;
  if (o.operation !== undefined) facts.operation = o.operation;
  if (o.serviceType !== undefined) facts.serviceType = o.serviceType;
  return { usage, facts };
}
