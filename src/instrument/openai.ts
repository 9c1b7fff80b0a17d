import { obj } from '../providers/read.ts';
import { providerEntry } from '../providers/registry.ts';
import { type Instrumenter, wrapMethod } from './wrap.ts';

/**
 * The `openai` client (and `AzureOpenAI`, and OpenAI-compatible endpoints reached through it):
 * chat completions, legacy completions, the Responses API and embeddings, streams included.
 * Which provider a client calls (by class and base URL) is the registry's to say.
 */

/** True for a chat or completion stream chunk that carries only the usage tokenmeter asked for. */
function usageOnlyChunk(event: unknown): boolean {
  const e = obj(event);
  return e !== undefined && Array.isArray(e.choices) && e.choices.length === 0 && obj(e.usage) !== undefined;
}

/** Chunks carry `usage: null` once usage is asked for; a caller who did not ask never saw the key. */
function dropUsageKey(event: unknown): void {
  const e = obj(event);
  if (e !== undefined && e.usage === null) delete e.usage;
}

/** Asks a streamed chat or completion request for its usage when the caller did not: the body to send instead, or undefined. */
function withStreamUsage(body: unknown): unknown {
  const b = obj(body);
  if (b === undefined || b.stream !== true) return undefined;
  const so = obj(b.stream_options);
  if (so?.include_usage === true) return undefined;
  return { ...b, stream_options: { ...so, include_usage: true } };
}

export const instrumentOpenAI: Instrumenter = (client, recorder) => {
  const c = client as {
    chat?: { completions?: object };
    completions?: object;
    embeddings?: object;
    responses?: object;
  };
  // Providers known to honour stream_options.include_usage; others (Groq reports x_groq.usage) are left as called.
  const askUsage = providerEntry(recorder.provider)?.asksStreamUsage === true;
  for (const resource of [c.chat?.completions, c.completions]) {
    wrapMethod(resource, 'create', recorder, (body) => {
      const asked = askUsage ? withStreamUsage(body) : undefined;
      return asked === undefined ? undefined : { body: asked, observe: { hide: usageOnlyChunk, clean: dropUsageKey } };
    });
  }
  wrapMethod(c.embeddings, 'create', recorder);
  wrapMethod(c.responses, 'create', recorder);
};
