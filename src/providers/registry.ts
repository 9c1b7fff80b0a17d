import type { ServiceType } from '../usage.ts';
import { anthropicConverter } from './anthropic.ts';
import { awsBedrockConverter, bedrockPriceModels, invokeModelBody } from './aws-bedrock.ts';
import { cohereConverter } from './cohere.ts';
import { geminiConverter, geminiShapedConverter } from './gemini.ts';
import { groqConverter } from './groq.ts';
import { mistralConverter } from './mistral.ts';
import { ollamaConverter } from './ollama.ts';
import { openaiConverter, openaiShapedConverter } from './openai.ts';
import type { ProviderConverter } from './types.ts';
import { voyageConverter } from './voyage.ts';

/**
 * The providers tokenmeter knows, each in one place: everything else (extractUsage, instrument(),
 * the LangChain and AI SDK readers, pricing, metrics, the CLI) reads this table. Adding a provider
 * is one entry here, plus its converter file, test and fixtures.
 */

/**
 * The SDKs `instrument()` wraps, by npm package name. instrument/ holds, for each, how to recognise its client by shape
 * and how to wrap it (that is knowledge of the SDK, shared by every provider reached through it);
 * a provider entry says which SDKs reach it and how to tell its clients from the SDK's others.
 */
export type SdkKind =
  | 'openai'
  | 'groq-sdk'
  | '@anthropic-ai/sdk'
  | '@google/genai'
  | '@aws-sdk/client-bedrock-runtime'
  | 'voyageai'
  | 'cohere-ai'
  | '@mistralai/mistralai'
  | 'ollama';

/** One way `instrument()` recognises a client as this provider's. */
export interface ClientMatch {
  /** The SDK whose client it is. */
  sdk: SdkKind;
  /**
   * Among that SDK's clients, those calling this provider (class name, base URL, a flag): a pure
   * predicate that never throws. Absent: the SDK's own provider, taken when no other provider's
   * predicate matches (an `openai` client with any other base URL is `openai`).
   */
  when?: (client: object) => boolean;
}

/** How pricing finds a provider's models. */
export interface ProviderPricing {
  /** The provider's id in @pydantic/genai-prices; absent when genai-prices has none. */
  genaiPrices?: string;
  /** The names to look a model up by, in order (Bedrock: an inference profile's id, then the bare model id). */
  modelNames?: (model: string) => readonly string[];
  /** Models run on the user's own hardware: no per-token charge unless the user sets a price. */
  local?: true;
  /** The `flex` processing tier is billed at half the standard rates. */
  flexAtHalf?: true;
}

/** One provider. */
export interface ProviderEntry {
  /** tokenmeter's provider id: label value, ledger value, config key. */
  id: string;
  /** The provider's name as people write it. */
  displayName: string;
  /** The service types its calls have; the first is the default when a call does not tell. */
  serviceTypes: readonly [ServiceType, ...ServiceType[]];
  /** Reads its responses and streams into Usage. */
  converter: ProviderConverter;
  /** How `instrument()` recognises its clients; empty when no SDK client is wrapped for it. */
  clients: readonly ClientMatch[];
  /** Its `gen_ai.provider.name` (OpenTelemetry GenAI semantic conventions' well-known value). */
  semconvName: string;
  pricing: ProviderPricing;
  /**
   * The provider whose models this one serves under the same names (Azure OpenAI: OpenAI's), so
   * their model-specific rules (image tokens, tokenizer, cheaper tiers) apply to it too.
   */
  modelsOf?: string;
  /** The request as the model reads it, when the SDK wraps it (Bedrock InvokeModel's JSON `body`). */
  requestBody?: (request: unknown) => unknown;
  /** Streamed chat calls honour `stream_options.include_usage`, so `instrument()` asks for a stream's usage. */
  asksStreamUsage?: true;
  /** How LangChain.js names it. */
  langchain: {
    /** The `ls_provider` values of its chat models' run metadata. */
    lsProviders: readonly string[];
    /** The class names of its embeddings models (LangChain runs no callbacks for those). */
    embeddingsClass?: RegExp;
  };
  /**
   * How the Vercel AI SDK names it: prefixes of a model's `provider` (`openai.chat`,
   * `google.vertex.chat`), the longest matching one wins.
   */
  aiSdkPrefixes: readonly string[];
}

function baseUrl(client: object): string {
  const url = (client as { baseURL?: unknown }).baseURL;
  return typeof url === 'string' ? url : '';
}

function className(client: object): string {
  return (client as { constructor?: { name?: string } }).constructor?.name ?? '';
}

/** An OpenAI-compatible endpoint reached through the `openai` client, told by its base URL. */
function openaiAt(url: RegExp): ClientMatch {
  return { sdk: 'openai', when: (c) => url.test(baseUrl(c)) };
}

export const PROVIDER_REGISTRY: readonly ProviderEntry[] = [
  {
    id: 'openai',
    displayName: 'OpenAI',
    serviceTypes: ['llm', 'embedding'],
    converter: openaiConverter,
    clients: [{ sdk: 'openai' }],
    semconvName: 'openai',
    pricing: { genaiPrices: 'openai', flexAtHalf: true },
    asksStreamUsage: true,
    langchain: { lsProviders: ['openai'], embeddingsClass: /^OpenAI/ },
    aiSdkPrefixes: ['openai.'],
  },
  {
    id: 'azure_openai',
    displayName: 'Azure OpenAI',
    serviceTypes: ['llm', 'embedding'],
    // OpenAI's shapes.
    converter: openaiShapedConverter('azure_openai'),
    modelsOf: 'openai',
    clients: [
      {
        sdk: 'openai',
        when: (c) =>
          className(c) === 'AzureOpenAI' ||
          /\.openai\.azure\.com|\.cognitiveservices\.azure\.com|\.services\.ai\.azure\.com/.test(baseUrl(c)),
      },
    ],
    semconvName: 'azure.ai.openai',
    pricing: { genaiPrices: 'azure', flexAtHalf: true },
    asksStreamUsage: true,
    langchain: { lsProviders: ['azure', 'azure_openai'], embeddingsClass: /^AzureOpenAI/ },
    aiSdkPrefixes: ['azure'],
  },
  {
    id: 'anthropic',
    displayName: 'Anthropic',
    serviceTypes: ['llm'],
    converter: anthropicConverter,
    clients: [{ sdk: '@anthropic-ai/sdk' }],
    semconvName: 'anthropic',
    pricing: { genaiPrices: 'anthropic' },
    langchain: { lsProviders: ['anthropic'] },
    aiSdkPrefixes: ['anthropic.'],
  },
  {
    id: 'gemini',
    displayName: 'Google Gemini API',
    serviceTypes: ['llm', 'embedding'],
    converter: geminiConverter,
    clients: [{ sdk: '@google/genai' }, openaiAt(/generativelanguage\.googleapis\.com/)],
    semconvName: 'gcp.gemini',
    pricing: { genaiPrices: 'google' },
    langchain: { lsProviders: ['google_genai'], embeddingsClass: /^GoogleGenerativeAI/ },
    aiSdkPrefixes: ['google'],
  },
  {
    id: 'vertex_ai',
    displayName: 'Google Vertex AI',
    serviceTypes: ['llm', 'embedding'],
    // Gemini's shapes (Claude on Vertex AI is metered through AnthropicVertex, in Anthropic's).
    converter: geminiShapedConverter('vertex_ai'),
    modelsOf: 'gemini',
    clients: [
      { sdk: '@google/genai', when: (c) => (c as { vertexai?: unknown }).vertexai === true },
      { sdk: '@anthropic-ai/sdk', when: (c) => className(c) === 'AnthropicVertex' },
    ],
    semconvName: 'gcp.vertex_ai',
    pricing: { genaiPrices: 'google' },
    langchain: { lsProviders: ['google_vertexai'], embeddingsClass: /^(GoogleVertexAI|VertexAI)/ },
    // @ai-sdk/google-vertex: `google.vertex.chat`; its Anthropic models: `vertex.anthropic.messages`.
    aiSdkPrefixes: ['google.vertex', 'vertex.'],
  },
  {
    id: 'groq',
    displayName: 'Groq',
    serviceTypes: ['llm'],
    converter: groqConverter,
    clients: [{ sdk: 'groq-sdk' }, openaiAt(/\bapi\.groq\.com/)],
    semconvName: 'groq',
    pricing: { genaiPrices: 'groq' },
    langchain: { lsProviders: ['groq'] },
    aiSdkPrefixes: ['groq.'],
  },
  {
    id: 'mistral',
    displayName: 'Mistral AI',
    serviceTypes: ['llm', 'embedding'],
    converter: mistralConverter,
    clients: [{ sdk: '@mistralai/mistralai' }, openaiAt(/\bapi\.mistral\.ai/)],
    semconvName: 'mistral_ai',
    pricing: { genaiPrices: 'mistral' },
    langchain: { lsProviders: ['mistral', 'mistralai'], embeddingsClass: /^MistralAI/ },
    aiSdkPrefixes: ['mistral.'],
  },
  {
    id: 'cohere',
    displayName: 'Cohere',
    serviceTypes: ['llm', 'embedding', 'reranking'],
    converter: cohereConverter,
    clients: [{ sdk: 'cohere-ai' }],
    semconvName: 'cohere',
    pricing: { genaiPrices: 'cohere' },
    langchain: { lsProviders: ['cohere'], embeddingsClass: /^Cohere/ },
    aiSdkPrefixes: ['cohere.'],
  },
  {
    id: 'voyage',
    displayName: 'Voyage AI',
    serviceTypes: ['embedding', 'reranking'],
    converter: voyageConverter,
    clients: [{ sdk: 'voyageai' }],
    semconvName: 'voyage_ai',
    pricing: { genaiPrices: 'voyageai' },
    // Embeddings only: LangChain has no Voyage chat model, so no ls_provider.
    langchain: { lsProviders: [], embeddingsClass: /^Voyage/ },
    aiSdkPrefixes: ['voyage'],
  },
  {
    id: 'aws_bedrock',
    displayName: 'Amazon Bedrock',
    serviceTypes: ['llm', 'embedding'],
    converter: awsBedrockConverter,
    requestBody: invokeModelBody,
    clients: [{ sdk: '@aws-sdk/client-bedrock-runtime' }, { sdk: '@anthropic-ai/sdk', when: (c) => className(c) === 'AnthropicBedrock' }],
    semconvName: 'aws.bedrock',
    pricing: { genaiPrices: 'aws', modelNames: bedrockPriceModels },
    langchain: { lsProviders: ['bedrock', 'amazon_bedrock'], embeddingsClass: /^Bedrock/ },
    aiSdkPrefixes: ['amazon-bedrock', 'bedrock'],
  },
  {
    id: 'ollama',
    displayName: 'Ollama',
    serviceTypes: ['llm', 'embedding'],
    converter: ollamaConverter,
    clients: [{ sdk: 'ollama' }, openaiAt(/:11434\b|ollama/)],
    semconvName: 'ollama',
    pricing: { local: true },
    langchain: { lsProviders: ['ollama'], embeddingsClass: /^Ollama/ },
    aiSdkPrefixes: ['ollama.'],
  },
];

const BY_ID: ReadonlyMap<string, ProviderEntry> = new Map(PROVIDER_REGISTRY.map((p) => [p.id, p]));

/** The provider ids with an entry, in the registry's order. */
export const PROVIDER_IDS: readonly string[] = PROVIDER_REGISTRY.map((p) => p.id);

/** A provider's entry, or undefined for any other id (a gateway, a manual record's own name). */
export function providerEntry(id: string): ProviderEntry | undefined {
  return BY_ID.get(id);
}

/** The provider whose models `provider` serves (itself unless its entry says another). */
export function modelFamily(provider: string): string {
  return BY_ID.get(provider)?.modelsOf ?? provider;
}

/** The converter for a provider id; any other provider is read as OpenAI-compatible, as most gateways are. */
export function converterFor(provider: string): ProviderConverter {
  return BY_ID.get(provider)?.converter ?? openaiConverter;
}

/**
 * The provider a client of `sdk` calls: the first provider whose predicate matches it, else the
 * SDK's own provider; undefined when no provider is reached through that SDK.
 */
export function providerOfClient(sdk: SdkKind, client: object): string | undefined {
  let own: string | undefined;
  for (const p of PROVIDER_REGISTRY) {
    for (const m of p.clients) {
      if (m.sdk !== sdk) continue;
      if (m.when === undefined) own ??= p.id;
      else if (m.when(client)) return p.id;
    }
  }
  return own;
}

/** LangChain's `ls_provider` → our provider id; other values pass through. */
export function providerFromLangChain(lsProvider: string): string {
  return PROVIDER_REGISTRY.find((p) => p.langchain.lsProviders.includes(lsProvider))?.id ?? lsProvider;
}

/** A LangChain embeddings class name → our provider id, or undefined. */
export function providerFromLangChainEmbeddings(className: string): string | undefined {
  return PROVIDER_REGISTRY.find((p) => p.langchain.embeddingsClass?.test(className) === true)?.id;
}

/**
 * The AI SDK's provider name (`openai.chat`, `google.vertex.chat`) → our provider id: the entry
 * with the longest matching prefix, else the name's first part (`xai.chat` → `xai`).
 */
export function providerFromAiSdk(name: string): string {
  const n = name.toLowerCase();
  let best: string | undefined;
  let length = 0;
  for (const p of PROVIDER_REGISTRY) {
    for (const prefix of p.aiSdkPrefixes) {
      if (prefix.length > length && n.startsWith(prefix)) {
        best = p.id;
        length = prefix.length;
      }
    }
  }
  if (best !== undefined) return best;
  const head = n.split('.')[0] ?? n;
  return head === '' ? 'unknown' : head;
}
