import { describe, expect, it } from 'vitest';
import { configThresholds } from './config-budgets.ts';
import { parseConfig } from './config-schema.ts';
import { ValidationError } from './errors.ts';

function errorOf(raw: unknown): ValidationError {
  try {
    parseConfig(raw);
  } catch (e) {
    if (e instanceof ValidationError) return e;
    throw e;
  }
  throw new Error('expected a ValidationError');
}

// The "Configuration File Format" of the Graphiti monitor's API reference (shared/seeds/001), the
// only config file the earlier tools document, without its `alerts` (see below).
const seedLimits = {
  subscription_limits: {
    anthropic: { max_plan_tokens: 5000000, billing_cycle: 'monthly' },
    openai: { prepaid_credits: 100, monthly_limit: 0 },
    gemini: { free_tier_tokens: 1000000, paid_tier_tokens: 0 },
  },
  api_keys: {},
};

describe('config.json keys', () => {
  it('accepts every key of the seed’s documented config file', () => {
    expect(parseConfig(seedLimits).subscription_limits?.anthropic?.max_plan_tokens).toBe(5000000);
  });

  it('never ignores the seed’s alert percentages: they are read, or refused naming the key', () => {
    const raw = { ...seedLimits, alerts: { warn_at_percentage: 50, critical_at_percentage: 90 } };
    let read: ReturnType<typeof configThresholds> | undefined;
    let error: unknown;
    try {
      read = configThresholds(parseConfig(raw));
    } catch (e) {
      error = e;
    }
    if (read !== undefined) expect(read).toEqual({ warning: 0.5, critical: 0.9 });
    else {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).message).toMatch(
        /alerts\.warn_at_percentage in config\.json is not read yet; write alerts\.warning_threshold/,
      );
    }
  });

  it('refuses an unknown key anywhere, naming it and the key meant', () => {
    const cases: [unknown, string, string][] = [
      [{ subscription_limit: {} }, 'config.json subscription_limit', 'did you mean subscription_limits?'],
      [{ Pricing: {} }, 'config.json Pricing', 'did you mean pricing?'],
      [{ alerts: { warningThreshold: 0.7 } }, 'config.json alerts.warningThreshold', 'did you mean warning_threshold?'],
      [
        { subscription_limits: { openai: { monthly_limt: 5 } } },
        'config.json subscription_limits.openai.monthly_limt',
        'did you mean monthly_limit?',
      ],
      [{ budgets: [{ scope: 'user', limit_usd: 1, enforced: true }] }, 'config.json budgets[0].enforced', 'did you mean enforce?'],
      [{ pricing: { m: { cached: 1 } } }, 'config.json pricing.m.cached', 'Unknown key pricing.m.cached in config.json'],
      [{ colour: 'red' }, 'config.json colour', 'Unknown key colour in config.json'],
    ];
    for (const [raw, field, said] of cases) {
      const e = errorOf(raw);
      expect(e.field).toBe(field);
      expect(e.message).toContain(said);
    }
  });

  it('refuses API keys in api_keys, saying tokenmeter keeps none', () => {
    const e = errorOf({ api_keys: { openai: 'sk-proj-secret' } });
    expect(e.field).toBe('config.json api_keys.openai');
    expect(e.message).toContain('tokenmeter keeps no API keys');
    // The key listed there is never echoed.
    expect(e.message).not.toContain('sk-proj-secret');
    expect(JSON.stringify(e)).not.toContain('sk-proj-secret');
  });
});
