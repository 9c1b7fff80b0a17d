import type { PriceBook } from './price-book.ts';
import type { ResolvedPrice } from './types.ts';

/** A price kept for one provider and model: valid for the book's version, and until it expires. */
interface Entry {
  readonly provider: string;
  readonly model: string;
  price: ResolvedPrice | null;
  version: number;
  expiresAt: number;
}

/** Models kept before the cache starts again (model names are labels callers choose: bounded, like every label). */
export const MAX_CACHED_PRICES = 10_000;

/**
 * The price of each provider and model a record names, for the recording path: looked up in the
 * {@link PriceBook} once, then kept until the book changes (its version) or the price expires. The
 * four entries used last are tried first (calls mostly repeat a few models), then a map per
 * provider: no key is built per call (a concatenated key costs an allocation and a fresh hash).
 */
export class PriceCache {
  readonly #book: PriceBook;
  readonly #byProvider = new Map<string, Map<string, Entry>>();
  #size = 0;
  /** The entries used last, newest first: an app calls a few models over and over, found here without a map lookup. */
  readonly #recent: (Entry | undefined)[] = [undefined, undefined, undefined, undefined];
  /** Told the first time a model's price is found (a debug line). */
  readonly #onFirst: ((provider: string, model: string, price: ResolvedPrice) => void) | undefined;

  constructor(book: PriceBook, onFirst?: (provider: string, model: string, price: ResolvedPrice) => void) {
    this.#book = book;
    this.#onFirst = onFirst;
  }

  /** The price of `model` of `provider` at `at` (epoch ms), or null when no source knows it. */
  get(provider: string, model: string, at: number): ResolvedPrice | null {
    const recent = this.#recent;
    let e: Entry | undefined;
    for (let i = 0; i < 4; i++) {
      const r = recent[i];
      if (r === undefined) break;
      if (r.model === model && r.provider === provider) {
        e = r;
        break;
      }
    }
    if (e === undefined) {
      e = this.#byProvider.get(provider)?.get(model);
      if (e !== undefined) this.#use(e);
    }
    if (e !== undefined && e.version === this.#book.version && at < e.expiresAt) return e.price;
    return this.#resolve(provider, model, at, e);
  }

  /** Puts `e` first among the recent entries. */
  #use(e: Entry): void {
    const recent = this.#recent;
    recent[3] = recent[2];
    recent[2] = recent[1];
    recent[1] = recent[0];
    recent[0] = e;
  }

  #resolve(provider: string, model: string, at: number, stale: Entry | undefined): ResolvedPrice | null {
    const price = this.#book.resolve(provider, model, at);
    const expiresAt = price === null ? Number.POSITIVE_INFINITY : price.expiresAt;
    if (stale !== undefined) {
      stale.price = price;
      stale.version = this.#book.version;
      stale.expiresAt = expiresAt;
      return price;
    }
    if (price !== null) this.#onFirst?.(provider, model, price);
    if (this.#size >= MAX_CACHED_PRICES) {
      this.#byProvider.clear();
      this.#recent.fill(undefined);
      this.#size = 0;
    }
    const e: Entry = { provider, model, price, version: this.#book.version, expiresAt };
    let models = this.#byProvider.get(provider);
    if (models === undefined) {
      models = new Map();
      this.#byProvider.set(provider, models);
    }
    models.set(model, e);
    this.#size++;
    this.#use(e);
    return price;
  }
}
