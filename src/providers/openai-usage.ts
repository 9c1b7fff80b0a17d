import { type Json, num, obj } from './read.ts';

/**
 * OpenAI, and the OpenAI-compatible APIs that copy its shapes (Azure OpenAI, vLLM, Ollama's /v1,
 * Groq, gateways). Billing semantics (https://platform.openai.com/docs/api-reference/chat/object,
 * .../responses/object, https://platform.openai.com/docs/guides/prompt-caching):
 * - Chat Completions and legacy Completions: `prompt_tokens` INCLUDES
 *   `prompt_tokens_details.cached_tokens` (cache reads) and `.cache_write_tokens` (cache writes);
 *   `completion_tokens` INCLUDES `completion_tokens_details.reasoning_tokens`.
 * - Responses API: the same, named `input_tokens`, `input_tokens_details.*`, `output_tokens`,
 *   `output_tokens_details.reasoning_tokens`.
 * - Audio (gpt-audio, gpt-4o-audio-preview): `prompt_tokens_details.audio_tokens` are the audio
 *   part of `prompt_tokens`, `completion_tokens_details.audio_tokens` the spoken part of
 *   `completion_tokens` (https://platform.openai.com/docs/guides/audio); both billed at audio
 *   rates. Chat Completions do not say how many of the cached tokens were audio.
 * - Realtime API (`response.done`'s `response.usage`, https://platform.openai.com/docs/api-reference/realtime-server-events/response/done):
 *   `input_tokens` INCLUDES `input_token_details.cached_tokens` and `.audio_tokens`; the cached
 *   ones are split in `input_token_details.cached_tokens_details.{text_tokens,audio_tokens}`;
 *   `output_tokens` INCLUDES `output_token_details.audio_tokens`. Read from a `response.done`
 *   event or its `response` (the model comes from the request, i.e. the session).
 * - Embeddings: `prompt_tokens` (= `total_tokens`), no output.
 * - Processing tier: a response's `service_tier` says which served it; `flex` is billed at Batch
 *   API rates, half the standard ones (https://platform.openai.com/docs/guides/flex-processing).
 * Streams: a chat stream carries usage only when the request set `stream_options.include_usage`,
 * in a last chunk with empty `choices`; a Responses stream carries it in `response.completed`
 * (or `response.incomplete` / `response.failed`). Earlier `response.*` events hold `usage: null`.
 * The openai SDK returns these shapes unchanged (snake_case).
 */
export interface OpenAIChatUsage {
  prompt_tokens?: number | null;
  completion_tokens?: number | null;
  total_tokens?: number | null;
  prompt_tokens_details?: { cached_tokens?: number | null; cache_write_tokens?: number | null; audio_tokens?: number | null } | null;
  completion_tokens_details?: { reasoning_tokens?: number | null; audio_tokens?: number | null } | null;
}
export interface OpenAIResponsesUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  total_tokens?: number | null;
  input_tokens_details?: { cached_tokens?: number | null; cache_write_tokens?: number | null } | null;
  output_tokens_details?: { reasoning_tokens?: number | null } | null;
}
/** The Realtime API's usage (RealtimeResponseUsage in the openai SDK): details under `*_token_details`. */
export interface OpenAIRealtimeUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  total_tokens?: number | null;
  input_token_details?: {
    text_tokens?: number | null;
    audio_tokens?: number | null;
    image_tokens?: number | null;
    cached_tokens?: number | null;
    cached_tokens_details?: { text_tokens?: number | null; audio_tokens?: number | null; image_tokens?: number | null } | null;
  } | null;
  output_token_details?: { text_tokens?: number | null; audio_tokens?: number | null } | null;
}

const COUNTS = [
  'inputTokens',
  'outputTokens',
  'totalTokens',
  'cachedInputTokens',
  'cacheWriteTokens',
  'reasoningTokens',
  'inputAudioTokens',
  'cachedAudioTokens',
  'outputAudioTokens',
] as const;
type Count = (typeof COUNTS)[number];
/** Where each count lives in a usage object: the first path present wins. */
export type UsageFields<U = Json> = Readonly<Record<Count, readonly (readonly [keyof U & string, ...string[]])[]>>;

export const CHAT_FIELDS: UsageFields<OpenAIChatUsage> = {
  inputTokens: [['prompt_tokens']],
  outputTokens: [['completion_tokens']],
  totalTokens: [['total_tokens']],
  cachedInputTokens: [['prompt_tokens_details', 'cached_tokens']],
  cacheWriteTokens: [['prompt_tokens_details', 'cache_write_tokens']],
  reasoningTokens: [['completion_tokens_details', 'reasoning_tokens']],
  inputAudioTokens: [['prompt_tokens_details', 'audio_tokens']],
  // Chat Completions do not split the cached tokens by modality.
  cachedAudioTokens: [],
  outputAudioTokens: [['completion_tokens_details', 'audio_tokens']],
};

/** Every count, unknown ones undefined: one shape for all (the hot path reads it by name). */
export type Counts = Record<Count, number | undefined>;

/** Counts with none known, to fill in. */
export function noCounts(): Counts {
  return {
    inputTokens: undefined,
    outputTokens: undefined,
    totalTokens: undefined,
    cachedInputTokens: undefined,
    cacheWriteTokens: undefined,
    reasoningTokens: undefined,
    inputAudioTokens: undefined,
    cachedAudioTokens: undefined,
    outputAudioTokens: undefined,
  };
}

/**
 * Reads the counts of a usage object. A count of the wrong type is noted in `unread` by its path in
 * the usage object (`prompt_tokens`); a usage that is not an object, by where it was found (`at`).
 * One with `input_tokens` or `output_tokens` is the Responses API's, whatever `fields` says. The
 * two OpenAI shapes are read by name (every instrumented call comes through here); other `fields`
 * by walking their paths.
 */
export function readCounts(usage: unknown, at: string, fields: UsageFields, unread: string[]): Counts {
  const u = obj(usage);
  if (u === undefined) {
    if (usage !== undefined && usage !== null) unread.push(at);
    return noCounts();
  }
  const responses = 'input_tokens' in u || 'output_tokens' in u;
  // The Realtime API's usage is the Responses API's but for its details' names.
  if (responses) return readNamedCounts(u, 'input_token_details' in u ? REALTIME_NAMES : RESPONSES_NAMES, unread);
  if (fields === CHAT_FIELDS) return readNamedCounts(u, CHAT_NAMES, unread);
  const out = noCounts();
  for (const key of COUNTS) {
    for (const path of fields[key]) {
      let v: unknown = u;
      let i = 0;
      for (; i < path.length && obj(v) !== undefined; i++) v = (v as Json)[path[i] as string];
      if (v === undefined || v === null) continue;
      const n = i === path.length ? num(v) : undefined;
      if (n === undefined) unread.push(path.slice(0, i).join('.'));
      else out[key] = n;
      break;
    }
  }
  return out;
}

/** A count as readCounts reads it: unknown when absent or null; noted in `unread` as `path` when not a count. */
function countAt(v: unknown, path: string, unread: string[]): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = num(v);
  if (n === undefined) unread.push(path);
  return n;
}

/** `details`, the object a nested count lives in: an object, or undefined (noted in `unread` as `path` when present but not an object). */
function detailsAt(details: unknown, path: string, unread: string[]): Json | undefined {
  if (details === undefined || details === null) return undefined;
  const d = obj(details);
  if (d === undefined) unread.push(path);
  return d;
}

/** Where one usage shape keeps its counts, by name, and the paths `unread` names them by. */
interface UsageNames {
  input: string;
  output: string;
  inputDetails: string;
  outputDetails: string;
  cachedPath: string;
  cacheWritePath: string;
  reasoningPath: string;
  inputAudioPath: string;
  cachedDetailsPath: string;
  cachedAudioPath: string;
  outputAudioPath: string;
}

function namesOf(input: string, output: string, details = 'tokens_details'): UsageNames {
  const inputDetails = `${input}_${details}`;
  const outputDetails = `${output}_${details}`;
  return {
    input: `${input}_tokens`,
    output: `${output}_tokens`,
    inputDetails,
    outputDetails,
    cachedPath: `${inputDetails}.cached_tokens`,
    cacheWritePath: `${inputDetails}.cache_write_tokens`,
    reasoningPath: `${outputDetails}.reasoning_tokens`,
    inputAudioPath: `${inputDetails}.audio_tokens`,
    cachedDetailsPath: `${inputDetails}.cached_tokens_details`,
    cachedAudioPath: `${inputDetails}.cached_tokens_details.audio_tokens`,
    outputAudioPath: `${outputDetails}.audio_tokens`,
  };
}

/** Chat Completions (`prompt_tokens`, `prompt_tokens_details.cached_tokens`...): CHAT_FIELDS' paths. */
const CHAT_NAMES = namesOf('prompt', 'completion');
/** The Responses API (`input_tokens`, `input_tokens_details.cached_tokens`, `output_tokens_details.reasoning_tokens`). */
const RESPONSES_NAMES = namesOf('input', 'output');
/** The Realtime API (`input_tokens`, `input_token_details.cached_tokens_details.audio_tokens`, `output_token_details.audio_tokens`). */
const REALTIME_NAMES = namesOf('input', 'output', 'token_details');

/** The counts at a shape's paths, read by name: what walking them finds, the same `unread` (in COUNTS order). */
function readNamedCounts(u: Json, n: UsageNames, unread: string[]): Counts {
  const out = noCounts();
  out.inputTokens = countAt(u[n.input], n.input, unread);
  out.outputTokens = countAt(u[n.output], n.output, unread);
  out.totalTokens = countAt(u.total_tokens, 'total_tokens', unread);
  const id = detailsAt(u[n.inputDetails], n.inputDetails, unread);
  if (id !== undefined) {
    out.cachedInputTokens = countAt(id.cached_tokens, n.cachedPath, unread);
    out.cacheWriteTokens = countAt(id.cache_write_tokens, n.cacheWritePath, unread);
  }
  const od = detailsAt(u[n.outputDetails], n.outputDetails, unread);
  if (od !== undefined) out.reasoningTokens = countAt(od.reasoning_tokens, n.reasoningPath, unread);
  if (id !== undefined) {
    out.inputAudioTokens = countAt(id.audio_tokens, n.inputAudioPath, unread);
    // Only the Realtime API splits the cached tokens by modality.
    const cd = detailsAt(id.cached_tokens_details, n.cachedDetailsPath, unread);
    if (cd !== undefined) out.cachedAudioTokens = countAt(cd.audio_tokens, n.cachedAudioPath, unread);
  }
  if (od !== undefined) out.outputAudioTokens = countAt(od.audio_tokens, n.outputAudioPath, unread);
  return out;
}
