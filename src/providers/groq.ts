import { openaiShapedConverter } from './openai.ts';
import { CHAT_FIELDS, type OpenAIChatUsage } from './openai-usage.ts';
import { obj } from './read.ts';
import type { ProviderConverter } from './types.ts';

/**
 * Groq (https://console.groq.com/docs/api-reference#chat-create): OpenAI-compatible bodies, so
 * OpenAI's billing semantics: `prompt_tokens` includes `prompt_tokens_details.cached_tokens`
 * (billed at a discount, https://console.groq.com/docs/prompt-caching) and `completion_tokens`
 * includes `completion_tokens_details.reasoning_tokens`. Groq adds timings (`queue_time`,
 * `prompt_time`, ... in seconds, not tokens) that are not read.
 *
 * Streams: the last chunk (the one with `finish_reason`) carries the usage in `x_groq.usage`
 * (https://github.com/groq/groq-typescript/blob/main/src/resources/chat/completions.ts,
 * `ChatCompletionChunk.XGroq.usage`); newer responses repeat it as a top-level `usage`, and a
 * request with `stream_options.include_usage` gets OpenAI's usage chunk: all are read.
 * In a NON-streamed body `x_groq.usage` is something else (DRAM/SRAM cache statistics) and is ignored.
 */
interface GroqStreamChunk {
  usage?: OpenAIChatUsage | null;
  x_groq?: { id?: string | null; usage?: OpenAIChatUsage | null } | null;
}

export const groqConverter: ProviderConverter = openaiShapedConverter('groq', {
  fields: CHAT_FIELDS,
  streamUsage(event) {
    const usage = obj((event as GroqStreamChunk).x_groq)?.usage;
    return usage === undefined || usage === null ? undefined : { value: usage, at: 'x_groq.usage' };
  },
});
