import { arr, type Json, num, obj, str } from './read.ts';
import type { ProviderConverter, Usage } from './types.ts';

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
type Counts = Record<Count, number | undefined>;

function noCounts(): Counts {
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
function readCounts(usage: unknown, at: string, fields: UsageFields, unread: string[]): Counts {
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

type Kind = Pick<Usage, 'serviceType' | 'operation'>;
const CHAT: Kind = { serviceType: 'llm', operation: 'chat' };
const TEXT: Kind = { serviceType: 'llm', operation: 'text_completion' };
const EMBED: Kind = { serviceType: 'embedding', operation: 'embeddings' };
/** Request fields only the Responses API takes, which also sends `input` (as embeddings do). */
const RESPONSES_ONLY = ['instructions', 'tools', 'reasoning', 'text', 'previous_response_id', 'conversation', 'max_output_tokens'];

/** The kind of call: from the body's `object` (or an event's `type`) when it has one, else from the request. */
function kindOf(body: Json | undefined, req: Json | undefined): Kind {
  const object = str(body?.object);
  if (object !== undefined) return object === 'list' || object === 'embedding' ? EMBED : object.startsWith('text_completion') ? TEXT : CHAT;
  if (str(body?.type)?.startsWith('response.')) return CHAT;
  if (arr(body?.data)?.some((d) => obj(d)?.embedding !== undefined) === true) return EMBED;
  if (req === undefined || req.messages !== undefined) return CHAT;
  if (typeof req.prompt === 'string' || Array.isArray(req.prompt)) return TEXT;
  if (req.input === undefined && req.inputs === undefined) return CHAT;
  // Without a Responses-only field, OpenAI's chat model names (gpt-*, o-series) still mark a Responses call.
  const responses =
    RESPONSES_ONLY.some((k) => req[k] !== undefined) ||
    arr(req.input)?.some((item) => obj(item) !== undefined) === true ||
    /^(gpt-|o\d|chatgpt|codex|computer-use)/.test(str(req.model) ?? '');
  return responses ? CHAT : EMBED;
}

function build(provider: string, kind: Kind, model: string | undefined, req: Json | undefined, counts: Counts, unread: string[]): Usage {
  const u: Usage = { provider, serviceType: kind.serviceType, operation: kind.operation, usageSource: 'missing' };
  const requestModel = str(req?.model);
  if ((model ?? requestModel) !== undefined) u.model = model ?? requestModel;
  if (requestModel !== undefined) u.requestModel = requestModel;
  if (kind === EMBED && counts.inputTokens === undefined && counts.totalTokens !== undefined) counts.inputTokens = counts.totalTokens;
  // Set by name, in COUNTS order (the keys of the usage keep that order).
  const { inputTokens, outputTokens, totalTokens, cachedInputTokens, cacheWriteTokens, reasoningTokens } = counts;
  if (inputTokens !== undefined) u.inputTokens = inputTokens;
  if (outputTokens !== undefined) u.outputTokens = outputTokens;
  if (totalTokens !== undefined) u.totalTokens = totalTokens;
  if (cachedInputTokens !== undefined) u.cachedInputTokens = cachedInputTokens;
  if (cacheWriteTokens !== undefined) u.cacheWriteTokens = cacheWriteTokens;
  if (reasoningTokens !== undefined) u.reasoningTokens = reasoningTokens;
  // Audio counts are parts of the counts above: never more than them, so odd counts do not fail the record.
  const { inputAudioTokens, cachedAudioTokens, outputAudioTokens } = counts;
  if (inputAudioTokens !== undefined) u.inputAudioTokens = Math.min(inputAudioTokens, inputTokens ?? inputAudioTokens);
  if (cachedAudioTokens !== undefined) u.cachedAudioTokens = Math.min(cachedAudioTokens, cachedInputTokens ?? 0, u.inputAudioTokens ?? 0);
  if (outputAudioTokens !== undefined) u.outputAudioTokens = Math.min(outputAudioTokens, outputTokens ?? outputAudioTokens);
  const known =
    inputTokens !== undefined ||
    outputTokens !== undefined ||
    totalTokens !== undefined ||
    cachedInputTokens !== undefined ||
    cacheWriteTokens !== undefined ||
    reasoningTokens !== undefined;
  if (known) u.usageSource = 'reported';
  if (unread.length > 0) u.unread = [...new Set(unread)];
  return u;
}

export interface ShapeOptions {
  /** The usage fields of chat-style bodies. @default CHAT_FIELDS */
  fields?: UsageFields;
  /** Where else a stream event may carry usage (Groq: `x_groq.usage`). */
  streamUsage?: (event: Json) => { value: unknown; at: string } | undefined;
}

/**
 * The web searches a Responses API call ran: its `web_search_call` output items that searched
 * (`action.type` "search", or no action in earlier shapes; opening or reading a page found is no
 * new search). OpenAI bills them per call beside the tokens. Undefined when there were none.
 */
function webSearchesOf(response: Json | undefined): number | undefined {
  let n = 0;
  for (const item of arr(response?.output) ?? []) {
    const o = obj(item);
    if (o?.type !== 'web_search_call') continue;
    const action = str(obj(o.action)?.type);
    if (action === undefined || action === 'search') n++;
  }
  return n > 0 ? n : undefined;
}

/** The names of the standard tier: OpenAI's and Azure's `default`, Groq's `on_demand`. */
const STANDARD_TIERS = new Set(['default', 'auto', 'on_demand', 'standard']);

/**
 * The processing tier that served a call, as its response names it (`service_tier`: OpenAI's
 * `flex` is billed at half the standard rates, `priority` above them), or undefined for the
 * standard one.
 */
function tierOf(v: unknown): string | undefined {
  const t = str(v);
  return t === undefined || STANDARD_TIERS.has(t) ? undefined : t;
}

/** Appends `b` to `a`, either may be absent. */
function join(a: string | undefined, b: string | undefined): string | undefined {
  return a === undefined ? b : b === undefined ? a : a + b;
}

/** Text of a delta's `content`: a string, or (Mistral) text and thinking chunks. */
function contentText(content: unknown): string | undefined {
  if (typeof content === 'string') return content === '' ? undefined : content;
  let out: string | undefined;
  for (const chunk of arr(content) ?? []) {
    const c = obj(chunk);
    out = join(out, str(c?.text));
    if (c?.thinking !== undefined) out = join(out, contentText(c.thinking));
  }
  return out;
}

/** The generated text of one stream choice: content, visible reasoning, refusal, tool-call names and arguments (legacy completions: `text`). */
function choiceText(choice: unknown): string | undefined {
  const c = obj(choice);
  if (c === undefined) return undefined;
  if (typeof c.text === 'string') return c.text === '' ? undefined : c.text;
  const d = obj(c.delta);
  if (d === undefined) return undefined;
  let out = contentText(d.content);
  // Reasoning text as vLLM and DeepSeek (reasoning_content), Groq and OpenRouter (reasoning) stream it.
  out = join(out, str(d.reasoning_content) ?? str(d.reasoning));
  out = join(out, str(d.refusal));
  const calls = d.tool_calls ?? d.toolCalls;
  if (calls !== undefined && calls !== null) {
    for (const call of arr(calls) ?? []) {
      const f = obj(obj(call)?.function);
      out = join(out, str(f?.name));
      const args = f?.arguments;
      out = join(out, typeof args === 'string' ? str(args) : args === undefined || args === null ? undefined : JSON.stringify(args));
    }
  }
  return out;
}

/**
 * The generated text one stream event carries (see ProviderConverter.textOf): chat chunks (every
 * choice), legacy completion chunks, and the Responses API's text and tool-argument deltas.
 */
function openaiTextOf(event: unknown): string | undefined {
  const e = obj(event);
  if (e === undefined) return undefined;
  const choices = e.choices;
  if (Array.isArray(choices)) {
    if (choices.length === 1) return choiceText(choices[0]);
    let out: string | undefined;
    for (const c of choices) out = join(out, choiceText(c));
    return out;
  }
  const type = e.type;
  if (type === 'response.output_text.delta' || type === 'response.function_call_arguments.delta' || type === 'response.refusal.delta')
    return str(e.delta);
  // Speakeasy-generated SDKs (Mistral's) hand each chunk over wrapped as `{ data: chunk }`.
  const data = obj(e.data);
  return data === undefined ? undefined : openaiTextOf(data);
}

/** A converter for OpenAI-shaped bodies under another provider id (Azure, Groq, Mistral, Ollama's /v1, gateways). */
export function openaiShapedConverter(provider: string, options: ShapeOptions = {}): ProviderConverter {
  const fields = options.fields ?? (CHAT_FIELDS as UsageFields);
  return {
    fromResponse(response, request) {
      let body = obj(response);
      // A Realtime `response.done` event: the response it carries.
      if (body?.type === 'response.done') body = obj(body.response);
      const req = obj(request);
      const unread: string[] = [];
      const counts = readCounts(body?.usage, 'usage', fields, unread);
      const u = build(provider, kindOf(body, req), str(body?.model), req, counts, unread);
      const searches = webSearchesOf(body);
      if (searches !== undefined) u.webSearches = searches;
      const tier = tierOf(body?.service_tier);
      if (tier !== undefined) u.serviceTier = tier;
      return u;
    },
    fromStream(events, request) {
      const req = obj(request);
      let model: string | undefined;
      let kind: Kind | undefined;
      let usage: { value: unknown; at: string } | undefined;
      let searches: number | undefined;
      let tier: string | undefined;
      let ended = false;
      // The choices seen, and those that sent a finish_reason: indexes below 31 as bits, any others in sets.
      let seenBits = 0;
      let finishedBits = 0;
      let seen: Set<number> | undefined;
      let finished: Set<number> | undefined;
      for (const e of events) {
        // Speakeasy-generated SDKs (Mistral's) hand each chunk over wrapped as `{ data: chunk }`.
        const ev = obj(obj(e)?.data) ?? obj(e);
        if (ev === undefined) continue;
        const type = str(ev.type);
        if (type?.startsWith('response.')) {
          const r = obj(ev.response);
          model ??= str(r?.model);
          kind ??= CHAT;
          if (type === 'response.completed' || type === 'response.incomplete' || type === 'response.failed') {
            ended = true;
            tier = tierOf(r?.service_tier);
            if (r?.usage !== undefined && r.usage !== null) usage = { value: r.usage, at: 'response.usage' };
            searches = webSearchesOf(r);
          }
          continue;
        }
        // Azure's first chunk (`prompt_filter_results`) has an empty model and object: str() skips them.
        model ??= str(ev.model);
        // Every chunk names the tier; the last one that does wins.
        if (ev.service_tier !== undefined) tier = tierOf(ev.service_tier);
        if (kind === undefined && str(ev.object) !== undefined) kind = kindOf(ev, req);
        const choices = arr(ev.choices) ?? [];
        const here =
          options.streamUsage?.(ev) ?? (ev.usage === undefined || ev.usage === null ? undefined : { value: ev.usage, at: 'usage' });
        if (here !== undefined) {
          usage = here;
          // A usage chunk without choices is the last of the stream.
          if (choices.length === 0) ended = true;
        }
        for (const choice of choices) {
          const c = obj(choice);
          const index = num(c?.index) ?? 0;
          const done = (str(c?.finish_reason) ?? str(c?.finishReason)) !== undefined;
          if (index < 31) {
            seenBits |= 1 << index;
            if (done) finishedBits |= 1 << index;
          } else {
            seen ??= new Set();
            seen.add(index);
            if (done) {
              finished ??= new Set();
              finished.add(index);
            }
          }
        }
      }
      // Without a usage chunk, the stream ended if every choice it started sent a finish_reason.
      const started = seenBits !== 0 || seen !== undefined;
      if (started && (seenBits & ~finishedBits) === 0 && (seen === undefined || [...seen].every((i) => finished?.has(i) === true))) {
        ended = true;
      }
      const unread: string[] = [];
      const counts = usage === undefined ? noCounts() : readCounts(usage.value, usage.at, fields, unread);
      const u = build(provider, kind ?? kindOf(undefined, req), model, req, counts, unread);
      if (searches !== undefined) u.webSearches = searches;
      if (tier !== undefined) u.serviceTier = tier;
      if (!ended) u.partial = true;
      return u;
    },
    textOf: openaiTextOf,
  };
}

export const openaiConverter: ProviderConverter = openaiShapedConverter('openai');
