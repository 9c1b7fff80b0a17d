import { count, obj, str } from './read.ts';
import type { ProviderConverter, Usage } from './types.ts';

/**
 * Voyage AI (https://docs.voyageai.com/reference/embeddings-api, .../reranker-api): embeddings
 * and rerank responses report `usage.total_tokens`, all input (rerank counts the query once per
 * document). Multimodal embeddings add `text_tokens` and `image_pixels`, and their total_tokens
 * counts images at about 560 pixels a token; Voyage bills them per text token and per pixel
 * ($0.12 per 1M text tokens plus $0.60 per 1B pixels, https://docs.voyageai.com/docs/pricing),
 * which a per-token price cannot express: total_tokens is recorded, as for the other endpoints.
 * The voyageai SDK returns the keys it knows camelCased (`usage.totalTokens`), read alike.
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
