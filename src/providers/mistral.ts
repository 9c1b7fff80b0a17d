import { openaiShapedConverter } from './openai.ts';
import type { UsageFields } from './openai-usage.ts';
import { obj } from './read.ts';
import type { ProviderConverter, Usage } from './types.ts';

/**
 * Mistral (https://docs.mistral.ai/api/#tag/chat, `UsageInfo` in its OpenAPI spec): chat, FIM,
 * embeddings (`object: "list"`) and stream chunks carry OpenAI-style usage. Billing semantics:
 * `prompt_tokens` contains ALL prompt tokens, cached ones included; cached tokens are billed at 10%
 * (https://docs.mistral.ai/studio-api/conversations/advanced/prompt-caching). They are reported in
 * `prompt_tokens_details.cached_tokens` (older spellings `prompt_token_details.cached_tokens` and
 * `num_cached_tokens` are also in the spec). `completion_tokens` includes thinking tokens, which
 * chat completions do not report apart. Streams: the final chunk carries `usage` beside its
 * `finish_reason`. Embeddings report `completion_tokens: 0`. FIM (`/v1/fim/completions`, codestral)
 * answers with `object: "chat.completion"` bodies and chunks: its request (a `prompt`, no
 * `messages`) marks it a text completion.
 *
 * The @mistralai/mistralai SDK returns camelCase objects (`usage.promptTokens`, `finishReason`),
 * keeps unknown usage keys as sent (so `prompt_tokens_details` stays snake_case), and yields each
 * stream chunk wrapped as `{ data: chunk }` (https://github.com/mistralai/client-ts,
 * src/models/components/usageinfo.ts, completionevent.ts): both spellings are read.
 */
interface MistralUsage {
  prompt_tokens?: number | null;
  completion_tokens?: number | null;
  total_tokens?: number | null;
  prompt_tokens_details?: { cached_tokens?: number | null } | null;
  prompt_token_details?: { cached_tokens?: number | null } | null;
  num_cached_tokens?: number | null;
  completion_tokens_details?: { reasoning_tokens?: number | null } | null;
  // The SDK's spelling of the same fields.
  promptTokens?: number | null;
  completionTokens?: number | null;
  totalTokens?: number | null;
  promptTokensDetails?: { cachedTokens?: number | null } | null;
  promptTokenDetails?: { cachedTokens?: number | null } | null;
  numCachedTokens?: number | null;
  completionTokensDetails?: { reasoningTokens?: number | null } | null;
}

const MISTRAL_FIELDS: UsageFields<MistralUsage> = {
  inputTokens: [['prompt_tokens'], ['promptTokens']],
  outputTokens: [['completion_tokens'], ['completionTokens']],
  totalTokens: [['total_tokens'], ['totalTokens']],
  cachedInputTokens: [
    ['prompt_tokens_details', 'cached_tokens'],
    ['promptTokensDetails', 'cachedTokens'],
    ['prompt_token_details', 'cached_tokens'],
    ['promptTokenDetails', 'cachedTokens'],
    ['num_cached_tokens'],
    ['numCachedTokens'],
  ],
  cacheWriteTokens: [],
  reasoningTokens: [
    ['completion_tokens_details', 'reasoning_tokens'],
    ['completionTokensDetails', 'reasoningTokens'],
  ],
  // Mistral reports audio input (Voxtral) in seconds, `prompt_audio_seconds`, not as tokens.
  inputAudioTokens: [],
  cachedAudioTokens: [],
  outputAudioTokens: [],
};

const shaped = openaiShapedConverter('mistral', { fields: MISTRAL_FIELDS as UsageFields });

function fim(u: Usage, request: unknown): Usage {
  const req = obj(request);
  if (u.serviceType === 'llm' && typeof req?.prompt === 'string' && req.messages === undefined) u.operation = 'text_completion';
  return u;
}

export const mistralConverter: ProviderConverter = {
  ...shaped,
  fromResponse: (response, request) => fim(shaped.fromResponse(response, request), request),
  fromStream: (events, request) => fim(shaped.fromStream(events, request), request),
};
