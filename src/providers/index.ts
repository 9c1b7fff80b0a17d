import { anthropicConverter } from './anthropic.ts';
import { awsBedrockConverter } from './aws-bedrock.ts';
import { cohereConverter } from './cohere.ts';
import { geminiConverter } from './gemini.ts';
import { groqConverter } from './groq.ts';
import { mistralConverter } from './mistral.ts';
import { ollamaConverter } from './ollama.ts';
import { openaiConverter } from './openai.ts';
import { parseStreamText } from './stream-text.ts';
import type { ExtractInput, ProviderConverter, Usage } from './types.ts';
import { voyageConverter } from './voyage.ts';

/** Each provider id's converter. Azure OpenAI speaks OpenAI's shapes; Vertex AI speaks Gemini's. */
const CONVERTERS: Readonly<Record<string, ProviderConverter>> = {
  openai: openaiConverter,
  azure_openai: openaiConverter,
  groq: groqConverter,
  mistral: mistralConverter,
  anthropic: anthropicConverter,
  aws_bedrock: awsBedrockConverter,
  ollama: ollamaConverter,
  gemini: geminiConverter,
  vertex_ai: geminiConverter,
  cohere: cohereConverter,
  voyage: voyageConverter,
};

/** The provider ids with a converter of their own. */
export const PROVIDERS: readonly string[] = Object.keys(CONVERTERS);

/** The converter for a provider id; any other provider is read as OpenAI-compatible, as most gateways are. */
export function converterFor(provider: string): ProviderConverter {
  return CONVERTERS[provider] ?? openaiConverter;
}

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
    return { provider: input.provider, serviceType: 'llm', operation: 'chat', usageSource: 'missing', unread: ['(converter failed)'] };
  }
}

export type { ExtractInput, ProviderConverter, Usage } from './types.ts';
