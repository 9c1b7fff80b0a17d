/**
 * `tokenmeter/langchain`: a LangChain.js callback handler that meters chat models and LLMs from the
 * usage LangChain reports (`usage_metadata`: input includes cache reads and writes, output includes
 * reasoning), with the run id in the record's metadata; and `trackEmbeddings` for embeddings
 * models, which run no callbacks. Loaded only through this subpath.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { BaseCallbackHandler } from '@langchain/core/callbacks/base';
import type { Callbacks } from '@langchain/core/callbacks/manager';
import type { Serialized } from '@langchain/core/load/serializable';
import type { LLMResult } from '@langchain/core/outputs';
import type { Held } from '../budgeting.ts';
import type { CallContext } from '../context.ts';
import { isBudgetExceededError } from '../errors.ts';
import { getTokenMonitor } from '../global.ts';
import { errorOf } from '../instrument/error-type.ts';
import { estimateTextTokens } from '../instrument/estimate.ts';
import { checkKeys, keySet } from '../keys.ts';
import type { TokenMonitor } from '../monitor.ts';
import { extractUsage } from '../providers/index.ts';
import { num, obj, str } from '../providers/read.ts';
import { providerFromLangChain, providerFromLangChainEmbeddings } from '../providers/registry.ts';
import type { Usage } from '../providers/types.ts';

// The options' keys, checked complete against LangChainTrackingOptions by the compiler (see keySet).
const LANGCHAIN_KEYS = keySet<LangChainTrackingOptions>({ agentName: true, userId: true, threadId: true, operation: true, provider: true });

/** Checks the LangChain integration's options (`attachTokenTracking`, the handler, `trackEmbeddings`); `agent` means `agentName` there. */
function checkLangChainKeys(options: unknown, what: string): void {
  checkKeys(options, LANGCHAIN_KEYS, { what, hints: { agent: 'agentName' } });
}

/** Who the runs are for. */
export interface LangChainTrackingOptions {
  agentName?: string;
  userId?: string;
  threadId?: string;
  operation?: string;
  /** The provider id, when LangChain's `ls_provider` does not tell it. */
  provider?: string;
}

interface Run {
  start: number;
  provider: string | undefined;
  model: string | undefined;
  /** What the run holds against enforced budgets until it ends. */
  held?: Held | undefined;
}

/** Sums LangChain's standard usage over every generation of a result. */
function usageOf(output: LLMResult): Partial<Usage> & { model?: string } {
  let input: number | undefined;
  let out: number | undefined;
  let cached: number | undefined;
  let written: number | undefined;
  let writtenHour: number | undefined;
  let audioIn: number | undefined;
  let audioOut: number | undefined;
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
      // Audio tokens (of the input and of the output), which audio models bill at their own rates.
      audioIn = add(audioIn, num(obj(um.input_token_details)?.audio));
      audioOut = add(audioOut, num(obj(um.output_token_details)?.audio));
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
  if (audioIn !== undefined) r.inputAudioTokens = input === undefined ? audioIn : Math.min(audioIn, input);
  if (audioOut !== undefined) r.outputAudioTokens = out === undefined ? audioOut : Math.min(audioOut, out);
  if (model !== undefined) r.model = model;
  return r;
}

/** The call context the tracking options name (who and what the calls are for). */
function contextOf(o: LangChainTrackingOptions): CallContext {
  const context: CallContext = {};
  if (o.agentName !== undefined) context.agent = o.agentName;
  if (o.userId !== undefined) context.userId = o.userId;
  if (o.threadId !== undefined) context.threadId = o.threadId;
  if (o.operation !== undefined) context.operation = o.operation;
  return context;
}

/**
 * Meters every chat model and LLM run it sees. Add it to `callbacks`, or use `attachTokenTracking`.
 * A run an enforced budget cannot afford is refused before the model is called: the handler
 * throws the BudgetExceededError from the run's start, which LangChain passes to the caller.
 */
export class TokenmeterCallbackHandler extends BaseCallbackHandler {
  name = 'tokenmeter';
  // Recording is synchronous and cheap: let LangChain finish it before the call returns.
  override awaitHandlers = true;
  // So that a budget's refusal at a run's start reaches the caller (every other callback catches
  // its own failures: tracking never breaks the chain).
  override raiseError = true;
  readonly #monitor: () => TokenMonitor;
  readonly #options: LangChainTrackingOptions;
  readonly #runs = new Map<string, Run>();

  constructor(options: LangChainTrackingOptions = {}, monitor?: TokenMonitor) {
    super();
    checkLangChainKeys(options, 'LangChain tracking options');
    this.#options = options;
    this.#monitor = monitor === undefined ? () => getTokenMonitor() : () => monitor;
  }

  #start(runId: string, input: unknown, extraParams?: Record<string, unknown>, metadata?: Record<string, unknown>): void {
    if (this.#runs.size > 10_000) this.#runs.clear();
    const params = obj(extraParams?.invocation_params);
    const lsProvider = str(metadata?.ls_provider);
    const run: Run = {
      start: performance.now(),
      provider: this.#options.provider ?? (lsProvider === undefined ? undefined : providerFromLangChain(lsProvider)),
      model: str(metadata?.ls_model_name) ?? str(params?.model) ?? str(params?.model_name) ?? str(params?.modelName),
    };
    try {
      const m = this.#monitor();
      // The request as a provider would get it: the prompt's texts and the model's max tokens.
      const request: Record<string, unknown> = { ...params, input };
      if (run.model !== undefined) request.model = run.model;
      const current = m.currentContext();
      run.held = m.admit(run.provider ?? 'unknown', request, { ...current, ...contextOf(this.#options) }, undefined);
    } catch (error) {
      if (isBudgetExceededError(error)) throw error;
      // A failure of tracking itself never stops the run.
    }
    this.#runs.set(runId, run);
  }

  #record(runId: string, usage: Partial<Usage> & { model?: string }, error?: unknown): void {
    const run = this.#runs.get(runId);
    this.#runs.delete(runId);
    const context: CallContext = { ...contextOf(this.#options), metadata: { run_id: runId } };
    const hasCounts = usage.inputTokens !== undefined || usage.outputTokens !== undefined;
    const full: Usage = {
      ...usage,
      provider: run?.provider ?? 'unknown',
      model: usage.model ?? run?.model,
      serviceType: 'llm',
      operation: 'chat',
      usageSource: hasCounts ? 'reported' : 'missing',
    };
    const facts: Parameters<TokenMonitor['recordUsage']>[1] = { context, held: run?.held };
    if (run !== undefined) facts.durationMs = performance.now() - run.start;
    if (error !== undefined) facts.error = errorOf(error);
    this.#monitor().meterUsage(full, facts);
  }

  override handleChatModelStart(
    _llm: Serialized,
    messages: unknown[][],
    runId: string,
    _parent?: string,
    extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
  ): void {
    // Each message's content only (a message object also carries its constructor's copy of it).
    this.#start(
      runId,
      (messages ?? []).flat().map((x) => ({ content: obj(x)?.content })),
      extraParams,
      metadata,
    );
  }

  override handleLLMStart(
    _llm: Serialized,
    prompts: string[],
    runId: string,
    _parent?: string,
    extraParams?: Record<string, unknown>,
    _tags?: string[],
    metadata?: Record<string, unknown>,
  ): void {
    this.#start(runId, prompts, extraParams, metadata);
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
 * to a copy of a CallbackManager. The user and thread are `options.userId` and `options.threadId`,
 * else the config's `configurable.user_id` and `configurable.thread_id`, as ASTRA's
 * `attach_token_tracking` read them (and LangGraph names its threads).
 */
export function attachTokenTracking<C extends { callbacks?: Callbacks; configurable?: Record<string, unknown> }>(
  config: C | undefined,
  options: LangChainTrackingOptions = {},
  monitor?: TokenMonitor,
): C & { callbacks: Callbacks } {
  const configurable = obj(config?.configurable);
  const o: LangChainTrackingOptions = { ...options };
  const userId = options.userId ?? str(configurable?.user_id);
  const threadId = options.threadId ?? str(configurable?.thread_id);
  if (userId !== undefined) o.userId = userId;
  if (threadId !== undefined) o.threadId = threadId;
  const handler = new TokenmeterCallbackHandler(o, monitor);
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

const TRACKED = Symbol.for('tokenmeter.trackedEmbeddings');
/** The embeddings model whose tracked call is running: calls it makes of its own methods (embedDocuments calling embedQuery) are not counted again. */
const inside = new AsyncLocalStorage<object>();

type Method = (this: unknown, ...args: unknown[]) => Promise<unknown>;

/**
 * Meters a LangChain.js embeddings model, in place (LangChain runs no callbacks for embeddings,
 * so the handler cannot see them), and returns it. A model that sends each request through
 * `embeddingWithRetry` and gets the API's response back (OpenAIEmbeddings,
 * AzureOpenAIEmbeddings) is recorded per request with the usage the provider reports. Any other is
 * recorded per `embedDocuments` / `embedQuery` call, its input tokens counted from the texts with
 * js-tiktoken (`metadata.usage: 'estimated'`), or unknown when js-tiktoken is not installed.
 * Failures are recorded with their error and rethrown unchanged. Tracking it twice is a no-op.
 */
export function trackEmbeddings<E extends object>(embeddings: E, options: LangChainTrackingOptions = {}, monitor?: TokenMonitor): E {
  checkLangChainKeys(options, 'trackEmbeddings options');
  const e = embeddings as unknown as Record<string | symbol, unknown>;
  if (e[TRACKED] === true) return embeddings;
  Object.defineProperty(e, TRACKED, { value: true });
  const m = () => monitor ?? getTokenMonitor();
  const className = (embeddings as { constructor?: { name?: string } }).constructor?.name ?? '';
  const provider = options.provider ?? providerFromLangChainEmbeddings(className) ?? 'unknown';
  const modelOf = () => str(e.model) ?? str(e.modelName) ?? str(e.deploymentName);
  const context = contextOf(options);
  const record = (usage: Usage, durationMs: number, error?: unknown) => {
    try {
      const facts: Parameters<TokenMonitor['recordUsage']>[1] = { durationMs, serviceType: 'embedding' };
      if (Object.keys(context).length > 0) facts.context = context;
      if (error !== undefined) facts.error = errorOf(error);
      m().meterUsage(usage, facts);
    } catch {
      // Tracking never breaks the caller's call.
    }
  };
  const unknown = (): Usage => {
    const u: Usage = { provider, serviceType: 'embedding', operation: 'embeddings', usageSource: 'missing' };
    const model = modelOf();
    if (model !== undefined) u.model = model;
    return u;
  };
  const wrap = (name: string, around: (original: Method, self: unknown, args: unknown[]) => Promise<unknown>) => {
    const original = e[name];
    if (typeof original !== 'function') return false;
    e[name] = function (this: unknown, ...args: unknown[]) {
      if (inside.getStore() === e) return (original as Method).apply(this, args);
      return inside.run(e, () => around(original as Method, this, args));
    };
    return true;
  };

  const perRequest = wrap('embeddingWithRetry', async (original, self, [request, ...rest]) => {
    const start = performance.now();
    let response: unknown;
    try {
      response = await original.call(self, request, ...rest);
    } catch (error) {
      record(unknown(), performance.now() - start, error);
      throw error;
    }
    try {
      const usage = extractUsage({ provider, request, response });
      usage.provider = provider;
      record(usage, performance.now() - start);
    } catch {
      // As above.
    }
    return response;
  });
  if (perRequest) return embeddings;

  const perCall = (texts: (args: unknown[]) => string[]) => async (original: Method, self: unknown, args: unknown[]) => {
    const start = performance.now();
    let out: unknown;
    try {
      out = await original.apply(self, args);
    } catch (error) {
      record(unknown(), performance.now() - start, error);
      throw error;
    }
    const durationMs = performance.now() - start;
    const work = estimateTextTokens(texts(args), modelOf()).then((tokens) => {
      const usage = unknown();
      if (tokens !== undefined) {
        usage.usageSource = 'estimated';
        usage.inputTokens = tokens;
        usage.totalTokens = tokens;
      }
      record(usage, durationMs);
    });
    try {
      m().waitFor(work);
    } catch {
      // As above.
    }
    return out;
  };
  wrap(
    'embedDocuments',
    perCall(([docs]) => (Array.isArray(docs) ? docs.filter((d): d is string => typeof d === 'string') : [])),
  );
  wrap(
    'embedQuery',
    perCall(([query]) => (typeof query === 'string' ? [query] : [])),
  );
  return embeddings;
}
