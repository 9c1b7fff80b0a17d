import type { PriceKey } from '../usage-fields.ts';
import type { ResolvedPrice } from './types.ts';

/**
 * The price keys whose per-token rate a ResolvedPrice keeps under another name (genai-prices'
 * words for them); every other per-token price key is its rate's own name (`outputImage`), so a
 * count priced in the table of record fields (usage-fields.ts) has its rate with no line here.
 */
const RENAMED = { cachedInput: 'cacheRead', cachedAudio: 'cacheAudioRead' } as const;

/** The price keys kept per unit rather than per token (search units: `perSearchUnit`). */
export type UnitPriceKey = 'searchUnit';

/** The price keys of a per-token rate. */
export type RatePriceKey = Exclude<PriceKey, UnitPriceKey>;

/** The ResolvedPrice field that holds a per-token price key's rate. */
export type RateName = Exclude<RatePriceKey, keyof typeof RENAMED> | (typeof RENAMED)[keyof typeof RENAMED];

/** The name of a price key's rate in a ResolvedPrice. */
export function rateName(key: RatePriceKey): RateName & keyof ResolvedPrice {
  return (RENAMED as Partial<Record<RatePriceKey, RateName>>)[key] ?? (key as RateName);
}
