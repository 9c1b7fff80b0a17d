import type { ServiceType } from '../usage.ts';
import type { ReadCounts } from '../usage-fields.ts';

/**
 * What a provider's response (or stream) says a call used, in tokenmeter's normalised shape.
 *
 * Billing semantics: `inputTokens` counts every prompt token, cached and cache-write tokens
 * included; `outputTokens` counts every generated token, reasoning included. A count the provider
 * did not send is left undefined, never 0: 0 means "free", undefined means "unknown". The counts
 * (`inputTokens`, `outputTokens`, `cachedInputTokens`...) are the table of record fields'
 * (usage-fields.ts), each described there.
 */
export interface Usage extends ReadCounts {
  /** tokenmeter provider id: one of the registry's (src/providers/registry.ts, `tokenmeter providers`), or any other string. */
  provider: string;
  /** The response's model when the provider sends one, else the request's; undefined when neither says. */
  model?: string | undefined;
  /** The request's model, when known. */
  requestModel?: string | undefined;
  serviceType: ServiceType;
  /** What kind of call, in GenAI semantic-convention terms: chat, text_completion, generate_content, embeddings, rerank. */
  operation: string;
  /**
   * The processing tier that served the call when it was not the standard one (OpenAI's and Azure
   * OpenAI's `service_tier`: `flex`, billed at half the standard rates; `priority`; `scale`).
   */
  serviceTier?: string | undefined;
  /**
   * Where the counts came from: `reported` by the provider; `missing` when the response carried no
   * usage at all; `estimated` when tokenmeter counted them itself.
   */
  usageSource: 'reported' | 'missing' | 'estimated';
  /** True when a stream ended before its final event: the counts may be short. */
  partial?: boolean | undefined;
  /** Fields the converter looked for and could not read (wrong type, unexpected shape). */
  unread?: string[] | undefined;
}

/** The raw material of one call, as `extractUsage` takes it. */
export interface ExtractInput {
  provider: string;
  /** The request body (or SDK params), when known: gives the requested model and the operation. */
  request?: unknown;
  /** The parsed JSON response body. */
  response?: unknown;
  /** A streamed response as raw text: SSE (`data: {...}` events, LF or CRLF) or NDJSON. */
  stream?: string;
}

/** One provider's pure converters: no I/O, never throw. */
export interface ProviderConverter {
  /** Usage from a complete (non-streamed) response body. */
  fromResponse(response: unknown, request?: unknown): Usage;
  /** Usage from a stream's events (each SSE `data:` payload or NDJSON line, parsed as JSON), in order. */
  fromStream(events: readonly unknown[], request?: unknown): Usage;
  /**
   * The generated text one stream event carries (content, reasoning, tool-call arguments), or
   * undefined: what a token estimate counts when the stream reports no usage. Called on every
   * event of an instrumented stream, so it must be cheap, and never throw.
   */
  textOf?(event: unknown): string | undefined;
}
