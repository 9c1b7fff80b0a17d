/**
 * Rerank prices, which genai-prices does not carry. Cohere bills rerank per search unit (one query
 * over up to 100 documents); Voyage bills rerank per token. Each entry links its source.
 */
export interface RerankPrice {
  /** Our provider id. */
  provider: 'cohere' | 'voyage';
  model: string;
  /** USD per search unit (Cohere). */
  perSearchUnit?: number;
  /** USD per 1M tokens (Voyage). */
  perMillionTokens?: number;
  source: string;
}

const COHERE = 'https://cohere.com/pricing';
const VOYAGE = 'https://docs.voyageai.com/docs/pricing';

// Cohere: "Rerank ... $2.00 per 1K searches", the same for every current rerank model.
// Voyage: rerank-2.5 and rerank-2 $0.05 per 1M tokens; the -lite models $0.02 per 1M tokens.
export const RERANK_PRICES: readonly RerankPrice[] = [
  { provider: 'cohere', model: 'rerank-v4.0-pro', perSearchUnit: 0.002, source: COHERE },
  { provider: 'cohere', model: 'rerank-v4.0-fast', perSearchUnit: 0.002, source: COHERE },
  { provider: 'cohere', model: 'rerank-v3.5', perSearchUnit: 0.002, source: COHERE },
  { provider: 'cohere', model: 'rerank-english-v3.0', perSearchUnit: 0.002, source: COHERE },
  { provider: 'cohere', model: 'rerank-multilingual-v3.0', perSearchUnit: 0.002, source: COHERE },
  { provider: 'cohere', model: 'rerank-english-v2.0', perSearchUnit: 0.002, source: COHERE },
  { provider: 'cohere', model: 'rerank-multilingual-v2.0', perSearchUnit: 0.002, source: COHERE },
  { provider: 'voyage', model: 'rerank-2.5', perMillionTokens: 0.05, source: VOYAGE },
  { provider: 'voyage', model: 'rerank-2.5-lite', perMillionTokens: 0.02, source: VOYAGE },
  { provider: 'voyage', model: 'rerank-2', perMillionTokens: 0.05, source: VOYAGE },
  { provider: 'voyage', model: 'rerank-2-lite', perMillionTokens: 0.02, source: VOYAGE },
  { provider: 'voyage', model: 'rerank-1', perMillionTokens: 0.05, source: VOYAGE },
  { provider: 'voyage', model: 'rerank-lite-1', perMillionTokens: 0.02, source: VOYAGE },
];

/** Finds a rerank price by model name (provider-prefixed names such as `cohere.rerank-v3-5:0` on Bedrock included). */
export function findRerankPrice(provider: string, model: string): RerankPrice | undefined {
  const m = model.toLowerCase();
  const exact = RERANK_PRICES.find((p) => p.model === m && (p.provider === provider || !isKnownRerankProvider(provider)));
  if (exact) return exact;
  // Bedrock names Cohere's rerank 3.5 `cohere.rerank-v3-5:0`.
  if (m.includes('cohere.rerank-v3-5')) return RERANK_PRICES.find((p) => p.model === 'rerank-v3.5');
  return undefined;
}

// The providers the table prices: a model of theirs is matched under their own id only.
const RERANK_PROVIDERS: ReadonlySet<string> = new Set(RERANK_PRICES.map((p) => p.provider));

function isKnownRerankProvider(provider: string): boolean {
  return RERANK_PROVIDERS.has(provider);
}
