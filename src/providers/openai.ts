import { arr, count, obj, str } from './read.ts';
import type { ProviderConverter, Usage } from './types.ts';

/**
 * OpenAI (and Azure OpenAI, and the OpenAI-compatible endpoints of vLLM, Ollama's /v1, gateways).
 *
 * Wire shapes, as https://platform.openai.com/docs/api-reference documents them:
 * - Chat Completions and legacy Completions: `usage.prompt_tokens` INCLUDES
 *   `prompt_tokens_details.cached_tokens`; `completion_tokens` INCLUDES
 *   `completion_tokens_details.reasoning_tokens`.
 * - Responses API: `usage.input_tokens` includes `input_tokens_details.cached_tokens`;
 *   `output_tokens` includes `output_tokens_details.reasoning_tokens`.
 * - Embeddings: `usage.prompt_tokens` (= total_tokens).
 * Streams: chat chunks carry usage only in a last chunk with empty `choices`, and only when the
 * request set `stream_options.include_usage`; Responses streams carry it in `response.completed`.
 */
interface ChatUsage {
  prompt_tokens?: number | null;
  completion_tokens?: number | null;
  total_tokens?: number | null;
  prompt_tokens_details?: { cached_tokens?: number | null } | null;
  completion_tokens_details?: { reasoning_tokens?: number | null } | null;
}
interface ResponsesUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  total_tokens?: number | null;
  input_tokens_details?: { cached_tokens?: number | null } | null;
  output_tokens_details?: { reasoning_tokens?: number | null } | null;
}

type Kind = Pick<Usage, 'serviceType' | 'operation'>;

function kindOf(body: Record<string, unknown> | undefined, request: Record<string, unknown> | undefined): Kind {
  const object = str(body?.object) ?? '';
  if (
    object === 'list' ||
    object === 'embedding' ||
    (request !== undefined &&
      'input' in request &&
      !('messages' in request) &&
      !('instructions' in request) &&
      str(request.model)?.includes('embedding'))
  ) {
    return { serviceType: 'embedding', operation: 'embeddings' };
  }
  if (object.startsWith('text_completion') || (request !== undefined && 'prompt' in request && !('messages' in request))) {
    return { serviceType: 'llm', operation: 'text_completion' };
  }
  return { serviceType: 'llm', operation: 'chat' };
}

/** Reads either usage shape (chat-style prompt/completion or Responses-style input/output). */
function countsOf(usage: unknown, unread: string[]): Partial<Usage> {
  const u = obj(usage);
  if (u === undefined) return {};
  const chat = u as ChatUsage & Record<string, unknown>;
  const resp = u as ResponsesUsage & Record<string, unknown>;
  const isResponses = 'input_tokens' in u || 'output_tokens' in u;
  const r: Partial<Usage> = isResponses
    ? {
        inputTokens: count(resp, ['input_tokens'], unread),
        outputTokens: count(resp, ['output_tokens'], unread),
        totalTokens: count(resp, ['total_tokens'], unread),
        cachedInputTokens: count(resp, ['input_tokens_details', 'cached_tokens'], unread),
        reasoningTokens: count(resp, ['output_tokens_details', 'reasoning_tokens'], unread),
      }
    : {
        inputTokens: count(chat, ['prompt_tokens'], unread),
        outputTokens: count(chat, ['completion_tokens'], unread),
        totalTokens: count(chat, ['total_tokens'], unread),
        cachedInputTokens: count(chat, ['prompt_tokens_details', 'cached_tokens'], unread),
        reasoningTokens: count(chat, ['completion_tokens_details', 'reasoning_tokens'], unread),
      };
  return r;
}

function finish(base: Usage, counts: Partial<Usage>, unread: string[]): Usage {
  const out: Usage = { ...base };
  for (const [k, v] of Object.entries(counts)) if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
  const reported = counts.inputTokens !== undefined || counts.outputTokens !== undefined || counts.totalTokens !== undefined;
  out.usageSource = reported ? 'reported' : 'missing';
  if (unread.length > 0) out.unread = unread;
  return out;
}

function base(provider: string, kind: Kind, model: string | undefined, requestModel: string | undefined): Usage {
  const u: Usage = { provider, serviceType: kind.serviceType, operation: kind.operation, usageSource: 'missing' };
  if (model ?? requestModel) u.model = model ?? requestModel;
  if (requestModel !== undefined) u.requestModel = requestModel;
  return u;
}

/** Builds an OpenAI-shaped converter under another provider id (Azure, gateways, Groq's non-streamed bodies). */
export function openaiShapedConverter(provider: string, extraStreamUsage?: (event: Record<string, unknown>) => unknown): ProviderConverter {
  return {
    fromResponse(response, request) {
      const body = obj(response);
      const req = obj(request);
      // A Responses API body may arrive wrapped, as in stream events.
      const unread: string[] = [];
      const b = base(provider, kindOf(body, req), str(body?.model), str(req?.model));
      return finish(b, countsOf(body?.usage, unread), unread);
    },
    fromStream(events, request) {
      const req = obj(request);
      const unread: string[] = [];
      let model: string | undefined;
      let usage: unknown;
      let kind: Kind | undefined;
      let complete = false;
      for (const e of events) {
        const ev = obj(e);
        if (ev === undefined) continue;
        const type = str(ev.type);
        // Responses API: the final response object carries model and usage.
        if (type !== undefined && type.startsWith('response.')) {
          const r = obj(ev.response);
          model = str(r?.model) ?? model;
          if (r?.usage !== undefined && r.usage !== null) usage = r.usage;
          if (type === 'response.completed' || type === 'response.incomplete' || type === 'response.failed') complete = true;
          kind ??= { serviceType: 'llm', operation: 'chat' };
          continue;
        }
        model = str(ev.model) ?? model;
        kind ??= str(ev.object) === undefined ? undefined : kindOf(ev, req);
        if (ev.usage !== undefined && ev.usage !== null) usage = ev.usage;
        const extra = extraStreamUsage?.(ev);
        if (extra !== undefined && extra !== null) usage = extra;
        for (const c of arr(ev.choices) ?? []) if (str(obj(c)?.finish_reason) !== undefined) complete = true;
      }
      const b = base(provider, kind ?? kindOf(undefined, req), model, str(req?.model));
      const u = finish(b, countsOf(usage, unread), unread);
      // Usage arrives after the finish chunk, so it too marks a stream that reached its end.
      if (!complete && usage === undefined) u.partial = true;
      return u;
    },
  };
}

export const openaiConverter: ProviderConverter = openaiShapedConverter('openai');
