import { anthropicConverter } from './anthropic.ts';
import { openaiShapedConverter } from './openai.ts';
import { arr, count, num, obj, plus, str } from './read.ts';
import type { ProviderConverter, Usage } from './types.ts';

/**
 * Amazon Bedrock (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_TokenUsage.html).
 * Converse and ConverseStream: `usage.inputTokens` EXCLUDES `cacheReadInputTokens` and
 * `cacheWriteInputTokens` (as Anthropic's does), so input is their sum; the response names no
 * model, so it comes from the request's `modelId`. ConverseStream's usage arrives in the `metadata`
 * event, `messageStop` ends it. InvokeModel returns the model family's own body: Anthropic's
 * Messages shape, Nova's `usage.inputTokens`/`cacheReadInputTokenCount`, Titan's
 * `inputTextTokenCount`/`results[].tokenCount`, Llama's `prompt_token_count`/`generation_token_count`,
 * OpenAI's chat-completion `usage.prompt_tokens`/`completion_tokens` (AI21 Jamba, gpt-oss...),
 * and streamed chunks may end with `amazon-bedrock-invocationMetrics`, whose `inputTokenCount`
 * excludes cache reads and writes too. Bodies with no counts at all (Mistral, Cohere Command R)
 * are read from InvokeModel's `x-amzn-bedrock-*-token-count` response headers, which Bedrock
 * sends for every model, with the same semantics.
 */
const openaiCompatible = openaiShapedConverter('aws_bedrock');

function modelOf(request: unknown): string | undefined {
  const r = obj(request);
  return str(r?.modelId) ?? str(r?.model);
}

interface Counts {
  input?: number | undefined;
  output?: number | undefined;
  cacheRead?: number | undefined;
  cacheWrite?: number | undefined;
}

/** An embedding model's body (Titan's `embedding`, Cohere's and Nova's `embeddings`), whatever the model id says. */
function isEmbedding(body: Record<string, unknown> | undefined): boolean {
  return body?.embedding !== undefined || body?.embeddings !== undefined || body?.embeddingsByType !== undefined;
}

function usage(kind: 'llm' | 'embedding', request: unknown, c: Counts, unread: string[]): Usage {
  const u: Usage =
    kind === 'embedding'
      ? { provider: 'aws_bedrock', serviceType: 'embedding', operation: 'embeddings', usageSource: 'missing' }
      : { provider: 'aws_bedrock', serviceType: 'llm', operation: 'chat', usageSource: 'missing' };
  const model = modelOf(request);
  if (model !== undefined) {
    u.model = model;
    u.requestModel = model;
  }
  if (c.input !== undefined || c.output !== undefined) {
    u.usageSource = 'reported';
    const input = c.input === undefined ? undefined : c.input + (c.cacheRead ?? 0) + (c.cacheWrite ?? 0);
    if (input !== undefined) u.inputTokens = input;
    if (c.output !== undefined) u.outputTokens = c.output;
    if (c.cacheRead !== undefined) u.cachedInputTokens = c.cacheRead;
    if (c.cacheWrite !== undefined) u.cacheWriteTokens = c.cacheWrite;
    // An LLM call whose output is unknown has an unknown total too (an embedding has no output).
    if (input !== undefined && (c.output !== undefined || kind === 'embedding')) u.totalTokens = input + (c.output ?? 0);
  }
  if (unread.length > 0) u.unread = unread;
  return u;
}

/** Anthropic's reading of a Messages body or stream, named as Bedrock's: the model is the request's modelId. */
function asBedrock(u: Usage, request: unknown): Usage {
  const modelId = modelOf(request);
  const b: Usage = { ...u, provider: 'aws_bedrock' };
  if (modelId !== undefined) {
    b.model = modelId;
    b.requestModel = modelId;
  }
  return b;
}

/** Converse's (and Nova's) camelCase usage object. */
function converseCounts(v: unknown, unread: string[]): Counts {
  return {
    input: count(v, ['inputTokens'], unread),
    output: count(v, ['outputTokens'], unread),
    cacheRead: count(v, ['cacheReadInputTokens'], unread) ?? count(v, ['cacheReadInputTokenCount'], unread),
    cacheWrite: count(v, ['cacheWriteInputTokens'], unread) ?? count(v, ['cacheWriteInputTokenCount'], unread),
  };
}

/** `amazon-bedrock-invocationMetrics`, which ends a stream (and InvokeModel's counts as headers). */
function metricsCounts(v: unknown, unread: string[]): Counts {
  return {
    input: count(v, ['inputTokenCount'], unread),
    output: count(v, ['outputTokenCount'], unread),
    cacheRead: count(v, ['cacheReadInputTokenCount'], unread),
    cacheWrite: count(v, ['cacheWriteInputTokenCount'], unread),
  };
}

function fromBody(body: Record<string, unknown> | undefined, request: unknown): Usage {
  const unread: string[] = [];
  // Anthropic's Messages shape (InvokeModel with an Anthropic model).
  if (str(body?.type) === 'message' || obj(body?.usage)?.input_tokens !== undefined) {
    return asBedrock(anthropicConverter.fromResponse(body, request), request);
  }
  // OpenAI's chat-completion shape, which many InvokeModel families answer with (AI21 Jamba,
  // OpenAI's gpt-oss, DeepSeek, Qwen...): `prompt_tokens` includes cached tokens, as OpenAI's does.
  const raw = obj(body?.usage);
  if (raw?.prompt_tokens !== undefined || raw?.completion_tokens !== undefined) {
    return asBedrock(openaiCompatible.fromResponse(body, request), request);
  }
  if (raw !== undefined) return usage('llm', request, converseCounts(body?.usage, unread), unread);
  const metrics = obj(body?.['amazon-bedrock-invocationMetrics']);
  if (metrics !== undefined) return usage(isEmbedding(body) ? 'embedding' : 'llm', request, metricsCounts(metrics, unread), unread);
  // Titan text and embeddings.
  if (body?.inputTextTokenCount !== undefined) {
    let output: number | undefined;
    for (const r of arr(body.results) ?? []) output = plus(output, count(r, ['tokenCount'], unread));
    const kind = isEmbedding(body) ? 'embedding' : 'llm';
    return usage(kind, request, { input: count(body, ['inputTextTokenCount'], unread), output }, unread);
  }
  // Llama and other families.
  return usage(
    'llm',
    request,
    { input: count(body, ['prompt_token_count'], unread), output: count(body, ['generation_token_count'], unread) },
    unread,
  );
}

/** InvokeModel's response headers, by lower-case name (the wire is case-insensitive). */
export type BedrockHeaders = Readonly<Record<string, string | undefined>>;

/** The response headers that carry InvokeModel's counts. */
export const BEDROCK_COUNT_HEADERS = {
  input: 'x-amzn-bedrock-input-token-count',
  output: 'x-amzn-bedrock-output-token-count',
  cacheRead: 'x-amzn-bedrock-cache-read-input-token-count',
  cacheWrite: 'x-amzn-bedrock-cache-write-input-token-count',
} as const;

function headerCount(headers: BedrockHeaders, name: string, unread: string[]): number | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  const n = /^\s*\d+\s*$/.test(v) ? num(Number(v)) : undefined;
  if (n === undefined) unread.push(name);
  return n;
}

/**
 * InvokeModel's usage: from the model's own body (parsed JSON) when it carries counts, else from
 * the `x-amzn-bedrock-*-token-count` response headers.
 */
export function awsBedrockInvokeUsage(body: unknown, headers: BedrockHeaders | undefined, request: unknown): Usage {
  const fromJson = fromBody(obj(body), request);
  if (fromJson.usageSource === 'reported' || headers === undefined) return fromJson;
  const unread = [...(fromJson.unread ?? [])];
  const c: Counts = {
    input: headerCount(headers, BEDROCK_COUNT_HEADERS.input, unread),
    output: headerCount(headers, BEDROCK_COUNT_HEADERS.output, unread),
    cacheRead: headerCount(headers, BEDROCK_COUNT_HEADERS.cacheRead, unread),
    cacheWrite: headerCount(headers, BEDROCK_COUNT_HEADERS.cacheWrite, unread),
  };
  return usage(isEmbedding(obj(body)) ? 'embedding' : 'llm', request, c, unread);
}

export const awsBedrockConverter: ProviderConverter = {
  fromResponse: (response, request) => fromBody(obj(response), request),
  fromStream(events, request) {
    const unread: string[] = [];
    let counts: Counts | undefined;
    let stopped = false;
    let anthropic = false;
    for (const e of events) {
      const ev = obj(e);
      if (ev === undefined) continue;
      if (ev.messageStop !== undefined) stopped = true;
      const meta = obj(ev.metadata);
      if (meta?.usage !== undefined) counts = converseCounts(meta.usage, unread);
      const metrics = obj(ev['amazon-bedrock-invocationMetrics']);
      if (metrics !== undefined) {
        counts = metricsCounts(metrics, unread);
        stopped = true;
      }
      if (typeof ev.type === 'string' && ev.type.startsWith('message_')) anthropic = true;
    }
    // An Anthropic model streams Anthropic's own events, whose usage names cache reads and writes
    // apart; the invocation metrics on its last chunk are the fallback.
    if (anthropic) {
      const u = anthropicConverter.fromStream(events, request);
      if (u.usageSource === 'reported' || counts === undefined) return asBedrock(u, request);
    }
    const u = usage('llm', request, counts ?? {}, unread);
    if (!stopped) u.partial = true;
    return u;
  },
};

// A cross-region inference profile's prefix, for models price tables know only by their bare id.
const BEDROCK_REGION_PREFIX = /^(?:us|eu|apac|us-gov|global|jp|au|ca)\./;

/**
 * The names to look a Bedrock model's price up by, in order. An ARN wraps the model or
 * inference-profile id (arn:aws:bedrock:us-east-1:123:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0);
 * the profile id comes first, as the price depends on it (a global. profile of a newer Claude
 * costs 10% less than a geographic one such as us. or eu.), then the bare model id.
 */
export function bedrockPriceModels(model: string): readonly string[] {
  const slash = model.lastIndexOf('/');
  const id = slash >= 0 ? model.slice(slash + 1) : model;
  return BEDROCK_REGION_PREFIX.test(id) ? [id, id.replace(BEDROCK_REGION_PREFIX, '')] : [id];
}

/**
 * InvokeModel's request as the model reads it: its `body` is the model's own JSON, as bytes or
 * text (a Converse request, with `messages`, or a body that is not JSON comes back as it is).
 */
export function invokeModelBody(request: unknown): unknown {
  const r = obj(request);
  if (r === undefined || r.messages !== undefined) return request;
  const body = r.body;
  try {
    if (typeof body === 'string') return JSON.parse(body);
    if (body instanceof Uint8Array) return JSON.parse(new TextDecoder().decode(body));
  } catch {
    // Not JSON: nothing to read.
  }
  return request;
}
