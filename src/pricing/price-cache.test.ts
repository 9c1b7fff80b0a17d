import { describe, expect, it } from 'vitest';
import { PriceBook } from './price-book.ts';
import { PriceCache } from './price-cache.ts';

describe('PriceCache', () => {
  it("keeps each provider and model's price, and looks it up again once the book changes", () => {
    const book = new PriceBook({ prices: { 'my-model': { input: 1, output: 2 } } });
    const first: string[] = [];
    const cache = new PriceCache(book, (provider, model) => first.push(`${provider}/${model}`));
    const now = Date.now();
    const a = cache.get('openai', 'my-model', now);
    expect(a?.input).toBeDefined();
    // Several models, more than the recent entries, come back from the cache as they were.
    for (const m of ['gpt-4o', 'gpt-4o-mini', 'o3', 'gpt-4.1', 'my-model']) cache.get('openai', m, now);
    expect(cache.get('openai', 'my-model', now)).toBe(a);
    expect(cache.get('azure_openai', 'my-model', now)).not.toBe(a);
    expect(first.filter((k) => k === 'openai/my-model')).toHaveLength(1);
    // A price set since is used from the next call on.
    book.setPrice('my-model', { input: 5, output: 6 });
    const b = cache.get('openai', 'my-model', now);
    expect(b).not.toBe(a);
    expect(b?.input).not.toEqual(a?.input);
    expect(cache.get('openai', 'unknown-model-xyz', now)).toBeNull();
  });
});
