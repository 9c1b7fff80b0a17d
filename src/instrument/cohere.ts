import { fernApiKey, wrapFernMethod } from './fern.ts';
import type { Instrumenter } from './wrap.ts';

/**
 * The `cohere-ai` clients (Fern-generated): `CohereClientV2` (chat, chatStream, embed, rerank of
 * the v2 API) and the v1 `CohereClient` (the same four of the v1 API, and the v2 API under
 * `client.v2`). `CohereClientV2`'s methods are bound to an inner v2 client, which makes the
 * requests, so that one is metered.
 */
const METHODS = ['chat', 'chatStream', 'embed', 'rerank'];

export const instrumentCohere: Instrumenter = (client, recorder) => {
  const c = client as { clientV2?: unknown; v2?: unknown };
  const r = recorder.apiKey === undefined ? { ...recorder, apiKey: fernApiKey(client, 'token') } : recorder;
  if (c.clientV2 !== undefined) {
    // CohereClientV2: its own methods are bound to the v2 client in `clientV2`.
    for (const method of METHODS) wrapFernMethod(c.clientV2, method, r, client);
    return;
  }
  // The v1 client requests itself, and opens the v2 API lazily at `v2`.
  const v2 = c.v2;
  for (const method of METHODS) {
    wrapFernMethod(client, method, r);
    wrapFernMethod(v2, method, r);
  }
};

/** True for a Cohere client: a `chatStream` method beside `rerank`, a pair no other SDK has. */
export function isCohereClient(client: object): boolean {
  const c = client as Record<string, unknown>;
  return typeof c.chatStream === 'function' && typeof c.rerank === 'function';
}
