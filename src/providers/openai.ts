import { openaiTextOf } from './openai-text.ts';
import { CHAT_FIELDS, type Counts, noCounts, readCounts, type UsageFields } from './openai-usage.ts';
import { arr, type Json, num, obj, str } from './read.ts';
import type { ProviderConverter, Usage } from './types.ts';

// OpenAI's usage shapes and their billing semantics: openai-usage.ts; the text of its stream events: openai-text.ts.

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
