import { arr, count, obj, plus, str } from './read.ts';
import type { ProviderConverter, Usage } from './types.ts';

/**
 * Gemini API and Vertex AI generateContent (https://ai.google.dev/api/generate-content#UsageMetadata):
 * `promptTokenCount` INCLUDES `cachedContentTokenCount`; `candidatesTokenCount` EXCLUDES
 * `thoughtsTokenCount`, so output = candidates + thoughts; `toolUsePromptTokenCount` is prompt-side.
 * Audio: `promptTokensDetails[]`, `cacheTokensDetails[]` and `candidatesTokensDetails[]` split the
 * prompt, cached and candidate counts by modality (`{ modality: 'AUDIO', tokenCount }`,
 * ModalityTokenCount); audio input and cached audio are billed at their own rates
 * (https://ai.google.dev/gemini-api/docs/pricing). `toolUsePromptTokensDetails[]` audio is input
 * audio too, as tool-use prompt tokens are input. A call without an AUDIO entry has no audio count.
 * Images an image model generates (the IMAGE entry of `candidatesTokensDetails`, 1,290 tokens a
 * 1024x1024 image) are billed at its image output rate.
 * The REST API and @google/genai use camelCase; some Vertex surfaces use snake_case.
 * Streams repeat RUNNING totals in each chunk's usageMetadata: the last chunk with counts wins,
 * and Vertex's first chunk may carry a usageMetadata with no counts. The Gemini API's embedContent
 * reports no usage; Vertex's predict-style embeddings report `statistics.token_count` per instance
 * (`embeddings[].statistics.tokenCount` once @google/genai has converted them), summed as input;
 * their `metadata.billableCharacterCount` is not read.
 */
function field(m: Record<string, unknown>, camel: string, snake: string, unread: string[]): number | undefined {
  return count(m, [camel], unread) ?? count(m, [snake], unread);
}

/** The tokens of a list of ModalityTokenCount (`promptTokensDetails`...) in one modality, or undefined when it has none. */
function modalityOf(m: Record<string, unknown>, camel: string, snake: string, unread: string[], modality = 'AUDIO'): number | undefined {
  const key = m[camel] === undefined || m[camel] === null ? snake : camel;
  const list = m[key];
  if (list === undefined || list === null) return undefined;
  if (!Array.isArray(list)) {
    unread.push(key);
    return undefined;
  }
  let n: number | undefined;
  for (const entry of list) {
    const e = obj(entry);
    if (e?.modality !== modality) continue;
    const note: string[] = [];
    n = plus(n, field(e, 'tokenCount', 'token_count', note));
    for (const path of note) unread.push(`${key}.${path}`);
  }
  return n;
}

/**
 * The counts of a Gemini `usageMetadata` (camelCase or snake_case), audio and images included;
 * undefined when it has none. Also read from the AI SDK's raw Gemini usage.
 */
export function countsOf(meta: unknown, unread: string[]): Partial<Usage> | undefined {
  const m = obj(meta);
  if (m === undefined) return undefined;
  const prompt = field(m, 'promptTokenCount', 'prompt_token_count', unread);
  const candidates = field(m, 'candidatesTokenCount', 'candidates_token_count', unread);
  const thoughts = field(m, 'thoughtsTokenCount', 'thoughts_token_count', unread);
  const toolUse = field(m, 'toolUsePromptTokenCount', 'tool_use_prompt_token_count', unread);
  const cached = field(m, 'cachedContentTokenCount', 'cached_content_token_count', unread);
  const total = field(m, 'totalTokenCount', 'total_token_count', unread);
  if (prompt === undefined && candidates === undefined && total === undefined) return undefined;
  const r: Partial<Usage> = {};
  const input = prompt === undefined ? undefined : plus(prompt, toolUse);
  const output = plus(candidates, thoughts);
  if (input !== undefined) r.inputTokens = input;
  if (output !== undefined) r.outputTokens = output;
  if (thoughts !== undefined) r.reasoningTokens = thoughts;
  if (cached !== undefined) r.cachedInputTokens = cached;
  if (total !== undefined) r.totalTokens = total;
  // Audio, as parts of the counts above: never more than them, so odd counts do not fail the record.
  if (input !== undefined) {
    const prompted = modalityOf(m, 'promptTokensDetails', 'prompt_tokens_details', unread);
    const audioIn = plus(prompted, modalityOf(m, 'toolUsePromptTokensDetails', 'tool_use_prompt_tokens_details', unread));
    if (audioIn !== undefined) r.inputAudioTokens = Math.min(audioIn, input);
  }
  const cachedAudio = modalityOf(m, 'cacheTokensDetails', 'cache_tokens_details', unread);
  if (cachedAudio !== undefined) r.cachedAudioTokens = Math.min(cachedAudio, cached ?? 0, r.inputAudioTokens ?? 0);
  const audioOut = modalityOf(m, 'candidatesTokensDetails', 'candidates_tokens_details', unread);
  if (audioOut !== undefined && output !== undefined) r.outputAudioTokens = Math.min(audioOut, output);
  // Generated images (gemini-2.5-flash-image: $30/M against $2.50/M for text), as part of the output.
  const imageOut = modalityOf(m, 'candidatesTokensDetails', 'candidates_tokens_details', [], 'IMAGE');
  if (imageOut !== undefined && output !== undefined) r.outputImageTokens = Math.min(imageOut, output - (r.outputAudioTokens ?? 0));
  return r;
}

/** The input tokens of one Vertex embedding's `statistics`. */
function statistic(statistics: unknown, unread: string[]): number | undefined {
  const s = obj(statistics);
  if (s === undefined) return undefined;
  const note: string[] = [];
  const n = field(s, 'tokenCount', 'token_count', note);
  for (const path of note) unread.push(`embeddings.statistics.${path}`);
  return n;
}

function requestModel(request: unknown): string | undefined {
  const m = str(obj(request)?.model);
  return m?.replace(/^(?:.*\/)?models\//, '');
}

function isEmbedding(body: Record<string, unknown> | undefined, request: unknown): boolean {
  const req = obj(request);
  return (
    body?.embedding !== undefined ||
    body?.embeddings !== undefined ||
    arr(body?.predictions) !== undefined ||
    (req?.contents === undefined && (req?.content !== undefined || req?.requests !== undefined))
  );
}

function build(
  provider: string,
  counts: Partial<Usage> | undefined,
  model: string | undefined,
  request: unknown,
  embedding: boolean,
  unread: string[],
): Usage {
  const rm = requestModel(request);
  const u: Usage = embedding
    ? { provider, serviceType: 'embedding', operation: 'embeddings', usageSource: 'missing' }
    : { provider, serviceType: 'llm', operation: 'generate_content', usageSource: 'missing' };
  const m = model ?? rm;
  if (m !== undefined) u.model = m;
  if (rm !== undefined) u.requestModel = rm;
  if (counts !== undefined) Object.assign(u, counts, { usageSource: 'reported' });
  if (unread.length > 0) u.unread = unread;
  return u;
}

/**
 * The generated text one stream chunk carries: its candidates' text parts (thoughts included)
 * and function calls (see ProviderConverter.textOf).
 */
function geminiTextOf(event: unknown): string | undefined {
  let out: string | undefined;
  for (const c of arr(obj(event)?.candidates) ?? []) {
    for (const part of arr(obj(obj(c)?.content)?.parts) ?? []) {
      const p = obj(part);
      const call = obj(p?.functionCall) ?? obj(p?.function_call);
      const t = str(p?.text) ?? (call === undefined ? undefined : `${str(call.name) ?? ''}${JSON.stringify(call.args ?? {})}`);
      if (t !== undefined) out = out === undefined ? t : out + t;
    }
  }
  return out;
}

/** A Gemini-shaped converter under a provider id (gemini, vertex_ai). */
export function geminiShapedConverter(provider: string): ProviderConverter {
  return {
    fromResponse(response, request) {
      const body = obj(response);
      const unread: string[] = [];
      const embedding = isEmbedding(body, request);
      let counts = countsOf(body?.usageMetadata ?? body?.usage_metadata, unread);
      if (counts === undefined && embedding) {
        // Vertex predict-style embeddings: one token count per instance, summed. On the wire
        // (`predictions[].embeddings.statistics.token_count`); as @google/genai returns it
        // (`embeddings[].statistics.tokenCount`, either spelling read).
        let sum: number | undefined;
        for (const p of arr(body?.predictions) ?? []) sum = plus(sum, statistic(obj(obj(p)?.embeddings)?.statistics, unread));
        for (const e of arr(body?.embeddings) ?? []) sum = plus(sum, statistic(obj(e)?.statistics, unread));
        if (sum !== undefined) counts = { inputTokens: sum };
      }
      return build(provider, counts, str(body?.modelVersion) ?? str(body?.model_version), request, embedding, unread);
    },
    fromStream(events, request) {
      const unread: string[] = [];
      let counts: Partial<Usage> | undefined;
      let model: string | undefined;
      let finished = false;
      for (const e of events) {
        const ev = obj(e);
        if (ev === undefined) continue;
        model = str(ev.modelVersion) ?? str(ev.model_version) ?? model;
        const c = countsOf(ev.usageMetadata ?? ev.usage_metadata, unread);
        if (c !== undefined) counts = c;
        const last = arr(ev.candidates)?.at(-1);
        finished =
          str(obj(last)?.finishReason) !== undefined || str(obj(last)?.finish_reason) !== undefined || (finished && last === undefined);
      }
      const u = build(provider, counts, model, request, false, unread);
      if (!finished) u.partial = true;
      return u;
    },
    textOf: geminiTextOf,
  };
}

export const geminiConverter: ProviderConverter = geminiShapedConverter('gemini');
