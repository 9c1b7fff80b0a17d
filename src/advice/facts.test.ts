import { describe, expect, it } from 'vitest';
import { cachingFact, cheaperTiers, DISCOUNT_MODES } from './facts.ts';

describe('provider facts', () => {
  it.each([
    ['openai', 'gpt-4o-2024-08-06', 1024],
    ['azure_openai', 'gpt-4.1', 1024],
    ['anthropic', 'claude-sonnet-4-20250514', 1024],
    ['anthropic', 'claude-opus-4-5-20251101', 4096],
    ['anthropic', 'claude-haiku-4-5', 4096],
    ['anthropic', 'claude-3-5-haiku-latest', 2048],
    ['anthropic', 'claude-next-thing', 4096],
    ['aws_bedrock', 'us.anthropic.claude-sonnet-4-20250514-v1:0', 1024],
    ['gemini', 'gemini-2.5-flash', 1024],
    ['gemini', 'gemini-2.5-flash-lite', 2048],
    ['gemini', 'gemini-2.5-pro', 2048],
    ['vertex_ai', 'claude-sonnet-4@20250514', 1024],
  ])('caching minimum of %s %s is %d tokens', (provider, model, min) => {
    expect(cachingFact(provider, model)?.minTokens).toBe(min);
  });

  it('knows no caching minimum for a provider it has no page for', () => {
    expect(cachingFact('mistral', 'mistral-large-latest')).toBeNull();
    expect(cachingFact('ollama', 'llama3')).toBeNull();
  });

  it('cheaper tiers of a family, next one first; none for the cheapest or an unknown family', () => {
    expect(cheaperTiers('openai', 'gpt-4o-2024-08-06')).toEqual(['gpt-4o-mini']);
    expect(cheaperTiers('openai', 'gpt-4o-mini-2024-07-18')).toEqual([]);
    expect(cheaperTiers('azure_openai', 'gpt-4.1')).toEqual(['gpt-4.1-mini', 'gpt-4.1-nano']);
    expect(cheaperTiers('anthropic', 'claude-opus-4-1-20250805')).toEqual(['claude-sonnet-4-5', 'claude-haiku-4-5']);
    // claude-opus-4-1 is not a dated claude-opus-4.
    expect(cheaperTiers('anthropic', 'claude-opus-4-20250514')).toEqual(['claude-sonnet-4', 'claude-3-5-haiku']);
    expect(cheaperTiers('gemini', 'gemini-2.5-pro')).toEqual(['gemini-2.5-flash', 'gemini-2.5-flash-lite']);
    expect(cheaperTiers('mistral', 'mistral-large-latest')).toEqual([]);
  });

  it('every discount names its source page', () => {
    for (const [provider, modes] of Object.entries(DISCOUNT_MODES))
      for (const m of modes) {
        expect(m.source, provider).toMatch(/^https:\/\//);
        expect(m.discount, provider).toBeGreaterThan(0);
        expect(m.discount, provider).toBeLessThan(1);
      }
  });
});
