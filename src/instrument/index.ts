import type { CallContext } from '../context.ts';
import { instrumentAnthropic } from './anthropic.ts';
import { instrumentAwsBedrock, isBedrockRuntimeClient } from './aws-bedrock.ts';
import { instrumentCohere, isCohereClient } from './cohere.ts';
import { googleProvider, instrumentGoogleGenAI } from './google.ts';
import { instrumentMistral } from './mistral.ts';
import { instrumentOllama } from './ollama.ts';
import { instrumentOpenAI, openaiProvider } from './openai.ts';
import { instrumentVoyage, isVoyageClient } from './voyage.ts';
import type { Instrumenter, UsageRecorder } from './wrap.ts';

/** Context for every call of one instrumented client, and the provider id when it cannot be told. */
export interface InstrumentOptions extends CallContext {
  /** The provider id to record; by default found from the client's class and base URL. */
  provider?: string;
}

interface Kind {
  provider: string;
  instrument: Instrumenter;
}

function className(client: object): string {
  return (client as { constructor?: { name?: string } }).constructor?.name ?? '';
}

/** What kind of SDK client this is, from its shape and class name. */
function kindOf(client: object): Kind | undefined {
  const c = client as Record<string, unknown>;
  const name = className(client);
  const chat = c.chat as { completions?: { create?: unknown } } | undefined;
  if (typeof chat?.completions?.create === 'function') {
    return { provider: name === 'Groq' ? 'groq' : openaiProvider(client), instrument: instrumentOpenAI };
  }
  const models = c.models as { generateContent?: unknown } | undefined;
  if (typeof models?.generateContent === 'function') return { provider: googleProvider(client), instrument: instrumentGoogleGenAI };
  const messages = c.messages as { create?: unknown } | undefined;
  if (typeof messages?.create === 'function') {
    const provider = name === 'AnthropicBedrock' ? 'aws_bedrock' : name === 'AnthropicVertex' ? 'vertex_ai' : 'anthropic';
    return { provider, instrument: instrumentAnthropic };
  }
  if (isBedrockRuntimeClient(client)) return { provider: 'aws_bedrock', instrument: instrumentAwsBedrock };
  if (isVoyageClient(client)) return { provider: 'voyage', instrument: instrumentVoyage };
  if (isCohereClient(client)) return { provider: 'cohere', instrument: instrumentCohere };
  // @mistralai/mistralai: `chat.complete`/`chat.stream` (not chat.completions.create, tried first).
  const mistralChat = c.chat as { complete?: unknown; stream?: unknown } | undefined;
  if (typeof mistralChat?.complete === 'function' && typeof mistralChat.stream === 'function') {
    return { provider: 'mistral', instrument: instrumentMistral };
  }
  // ollama: chat and generate are methods of the client itself; pull and ps (model management)
  // tell it from other clients with a chat() and generate() (Cohere's).
  if (['chat', 'generate', 'embed', 'pull', 'ps'].every((m) => typeof c[m] === 'function')) {
    return { provider: 'ollama', instrument: instrumentOllama };
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
