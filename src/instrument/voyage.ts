import { fernApiKey, wrapFernMethod } from './fern.ts';
import type { Instrumenter } from './wrap.ts';

/**
 * The `voyageai` client (`VoyageAIClient`, Fern-generated): `embed`, `rerank`, `multimodalEmbed`
 * and `contextualizedEmbed`, each one request whose body reports `usage.total_tokens`. Embeddings
 * by a local model (`voyage-4-nano`, computed on this machine) make no request and are not metered.
 */
export const instrumentVoyage: Instrumenter = (client, recorder) => {
  const r = recorder.apiKey === undefined ? { ...recorder, apiKey: fernApiKey(client, 'apiKey') } : recorder;
  for (const method of ['embed', 'rerank', 'multimodalEmbed', 'contextualizedEmbed']) wrapFernMethod(client, method, r);
};

/** True for a Voyage AI client: its multimodal or contextualized embeddings, which no other SDK has. */
export function isVoyageClient(client: object): boolean {
  const c = client as Record<string, unknown>;
  return (
    typeof c.embed === 'function' &&
    typeof c.rerank === 'function' &&
    (typeof c.multimodalEmbed === 'function' || typeof c.contextualizedEmbed === 'function')
  );
}
