import type { Provider } from '@pydantic/genai-prices';
import type { PriceKey, PricesByKey } from '../usage-fields.ts';
import type { RateName } from './rate-names.ts';

/** A per-token rate in picodollars, with long-context tiers where the model has them. */
export interface Rate {
  /** Picodollars per token below the first tier. */
  base: number;
  /**
   * Tiers, ascending: once a call's input tokens exceed `start`, every token of the call is billed
   * at `pico` (Gemini's and Anthropic's long-context prices work this way).
   */
  tiers: readonly { start: number; pico: number }[];
}

/** Where a price came from. */
export type PriceSource = 'override' | 'config' | 'genai-prices' | 'rerank-table' | 'local';

/**
 * A model's price as tokenmeter applies it: resolved once, kept until `expiresAt`. It has a rate
 * for each per-token price key of the table of record fields (rate-names.ts names them), those
 * below and any count priced there since.
 */
export interface ResolvedPrice extends Partial<Record<RateName, Rate>> {
  provider: string;
  model: string;
  /** The name the price source knows the model by. */
  matchedModel: string;
  source: PriceSource;
  /** Human-readable origin: the data set and entry, and a link where there is one. */
  sourceDetail: string;
  input?: Rate;
  output?: Rate;
  /** Cache reads; when absent, cached tokens cost the input rate. */
  cacheRead?: Rate;
  /** Cache writes; when absent, cache-write tokens cost the input rate. */
  cacheWrite?: Rate;
  /** One-hour cache writes (Anthropic); when absent, they cost the cache-write rate. */
  cacheWrite1h?: Rate;
  /** Audio input tokens (audio models: gpt-audio, gpt-realtime, Gemini); when absent, they cost the input rate. */
  inputAudio?: Rate;
  /** Cached audio input tokens; when absent, see costPico for the rate they take instead. */
  cacheAudioRead?: Rate;
  /** Audio output tokens (spoken output); when absent, they cost the output rate. */
  outputAudio?: Rate;
  /** Image output tokens (Gemini's image models: $30/M against $2.50/M text); when absent, they cost the output rate. */
  outputImage?: Rate;
  /** Picodollars per search unit. */
  perSearchUnit?: number;
  /** Picodollars per web search the provider ran for the call (Anthropic's web search tool). */
  perWebSearch?: number;
  /** Epoch ms after which the price must be looked up again (a dated price change). */
  expiresAt: number;
  /** For prices from genai-prices: which data (bundled or refreshed) and of which date. */
  data?: PriceDataOrigin;
}

/** Which genai-prices data a price came from, and what its age counts from. */
export interface PriceDataOrigin {
  /** `bundled`: the data inside the installed @pydantic/genai-prices; `refreshed`: a file `tokenmeter pricing --refresh` fetched. */
  kind: 'bundled' | 'refreshed';
  /** The installed @pydantic/genai-prices version (its code reads the data; bundled data is its own). */
  packageVersion: string;
  /** Refreshed data: the URL or file it was fetched from (credentials in a URL left out). */
  source?: string;
  /** Refreshed data: the file in the storage dir that keeps it. */
  file?: string;
  /** Refreshed data: when it was fetched, ISO 8601. */
  fetchedAt?: string;
  /** Refreshed data: the source's own date (HTTP Last-Modified, a file's modification time), when it gave one. */
  sourceDate?: string;
  /**
   * The date the data's age counts from (`sourceDate`, else `fetchedAt`), ISO 8601; null when not
   * known: genai-prices does not date the data it bundles.
   */
  asOf: string | null;
}

/** genai-prices provider data, checked, and where it came from. */
export interface PriceData {
  providers: readonly Provider[];
  origin: PriceDataOrigin;
}

/**
 * A price given by the user: USD per 1M tokens, and USD per search unit. Its keys are the table of
 * record fields' price keys (usage-fields.ts): those below, and any count priced there since.
 */
export interface PriceOverride extends PricesByKey {
  /** USD per 1M input tokens. */
  input?: number;
  /** USD per 1M output tokens (reasoning included). */
  output?: number;
  /** USD per 1M cached input tokens. @default the input price */
  cachedInput?: number;
  /** USD per 1M cache-write tokens. @default the input price */
  cacheWrite?: number;
  /** USD per 1M tokens cached for one hour (Anthropic). @default the cache-write price */
  cacheWrite1h?: number;
  /** USD per 1M audio input tokens (audio models). @default the input price */
  inputAudio?: number;
  /** USD per 1M cached audio input tokens. @default the cached input price, else the audio input price */
  cachedAudio?: number;
  /** USD per 1M audio output tokens. @default the output price */
  outputAudio?: number;
  /** USD per 1M image output tokens. @default the output price */
  outputImage?: number;
  /** USD per search unit (rerank). */
  searchUnit?: number;
}

// The price keys are the table of record fields' (usage-fields.ts): one missing here, or here and not there, fails to compile.
const samePriceKeys: [Exclude<PriceKey, keyof PriceOverride>, Exclude<keyof PriceOverride, PriceKey>] extends [never, never]
  ? true
  : never = true;
void samePriceKeys;
