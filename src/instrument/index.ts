import type { CallContext } from '../context.ts';
import { providerOfClient, type SdkKind } from '../providers/registry.ts';
import { instrumentAnthropic } from './anthropic.ts';
import { instrumentAwsBedrock, isBedrockRuntimeClient } from './aws-bedrock.ts';
import { instrumentCohere, isCohereClient } from './cohere.ts';
import { instrumentGoogleGenAI } from './google.ts';
import { instrumentMistral } from './mistral.ts';
import { instrumentOllama } from './ollama.ts';
import { instrumentOpenAI } from './openai.ts';
import { instrumentVoyage, isVoyageClient } from './voyage.ts';
import type { Instrumenter, UsageRecorder } from './wrap.ts';

/** Context for every call of one instrumented client, and the provider id when it cannot be told. */
export interface InstrumentOptions extends CallContext {
  /** The provider id to record; by default found from the client's class and base URL. */
  provider?: string;
}

function className(client: object): string {
  return (client as { constructor?: { name?: string } }).constructor?.name ?? '';
}

/** The `openai` client's shape, which OpenAI-compatible SDKs (groq-sdk) share. */
function isOpenAIShaped(client: object): boolean {
  return typeof (client as { chat?: { completions?: { create?: unknown } } }).chat?.completions?.create === 'function';
}

interface Sdk {
  /** True for this SDK's clients, from their shape and class name. */
  is(client: object): boolean;
  instrument: Instrumenter;
}

/**
 * The SDKs instrument() wraps, tried in this order (which provider a client calls is the
 * registry's to say). Their shapes are knowledge of the SDKs, kept here beside the wrapping code.
 */
const SDKS: Readonly<Record<SdkKind, Sdk>> = {
  // groq-sdk is generated from the same spec as openai: the same shape and wrapping, told by its class.
  'groq-sdk': { is: (c) => isOpenAIShaped(c) && className(c) === 'Groq', instrument: instrumentOpenAI },
  openai: { is: isOpenAIShaped, instrument: instrumentOpenAI },
  '@google/genai': {
    is: (c) => typeof (c as { models?: { generateContent?: unknown } }).models?.generateContent === 'function',
    instrument: instrumentGoogleGenAI,
  },
  '@anthropic-ai/sdk': {
    is: (c) => typeof (c as { messages?: { create?: unknown } }).messages?.create === 'function',
    instrument: instrumentAnthropic,
  },
  '@aws-sdk/client-bedrock-runtime': { is: isBedrockRuntimeClient, instrument: instrumentAwsBedrock },
  voyageai: { is: isVoyageClient, instrument: instrumentVoyage },
  'cohere-ai': { is: isCohereClient, instrument: instrumentCohere },
  // @mistralai/mistralai: `chat.complete`/`chat.stream` (not chat.completions.create, tried first).
  '@mistralai/mistralai': {
    is: (c) => {
      const chat = (c as { chat?: { complete?: unknown; stream?: unknown } }).chat;
      return typeof chat?.complete === 'function' && typeof chat.stream === 'function';
    },
    instrument: instrumentMistral,
  },
  // ollama: chat and generate are methods of the client itself; pull and ps (model management)
  // tell it from other clients with a chat() and generate() (Cohere's).
  ollama: {
    is: (c) => ['chat', 'generate', 'embed', 'pull', 'ps'].every((m) => typeof (c as Record<string, unknown>)[m] === 'function'),
    instrument: instrumentOllama,
  },
};

/** The SDK of a client and the provider it calls, or undefined for a client of no kind tokenmeter knows. */
function kindOf(client: object): { provider: string; instrument: Instrumenter } | undefined {
  for (const [sdk, s] of Object.entries(SDKS) as [SdkKind, Sdk][]) {
    if (!s.is(client)) continue;
    const provider = providerOfClient(sdk, client);
    if (provider !== undefined) return { provider, instrument: s.instrument };
  }
  return undefined;
}

/**
 * Meters every call of an SDK client, in place: the same client comes back. Returns false when the
 * client is of no kind tokenmeter knows (it is then left untouched).
 */
export function instrumentClient(client: object, monitor: UsageRecorder, options: InstrumentOptions = {}): boolean {
  const kind = kindOf(client);
  if (kind === undefined) return false;
  const { provider, ...context } = options;
  const keyed = client as { apiKey?: unknown; authToken?: unknown };
  kind.instrument(client, {
    monitor,
    provider: provider ?? kind.provider,
    // Read at each call: openai resolves a key function (`apiKey: async () => ...`) per request
    // into `client.apiKey`. @anthropic-ai/sdk may hold a Bearer `authToken` instead.
    get apiKey() {
      return keyOf(keyed.apiKey) ?? keyOf(keyed.authToken);
    },
    context: Object.keys(context).length > 0 ? context : undefined,
  });
  return true;
}

function keyOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
