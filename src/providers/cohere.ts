import { count, obj, str } from './read.ts';
import type { ProviderConverter, Usage } from './types.ts';

/**
 * Cohere (https://docs.cohere.com/reference/chat) bills `billed_units`, which tokenmeter prefers
 * over `tokens`: v2 chat `usage.billed_units`, v1 `meta.billed_units`; embed bills input tokens;
 * rerank bills `search_units` only. v2 streams end with a `message-end` event whose
 * `delta.usage` carries the units; v1 streams end with `stream-end` and `response.meta`. The
 * cohere-ai SDK returns camelCase (`meta.billedUnits.inputTokens`, `searchUnits`), read alike.
 */
function units(container: unknown, unread: string[]): Record<string, number | undefined> | undefined {
  const c = obj(container);
  const billed = obj(c?.billed_units) ?? obj(c?.billedUnits);
  const tokens = obj(c?.tokens);
  if (billed === undefined && tokens === undefined) return undefined;
  const pick = (snake: string, camel: string) => count(billed, [snake], unread) ?? count(billed, [camel], unread);
  const input = pick('input_tokens', 'inputTokens') ?? count(tokens, ['input_tokens'], unread) ?? count(tokens, ['inputTokens'], unread);
  const output =
    pick('output_tokens', 'outputTokens') ?? count(tokens, ['output_tokens'], unread) ?? count(tokens, ['outputTokens'], unread);
  return { input, output, search: pick('search_units', 'searchUnits') };
}

function kindOf(body: Record<string, unknown> | undefined, request: unknown): Pick<Usage, 'serviceType' | 'operation'> {
  const req = obj(request);
  if (
    (req?.query !== undefined && req?.documents !== undefined) ||
    (Array.isArray(body?.results) && body?.embeddings === undefined && body?.message === undefined && body?.text === undefined)
  ) {
    return { serviceType: 'reranking', operation: 'rerank' };
  }
  if (body?.embeddings !== undefined || req?.texts !== undefined || req?.inputs !== undefined)
    return { serviceType: 'embedding', operation: 'embeddings' };
  return { serviceType: 'llm', operation: 'chat' };
}

function build(
  body: Record<string, unknown> | undefined,
  request: unknown,
  u: Record<string, number | undefined> | undefined,
  unread: string[],
): Usage {
  const out: Usage = { provider: 'cohere', ...kindOf(body, request), usageSource: 'missing' };
  const rm = str(obj(request)?.model);
  const model = str(body?.model) ?? rm;
  if (model !== undefined) out.model = model;
  if (rm !== undefined) out.requestModel = rm;
  if (u !== undefined) {
    if (out.serviceType === 'reranking') {
      if (u.search !== undefined) out.searchUnits = u.search;
    } else {
      if (u.input !== undefined) out.inputTokens = u.input;
      if (u.output !== undefined) out.outputTokens = u.output;
      if (u.input !== undefined && (u.output !== undefined || out.serviceType === 'embedding')) out.totalTokens = u.input + (u.output ?? 0);
    }
    if (out.inputTokens !== undefined || out.outputTokens !== undefined || out.searchUnits !== undefined) out.usageSource = 'reported';
  }
  if (unread.length > 0) out.unread = unread;
  return out;
}

export const cohereConverter: ProviderConverter = {
  fromResponse(response, request) {
    const body = obj(response);
    const unread: string[] = [];
    return build(body, request, units(body?.usage, unread) ?? units(body?.meta, unread), unread);
  },
  fromStream(events, request) {
    const unread: string[] = [];
    let u: Record<string, number | undefined> | undefined;
    let ended = false;
    for (const e of events) {
      const ev = obj(e);
      const type = str(ev?.type) ?? str(ev?.event_type) ?? str(ev?.eventType);
      if (type === 'message-end') {
        ended = true;
        u = units(obj(ev?.delta)?.usage, unread) ?? u;
      } else if (type === 'stream-end') {
        ended = true;
        u = units(obj(ev?.response)?.meta, unread) ?? u;
      }
    }
    const out = build(undefined, request, u, unread);
    if (!ended) out.partial = true;
    return out;
  },
};
