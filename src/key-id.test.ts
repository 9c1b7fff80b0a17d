import { describe, expect, it } from 'vitest';
import { apiKeyId, KeyIdCache } from './key-id.ts';

describe('apiKeyId', () => {
  it('is the last 4 characters and 8 hex characters of an HMAC', () => {
    expect(apiKeyId('sk-proj-0123456789abcdefwxyz')).toMatch(/^wxyz-[0-9a-f]{8}$/);
  });
  it('keeps two keys that end alike apart, and is stable', () => {
    const a = apiKeyId('sk-aaaaaaaaaaaaaaaaaaaa-wxyz');
    const b = apiKeyId('sk-bbbbbbbbbbbbbbbbbbbb-wxyz');
    expect(a).not.toBe(b);
    expect(a.slice(0, 4)).toBe(b.slice(0, 4));
    expect(apiKeyId('sk-aaaaaaaaaaaaaaaaaaaa-wxyz')).toBe(a);
  });
  it('depends on the secret', () => {
    expect(apiKeyId('sk-aaaaaaaaaaaaaaaaaaaa-wxyz', 'one')).not.toBe(apiKeyId('sk-aaaaaaaaaaaaaaaaaaaa-wxyz', 'two'));
  });
  it('shows no tail of a short key', () => {
    expect(apiKeyId('short-key')).toMatch(/^[0-9a-f]{8}$/);
  });
  it('caches ids without changing them', () => {
    const cache = new KeyIdCache();
    for (let i = 0; i < 600; i++) expect(cache.get(`sk-key-number-${i}-padding`)).toBe(apiKeyId(`sk-key-number-${i}-padding`));
  });
});
