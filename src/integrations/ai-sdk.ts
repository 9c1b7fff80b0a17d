/**
 * `tokenmeter/ai-sdk`: middleware for the Vercel AI SDK's `wrapLanguageModel`, metering
 * `generateText` and `streamText` (and everything built on them) from the usage the AI SDK reports.
 * Loaded only through this subpath; it imports nothing from the AI SDK at run time.
 *
 *   const model = wrapLanguageModel({ model: openai('gpt-4o'), middleware: tokenmeterMiddleware() });
 */

import type { Held } from '../budgeting.ts';
import type { CallContext } from '../context.ts';
import { isBudgetExceededError } from '../errors.ts';
import { getTokenMonitor } from '../global.ts';
import { errorOf } from '../instrument/error-type.ts';
import { checkKeys, keySet } from '../keys.ts';
import type { TokenMonitor } from '../monitor.ts';
import { CONTEXT_AND_PROVIDER_KEY_FLAGS } from '../option-keys.ts';
import { countsOf as countsOfGemini } from '../providers/gemini.ts';
import { num, obj, str } from '../providers/read.ts';
import { providerFromAiSdk } from '../providers/registry.ts';
import type { Usage } from '../providers/types.ts';

// The options' keys: instrument()'s (a call context and the provider), checked complete against
// AiSdkTrackingOptions by the compiler (see keySet).
const AI_SDK_KEYS = keySet<AiSdkTrackingOptions>(CONTEXT_AND_PROVIDER_KEY_FLAGS);

/** Checks the AI SDK middleware's options; `agentName` (LangChain's spelling) means `agent` there. */
function checkAiSdkKeys(options: unknown): void {
  checkKeys(options, AI_SDK_KEYS, { what: 'tokenmeterMiddleware options', hints: { agentname: 'agent' } });
}

/** Who the calls are for, and the provider id when the model's provider name does not tell it. */
export interface AiSdkTrackingOptions extends CallContext {
  provider?: string;
}

/**
 * The AI SDK's usage: spec v3/v4 nests it (`inputTokens.total` includes cache reads and writes,
 * `outputTokens.total` includes reasoning); spec v2 has flat counts. The provider's own usage
 * (`raw`) adds what the common shape leaves out: Anthropic's one-hour cache writes and web searches,
 * and Gemini's audio and image tokens (@ai-sdk/google keeps `promptTokensDetails` and `candidatesTokensDetails`;
 * not `cacheTokensDetails`, so cached audio stays unknown). @ai-sdk/openai's raw usage drops
 * OpenAI's `audio_tokens`, so OpenAI audio is not seen here.
 */
function countsOf(usage: unknown): Partial<Usage> {
  const u = obj(usage);
  if (u === undefined) return {};
  const r: Partial<Usage> = {};
  const input = obj(u.inputTokens);
  const output = obj(u.outputTokens);
  if (input !== undefined || output !== undefined) {
    r.inputTokens = num(input?.total);
    r.cachedInputTokens = num(input?.cacheRead);
    r.cacheWriteTokens = num(input?.cacheWrite);
    r.outputTokens = num(output?.total);
    r.reasoningTokens = num(output?.reasoning);
    const raw = obj(u.raw);
    r.cacheWrite1hTokens = num(obj(raw?.cache_creation)?.ephemeral_1h_input_tokens);
    r.webSearches = num(obj(raw?.server_tool_use)?.web_search_requests);
    // Gemini's raw usage, read as the Gemini converter reads it, for its audio and image counts.
    const gemini = countsOfGemini(raw, []);
    if (gemini?.inputAudioTokens !== undefined) r.inputAudioTokens = gemini.inputAudioTokens;
    if (gemini?.outputAudioTokens !== undefined) r.outputAudioTokens = gemini.outputAudioTokens;
    if (gemini?.outputImageTokens !== undefined) r.outputImageTokens = gemini.outputImageTokens;
  } else {
    r.inputTokens = num(u.inputTokens);
    r.outputTokens = num(u.outputTokens);
    r.totalTokens = num(u.totalTokens);
    r.cachedInputTokens = num(u.cachedInputTokens);
    r.reasoningTokens = num(u.reasoningTokens);
  }
  for (const k of Object.keys(r) as (keyof Usage)[]) if (r[k] === undefined) delete r[k];
  return r;
}

interface ModelInfo {
  readonly provider: string;
  readonly modelId: string;
}

/** The middleware, structurally a LanguageModelV4Middleware (and read by the v3 runtime alike). */
export interface TokenmeterMiddleware {
  readonly specificationVersion: 'v4';
  wrapGenerate<R>(options: { doGenerate: () => PromiseLike<R>; model: ModelInfo; params?: unknown }): Promise<R>;
  wrapStream<R extends { stream: ReadableStream<unknown> }>(options: {
    doStream: () => PromiseLike<R>;
    model: ModelInfo;
    params?: unknown;
  }): Promise<R>;
}

/**
 * Middleware that meters every call of the wrapped model on `monitor` (default: the process-wide
 * one). A call an enforced budget cannot afford is refused with a BudgetExceededError before the
 * model is called, as instrumented clients' are (its prompt and maxOutputTokens held until it ends).
 */
export function tokenmeterMiddleware(options: AiSdkTrackingOptions = {}, monitor?: TokenMonitor): TokenmeterMiddleware {
  checkAiSdkKeys(options);
  const { provider: fixedProvider, ...context } = options;
  const providerOf_ = (model: ModelInfo) => fixedProvider ?? providerFromAiSdk(model.provider);
  /** Holds the call's estimate against enforced budgets, or throws the BudgetExceededError. */
  const admit = (model: ModelInfo, params: unknown): Held | undefined => {
    const m = monitor ?? getTokenMonitor();
    const current = m.currentContext();
    const ctx = Object.keys(context).length === 0 ? current : { ...current, ...context };
    try {
      // The AI SDK's call options: `prompt` (messages) and `maxOutputTokens`, read as a request.
      return m.admit(providerOf_(model), { ...obj(params), model: model.modelId }, ctx, undefined);
    } catch (error) {
      // Only a refusal reaches the caller; a failure of tracking itself never does.
      if (isBudgetExceededError(error)) throw error;
      return undefined;
    }
  };
  const record = (
    model: ModelInfo,
    start: number,
    counts: Partial<Usage>,
    extra: { modelId?: string | undefined; partial?: boolean; error?: unknown; held?: Held | undefined },
  ) => {
    try {
      const m = monitor ?? getTokenMonitor();
      const has = counts.inputTokens !== undefined || counts.outputTokens !== undefined;
      const usage: Usage = {
        ...counts,
        provider: providerOf_(model),
        model: extra.modelId ?? model.modelId,
        requestModel: model.modelId,
        serviceType: 'llm',
        operation: 'chat',
        usageSource: has ? 'reported' : 'missing',
        partial: extra.partial,
      };
      const facts: Parameters<TokenMonitor['recordUsage']>[1] = { durationMs: performance.now() - start, held: extra.held };
      if (Object.keys(context).length > 0) facts.context = context;
      if (extra.error !== undefined) facts.error = errorOf(extra.error);
      m.meterUsage(usage, facts);
    } catch {
      // Tracking never breaks the caller's call.
    }
  };
  return {
    specificationVersion: 'v4',
    async wrapGenerate({ doGenerate, model, params }) {
      const held = admit(model, params);
      const start = performance.now();
      try {
        const result = await doGenerate();
        const r = obj(result);
        record(model, start, countsOf(r?.usage), { modelId: str(obj(r?.response)?.modelId), held });
        return result;
      } catch (error) {
        record(model, start, {}, { error, held });
        throw error;
      }
    },
    async wrapStream({ doStream, model, params }) {
      const held = admit(model, params);
      const start = performance.now();
      let result: Awaited<ReturnType<typeof doStream>>;
      try {
        result = (await doStream()) as Awaited<ReturnType<typeof doStream>>;
      } catch (error) {
        record(model, start, {}, { error, held });
        throw error;
      }
      let counts: Partial<Usage> = {};
      let modelId: string | undefined;
      let finished = false;
      let failure: unknown;
      let done = false;
      const end = () => {
        if (done) return;
        done = true;
        record(model, start, counts, { modelId, partial: !finished, error: failure, held });
      };
      const observed = result.stream.pipeThrough(
        new TransformStream<unknown, unknown>({
          transform(part, controller) {
            const p = obj(part);
            if (p?.type === 'response-metadata') modelId = str(p.modelId) ?? modelId;
            else if (p?.type === 'finish') {
              counts = countsOf(p.usage);
              finished = true;
            } else if (p?.type === 'error') failure = p.error;
            controller.enqueue(part);
          },
          flush: end,
          cancel: end,
        }),
      );
      return { ...result, stream: observed } as typeof result;
    },
  };
}
