/**
 * `tokenmeter/langchain`: a LangChain.js callback handler that meters chat models and LLMs from the
 * usage LangChain reports (`usage_metadata`: input includes cache reads and writes, output includes
 * reasoning), with the run id in the record's metadata. Loaded only through this subpath.
 */
import { BaseCallbackHandler } from '@langchain/core/callbacks/base';
import type { Callbacks } from '@langchain/core/callbacks/manager';
import type { Serialized } from '@langchain/core/load/serializable';
import type { LLMResult } from '@langchain/core/outputs';
import type { CallContext } from '../context.ts';
import { getTokenMonitor } from '../global.ts';
import { errorMessageOf, errorTypeOf } from '../instrument/error-type.ts';
import type { TokenMonitor } from '../monitor.ts';
import { num, obj, str } from '../providers/read.ts';
import type { Usage } from '../providers/types.ts';

/** Who the runs are for. */
export interface LangChainTrackingOptions {
  agentName?: string;
  userId?: string;
  threadId?: string;
  operation?: string;
  /** The provider id, when LangChain's `ls_provider` does not tell it. */
  provider?: string;
}

// LangChain's ls_provider values → tokenmeter provider ids.
const PROVIDERS: Record<string, string> = {
  openai: 'openai',
  azure: 'azure_openai',
  azure_openai: 'azure_openai',
  anthropic: 'anthropic',
  google_genai: 'gemini',
  google_vertexai: 'vertex_ai',
  groq: 'groq',
  mistral: 'mistral',
  mistralai: 'mistral',
  cohere: 'cohere',
  bedrock: 'aws_bedrock',
  amazon_bedrock: 'aws_bedrock',
  ollama: 'ollama',
};

interface Run {
  start: number;
  provider: string | undefined;
  model: string | undefined;
}

/** Sums LangChain's standard usage over every generation of a result. */
function usageOf(output: LLMResult): Partial<Usage> & { model?: string } {
  let input: number | undefined;
  let out: number | undefined;
  let cached: number | undefined;
  let written: number | undefined;
  let writtenHour: number | undefined;
  let reasoning: number | undefined;
  let model: string | undefined;
  const add = (a: number | undefined, b: number | undefined) => (b === undefined ? a : (a ?? 0) + b);
  for (const batch of output.generations ?? []) {
    for (const g of batch ?? []) {
      const message = obj(obj(g)?.message);
      const um = obj(message?.usage_metadata);
      model ??= str(obj(message?.response_metadata)?.model_name) ?? str(obj(message?.response_metadata)?.model);
      if (um === undefined) continue;
      input = add(input, num(um.input_tokens));
      out = add(out, num(um.output_tokens));
      cached = add(cached, num(obj(um.input_token_details)?.cache_read));
      written = add(written, num(obj(um.input_token_details)?.cache_creation));
      // Anthropic's one-hour cache writes, which cost more than the five-minute ones.
      writtenHour = add(writtenHour, num(obj(um.input_token_details)?.ephemeral_1h_input_tokens));
      reasoning = add(reasoning, num(obj(um.output_token_details)?.reasoning));
    }
  }
  // Older integrations report only llmOutput.tokenUsage (camelCase).
  const tu = obj(obj(output.llmOutput)?.tokenUsage) ?? obj(obj(output.llmOutput)?.estimatedTokenUsage);
  if (input === undefined && out === undefined && tu !== undefined) {
    input = num(tu.promptTokens);
    out = num(tu.completionTokens);
  }
  const r: Partial<Usage> & { model?: string } = {};
  if (input !== undefined) r.inputTokens = input;
  if (out !== undefined) r.outputTokens = out;
  if (cached !== undefined) r.cachedInputTokens = cached;
  if (written !== undefined) r.cacheWriteTokens = written;
  if (writtenHour !== undefined) r.cacheWrite1hTokens = writtenHour;
  if (reasoning !== undefined) r.reasoningTokens = reasoning;
  if (model !== undefined) r.model = model;
  return r;
}

/** Meters every chat model and LLM run it sees. Add it to `callbacks`, or use `attachTokenTracking`. */
export class TokenmeterCallbackHandler extends BaseCallbackHandler {
  name = 'tokenmeter';
  // Recording is synchronous and cheap: let LangChain finish it before the call returns.
  override awaitHandlers = true;
  readonly #monitor: () => TokenMonitor;
  readonly #options: LangChainTrackingOptions;
  readonly #runs = new Map<string, Run>();

  constructor(options: LangChainTrackingOptions = {}, monitor?: TokenMonitor) {
    super();
    this.#options = options;
    this.#monitor = monitor === undefined ? () => getTokenMonitor() : () => monitor;
  }

  #start(runId: string, extraParams?: Record<string, unknown>, metadata?: Record<string, unknown>): void {
    if (this.#runs.size > 10_000) this.#runs.clear();
    const params = obj(extraParams?.invocation_params);
    const lsProvider = str(metadata?.ls_provider);
    this.#runs.set(runId, {
      start: performance.now(),
      provider: this.#options.provider ?? (lsProvider === undefined ? undefined : (PROVIDERS[lsProvider] ?? lsProvider)),
      model: str(metadata?.ls_model_name) ?? str(params?.model) ?? str(params?.model_name) ?? str(params?.modelName),
    });
  }

  #record(runId: string, usage: Partial<Usage> & { model?: string }, error?: unknown): void {
    const run = this.#runs.get(runId);
    this.#runs.delete(runId);
    const o = this.#options;
    const context: CallContext = { metadata: { run_id: runId } };
    if (o.agentName !== undefined) context.agent = o.agentName;
    if (o.userId !== undefined) context.userId = o.userId;
    if (o.threadId !== undefined) context.threadId = o.threadId;
    if (o.operation !== undefined) context.operation = o.operation;
    const hasCounts = usage.inputTokens !== undefined || usage.outputTokens !== undefined;
    const full: Usage = {
      ...usage,
      provider: run?.provider ?? 'unknown',
      model: usage.model ?? run?.model,
      serviceType: 'llm',
      operation: 'chat',
      usageSource: hasCounts ? 'reported' : 'missing',
    };
    const facts: Parameters<TokenMonitor['recordUsage']>[1] = { context };
    if (run !== undefined) facts.durationMs = performance.now() - run.start;
    if (error !== undefined) facts.error = { type: errorTypeOf(error), message: errorMessageOf(error) };
    this.#monitor().recordUsage(full, facts);
  }

  override handleChatModelStart(
    _llm: Serialized,
    _messages: unknown[][],
    runId: string,
    _parent?: string,
    extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
  ): void {
    this.#start(runId, extraParams, metadata);
  }

  override handleLLMStart(
    _llm: Serialized,
    _prompts: string[],
    runId: string,
    _parent?: string,
    extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
  ): void {
    this.#start(runId, extraParams, metadata);
  }

  override handleLLMEnd(output: LLMResult, runId: string): void {
    try {
      this.#record(runId, usageOf(output));
    } catch {
      // Tracking never breaks the chain; the monitor counts its own failures.
    }
  }

  override handleLLMError(err: Error, runId: string): void {
    try {
      this.#record(runId, {}, err);
    } catch {
      // As above.
    }
  }
}

/**
 * Returns `config` with a tokenmeter handler added to its callbacks: appended to a list, or added
 * to a copy of a CallbackManager.
 */
export function attachTokenTracking<C extends { callbacks?: Callbacks }>(
  config: C | undefined,
  options: LangChainTrackingOptions = {},
  monitor?: TokenMonitor,
): C & { callbacks: Callbacks } {
  const handler = new TokenmeterCallbackHandler(options, monitor);
  const existing = config?.callbacks;
  let callbacks: Callbacks;
  if (existing === undefined) callbacks = [handler];
  else if (Array.isArray(existing)) callbacks = [...existing, handler];
  else {
    const manager = existing.copy();
    manager.addHandler(handler, true);
    callbacks = manager;
  }
  return { ...(config ?? ({} as C)), callbacks };
}
