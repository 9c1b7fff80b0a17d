import { anthropicConverter } from './anthropic.ts';
import { arr, count, obj, plus, str } from './read.ts';
import type { ProviderConverter, Usage } from './types.ts';

/**
 * Amazon Bedrock (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_TokenUsage.html).
 * Converse and ConverseStream: `usage.inputTokens` EXCLUDES `cacheReadInputTokens` and
 * `cacheWriteInputTokens` (as Anthropic's does), so input is their sum; the response names no
 * model, so it comes from the request's `modelId`. ConverseStream's usage arrives in the `metadata`
 * event, `messageStop` ends it. InvokeModel returns the model family's own body: Anthropic's
 * Messages shape, Nova's `usage.inputTokens`/`cacheReadInputTokenCount`, Titan's
 * `inputTextTokenCount`/`results[].tokenCount`, Llama's `prompt_token_count`/`generation_token_count`,
 * and streamed chunks may end with `amazon-bedrock-invocationMetrics`.
 */
function modelOf(request: unknown): string | undefined {
  const r = obj(request);
  return str(r?.modelId) ?? str(r?.model);
}

function usage(
  kind: 'llm' | 'embedding',
  request: unknown,
  c: { input?: number | undefined; output?: number | undefined; cacheRead?: number | undefined; cacheWrite?: number | undefined },
  unread: string[],
): Usage {
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
    if (input !== undefined) u.totalTokens = input + (c.output ?? 0);
  }
  if (unread.length > 0) u.unread = unread;
  return u;
}

/** Converse's (and Nova's) camelCase usage object. */
function converseCounts(v: unknown, unread: string[]) {
  return {
    input: count(v, ['inputTokens'], unread),
    output: count(v, ['outputTokens'], unread),
    cacheRead: count(v, ['cacheReadInputTokens'], unread) ?? count(v, ['cacheReadInputTokenCount'], unread),
    cacheWrite: count(v, ['cacheWriteInputTokens'], unread) ?? count(v, ['cacheWriteInputTokenCount'], unread),
  };
}

function fromBody(body: Record<string, unknown> | undefined, request: unknown): Usage {
  const unread: string[] = [];
  // Anthropic's Messages shape (InvokeModel with an Anthropic model).
  if (str(body?.type) === 'message' || obj(body?.usage)?.input_tokens !== undefined) {
    const u = anthropicConverter.fromResponse(body, request);
    const model = modelOf(request) ?? u.model;
    return { ...u, provider: 'aws_bedrock', ...(model === undefined ? {} : { model }) };
  }
  if (obj(body?.usage) !== undefined) return usage('llm', request, converseCounts(body?.usage, unread), unread);
  const metrics = obj(body?.['amazon-bedrock-invocationMetrics']);
  if (metrics !== undefined)
    return usage(
      'llm',
      request,
      { input: count(metrics, ['inputTokenCount'], unread), output: count(metrics, ['outputTokenCount'], unread) },
      unread,
    );
  // Titan text and embeddings.
  if (body?.inputTextTokenCount !== undefined) {
    const embedding = body.embedding !== undefined || body.embeddingsByType !== undefined;
    let output: number | undefined;
    for (const r of arr(body.results) ?? []) output = plus(output, count(r, ['tokenCount'], unread));
    return usage(embedding ? 'embedding' : 'llm', request, { input: count(body, ['inputTextTokenCount'], unread), output }, unread);
  }
  // Llama and other families.
  return usage(
    'llm',
    request,
    { input: count(body, ['prompt_token_count'], unread), output: count(body, ['generation_token_count'], unread) },
    unread,
  );
}

export const awsBedrockConverter: ProviderConverter = {
  fromResponse: (response, request) => fromBody(obj(response), request),
  fromStream(events, request) {
    const unread: string[] = [];
    let counts: ReturnType<typeof converseCounts> | undefined;
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
        counts = {
          input: count(metrics, ['inputTokenCount'], unread),
          output: count(metrics, ['outputTokenCount'], unread),
          cacheRead: undefined,
          cacheWrite: undefined,
        };
        stopped = true;
      }
      if (typeof ev.type === 'string' && ev.type.startsWith('message_')) anthropic = true;
    }
    // InvokeModelWithResponseStream with an Anthropic model streams Anthropic's own events.
    if (anthropic && counts === undefined) {
      const u = anthropicConverter.fromStream(events, request);
      const model = modelOf(request) ?? u.model;
      return { ...u, provider: 'aws_bedrock', ...(model === undefined ? {} : { model }) };
    }
    const u = usage('llm', request, counts ?? {}, unread);
    if (!stopped) u.partial = true;
    return u;
  },
};
