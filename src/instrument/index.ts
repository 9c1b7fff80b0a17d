import type { CallContext } from '../context.ts';
import { instrumentAnthropic } from './anthropic.ts';
import { googleProvider, instrumentGoogleGenAI } from './google.ts';
import { instrumentOpenAI, openaiProvider } from './openai.ts';
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
  const apiKey = (client as { apiKey?: unknown }).apiKey;
  kind.instrument(client, {
    monitor,
    provider: provider ?? kind.provider,
    apiKey: typeof apiKey === 'string' && apiKey !== '' ? apiKey : undefined,
    context: Object.keys(context).length > 0 ? context : undefined,
  });
  return true;
}
