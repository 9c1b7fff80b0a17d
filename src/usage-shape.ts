import { keySet } from './keys.ts';
import { COUNT_FIELDS, type CountField, type InputCounts, type RecordCounts } from './usage-fields.ts';

/** What kind of call: chat or completion, embedding, or reranking. */
export type ServiceType = 'llm' | 'embedding' | 'reranking';
export const SERVICE_TYPES: readonly ServiceType[] = ['llm', 'embedding', 'reranking'];

/**
 * One call as a caller (or a provider parser) knows it. A count that is not known is left out (or
 * null), never 0: 0 means "free", missing means "unknown".
 *
 * Billing semantics of the normalised shape: `inputTokens` counts every prompt token, cached and
 * cache-write tokens included; `outputTokens` counts every generated token, reasoning included.
 * The counts (`inputTokens`, `outputTokens`, `cachedInputTokens`...) are the table of record
 * fields' (usage-fields.ts), each described there.
 */
export interface UsageInput extends InputCounts {
  /** Provider id: `openai`, `azure_openai`, `anthropic`, `gemini`, `vertex_ai`, `groq`, `mistral`, `cohere`, `voyage`, `aws_bedrock`, `ollama`, or any other string. */
  provider: string;
  /** The model that served the call (the response's model when the provider sends one). */
  model: string;
  /** The model the request asked for, when it differs from `model` (e.g. an alias). */
  requestModel?: string | undefined;
  /** @default 'llm' */
  serviceType?: ServiceType | undefined;
  /** What the call was for, e.g. `extract_nodes`. @default 'chat', 'embeddings' or 'rerank' by service type */
  operation?: string | undefined;
  /** The call's cost in USD when the caller knows it (a provider or gateway that reports it); wins over the price table. */
  costUsd?: number | null | undefined;
  /**
   * The input side of the cost, when the caller knows the split (a gateway that reports it, a JSON
   * export posted back); with `outputCostUsd`, both or neither. They add up to `costUsd` (which
   * they give when it is left out). Without them, a cost the caller gives has no split.
   */
  inputCostUsd?: number | null | undefined;
  /** The output side of the cost, with `inputCostUsd`. */
  outputCostUsd?: number | null | undefined;
  /** The API key used. Never stored: only a short id derived from it. */
  apiKey?: string | undefined;
  /** A key id the caller already has; used when `apiKey` is not given. */
  apiKeyId?: string | undefined;
  userId?: string | undefined;
  threadId?: string | undefined;
  agent?: string | undefined;
  /** Wall time of the call in milliseconds. */
  durationMs?: number | null | undefined;
  /** When the call happened. @default now */
  timestamp?: Date | number | string | undefined;
  /** True for a failed call. Implied by `errorMessage` or `errorType`. */
  error?: boolean | undefined;
  errorMessage?: string | undefined;
  /** A short class of error: `rate_limit`, `timeout`, `http_500`, an exception's name... */
  errorType?: string | undefined;
  /** Free-form context kept in the ledger, at most 8 KiB as JSON. */
  metadata?: Record<string, unknown> | undefined;
}

/** The fields of a {@link UsageInput} other than its counts (the compiler checks the list is complete). */
const OTHER_INPUT_KEYS = keySet<Omit<UsageInput, CountField>>({
  provider: true,
  model: true,
  requestModel: true,
  serviceType: true,
  operation: true,
  costUsd: true,
  inputCostUsd: true,
  outputCostUsd: true,
  apiKey: true,
  apiKeyId: true,
  userId: true,
  threadId: true,
  agent: true,
  durationMs: true,
  timestamp: true,
  error: true,
  errorMessage: true,
  errorType: true,
  metadata: true,
});

/** The fields of a {@link UsageInput}, the table's counts among them: any other key is a ValidationError, not silently dropped. */
export const USAGE_INPUT_KEYS: ReadonlySet<string> = new Set([...OTHER_INPUT_KEYS, ...COUNT_FIELDS]);

/**
 * The names the earlier tools and the providers' usage objects give these fields (case and `_`
 * ignored), for the suggestion in an unknown key's error: ASTRA's `agent_name`, `operation_type`,
 * `request_metadata`, `total_cost`; the research tracker's `prompt_tokens`, `completion_tokens`.
 */
export const USAGE_KEY_HINTS: Readonly<Record<string, string>> = {
  prompttokens: 'inputTokens',
  completiontokens: 'outputTokens',
  cachedtokens: 'cachedInputTokens',
  cachereadinputtokens: 'cachedInputTokens',
  cachecreationinputtokens: 'cacheWriteTokens',
  thinkingtokens: 'reasoningTokens',
  agentname: 'agent',
  operationtype: 'operation',
  requestmetadata: 'metadata',
  totalcost: 'costUsd',
  inputcost: 'inputCostUsd',
  outputcost: 'outputCostUsd',
  estimatedcostusd: 'costUsd',
  cost: 'costUsd',
  latencyms: 'durationMs',
};

/** A validated, priced call: what tokenmeter logged. Unknown counts are null (the counts are the table's, usage-fields.ts). */
export interface UsageRecord extends RecordCounts {
  /** Milliseconds since the epoch. */
  timestamp: number;
  provider: string;
  serviceType: ServiceType;
  model: string;
  requestModel: string | null;
  operation: string;
  /** Cost in USD, or null when the model has no known price. */
  costUsd: number | null;
  /** The same cost as an exact integer number of 1e-12 USD (picodollars), or null. */
  costPicoUsd: number | null;
  /**
   * Of the cost, the input side: every input-side count priced (input, cache reads and writes,
   * audio input) and the fees per search (search units, web searches). Null when the split is not
   * known: no price, a cost the caller gave, a record from a ledger that did not keep it.
   */
  inputCostUsd: number | null;
  /** Of the cost, the output side: every generated count priced (output, reasoning, audio and image output). Null as inputCostUsd. */
  outputCostUsd: number | null;
  apiKeyId: string | null;
  userId: string | null;
  threadId: string | null;
  agent: string | null;
  durationMs: number | null;
  error: boolean;
  errorMessage: string | null;
  errorType: string | null;
  /** A copy of the call's metadata (null when none); at most 8 KiB as JSON. */
  metadata: Record<string, unknown> | null;
}

/**
 * A validated call before pricing: a UsageRecord whose `costUsd` is the cost the caller gave (null
 * when the price table is to be used) and whose `costPicoUsd` is not yet set.
 */
export type ValidUsage = UsageRecord;
