import { converterFor, PROVIDER_IDS, providerEntry } from './registry.ts';
import { parseStreamText } from './stream-text.ts';
import type { ExtractInput, Usage } from './types.ts';

/** The provider ids with a converter of their own (the registry's). */
export const PROVIDERS: readonly string[] = PROVIDER_IDS;

export { converterFor };

/**
 * Reads the usage of one call from a saved response (`response`, parsed JSON; an array is read as
 * a stream's chunks) or a streamed body (`stream`, raw SSE, NDJSON or a JSON array of chunks).
 * Pure and never throws: what it cannot read is marked.
 */
export function extractUsage(input: ExtractInput): Usage {
  const converter = converterFor(input.provider);
  try {
    // A response that is an array is a stream's chunks: what Gemini's and Vertex AI's
    // streamGenerateContent answer without `alt=sse` (one JSON array), or SDK stream events saved as one.
    const usage =
      input.stream !== undefined
        ? converter.fromStream(parseStreamText(input.stream), input.request)
        : Array.isArray(input.response)
          ? converter.fromStream(input.response, input.request)
          : converter.fromResponse(input.response, input.request);
    return { ...usage, provider: input.provider };
  } catch {
    // The provider's default service type: a Voyage call is an embedding unless it says otherwise.
    const serviceType = providerEntry(input.provider)?.serviceTypes[0] ?? 'llm';
    const operation = serviceType === 'llm' ? 'chat' : serviceType === 'embedding' ? 'embeddings' : 'rerank';
    return { provider: input.provider, serviceType, operation, usageSource: 'missing', unread: ['(converter failed)'] };
  }
}

export type { ExtractInput, ProviderConverter, Usage } from './types.ts';
