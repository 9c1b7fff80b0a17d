import { count, obj, str } from './read.ts';
import type { ProviderConverter, Usage } from './types.ts';

/**
 * Voyage AI (https://docs.voyageai.com/reference/embeddings-api, .../reranker-api): embeddings
 * and rerank responses report `usage.total_tokens`, all input (rerank counts the query once per
 * document); multimodal embeddings add `text_tokens` and `image_pixels` (pixels are not tokens:
 * total_tokens is what is billed). The voyageai SDK returns camelCase (`usage.totalTokens`).
 * Voyage does not stream.
 */
function kindOf(body: Record<string, unknown> | undefined, request: unknown): Pick<Usage, 'serviceType' | 'operation'> {
  const req = obj(request);
  const first = obj(Array.isArray(body?.data) ? body.data[0] : undefined);
  const rerank = req?.query !== undefined || first?.relevance_score !== undefined || first?.relevanceScore !== undefined;
  return rerank ? { serviceType: 'reranking', operation: 'rerank' } : { serviceType: 'embedding', operation: 'embeddings' };
}

function build(body: Record<string, unknown> | undefined, request: unknown): Usage {
  const unread: string[] = [];
  const u: Usage = { provider: 'voyage', ...kindOf(body, request), usageSource: 'missing' };
  const rm = str(obj(request)?.model);
  const model = str(body?.model) ?? rm;
  if (model !== undefined) u.model = model;
  if (rm !== undefined) u.requestModel = rm;
  const total = count(body, ['usage', 'total_tokens'], unread) ?? count(body, ['usage', 'totalTokens'], unread);
  if (total !== undefined) {
    u.inputTokens = total;
    u.totalTokens = total;
    u.usageSource = 'reported';
  }
  if (unread.length > 0) u.unread = unread;
  return u;
}

export const voyageConverter: ProviderConverter = {
  fromResponse: (response, request) => build(obj(response), request),
  fromStream: (_events, request) => build(undefined, request),
};
