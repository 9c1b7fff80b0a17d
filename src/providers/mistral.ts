import { openaiShapedConverter } from './openai.ts';
import { obj } from './read.ts';
import type { ProviderConverter } from './types.ts';

/**
 * Mistral (https://docs.mistral.ai/api/): the HTTP API uses OpenAI's snake_case usage
 * (`prompt_tokens`, `completion_tokens`, `total_tokens`, `prompt_tokens_details.cached_tokens`);
 * the @mistralai/mistralai SDK hands back camelCase objects (`usage.promptTokens`...) and wraps each
 * stream chunk as `{ data: chunk }`. Both are read by turning the SDK's shape into the wire's.
 */
const SNAKE: Record<string, string> = {
  promptTokens: 'prompt_tokens',
  completionTokens: 'completion_tokens',
  totalTokens: 'total_tokens',
  promptTokensDetails: 'prompt_tokens_details',
  cachedTokens: 'cached_tokens',
  finishReason: 'finish_reason',
};

/** The SDK's camelCase body as the wire's snake_case (only the keys usage reading needs). */
function wire(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(wire);
  const o = obj(v);
  if (o === undefined) return v;
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(o))
    out[SNAKE[k] ?? k] = k === 'usage' || k === 'choices' || k === 'promptTokensDetails' ? wire(val) : val;
  return out;
}

const base = openaiShapedConverter('mistral');

export const mistralConverter: ProviderConverter = {
  fromResponse: (response, request) => base.fromResponse(wire(response), request),
  fromStream: (events, request) =>
    base.fromStream(
      events.map((e) => wire(obj(e)?.data ?? e)),
      request,
    ),
};
