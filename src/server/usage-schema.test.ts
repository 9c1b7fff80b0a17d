import { describe, expect, it } from 'vitest';
import { isValidationError } from '../errors.ts';
import { USAGE_INPUT_KEYS, type UsageInput, validateUsage } from '../usage.ts';
import { restUsage, SNAKE_USAGE_NAMES } from './rest-names.ts';
import { USAGE_FIELDS, usageBodySchema, usageRecordSchema } from './usage-schema.ts';

/** What `POST /v1/usage` does with one record: names mapped, then the hand-written check. */
function serverTakes(item: unknown): boolean {
  try {
    validateUsage(restUsage(item).usage as UsageInput);
    return true;
  } catch (e) {
    if (isValidationError(e)) return false;
    throw e;
  }
}

// Values of every JSON type around each field's limits.
const SAMPLES: unknown[] = [
  null,
  '',
  'x',
  'x'.repeat(256),
  'x'.repeat(257),
  '2026-05-01T10:00:00Z',
  '2201-01-01T00:00:00Z',
  'not a time',
  'llm',
  'embedding',
  'chat',
  -1,
  0,
  1,
  1.5,
  100_000,
  100_001,
  100_000_000,
  100_000_001,
  86_400_000,
  86_400_001,
  1_767_225_600_000,
  8_000_000_000_000,
  true,
  false,
  [],
  {},
  { doc: 'a.pdf', page: 3 },
  { big: 'x'.repeat(9000) },
];

/** The whole a part needs to be checked on its own (a part above an unknown whole is refused). */
const WHOLES: Partial<Record<string, Record<string, number>>> = {
  cacheWrite1hTokens: { cacheWriteTokens: 100_000_000 },
  cachedAudioTokens: { cachedInputTokens: 100_000_000, inputAudioTokens: 100_000_000 },
};

describe('the OpenAPI schema of a usage record', () => {
  it('describes every field the REST API takes, in both spellings', () => {
    const names = new Set(Object.keys(usageRecordSchema.shape));
    expect(new Set(Object.keys(USAGE_FIELDS))).toEqual(USAGE_INPUT_KEYS);
    for (const k of USAGE_INPUT_KEYS) expect(names.has(k), k).toBe(true);
    for (const snake of SNAKE_USAGE_NAMES.keys()) expect(names.has(snake), snake).toBe(true);
    expect(names.size).toBe(USAGE_INPUT_KEYS.size + SNAKE_USAGE_NAMES.size);
  });

  it('gives the same verdict as the server on every field and value', () => {
    const disagree: string[] = [];
    const snakeOf = new Map([...SNAKE_USAGE_NAMES].map(([s, f]) => [f, s]));
    for (const field of USAGE_INPUT_KEYS) {
      for (const name of [field, snakeOf.get(field)]) {
        if (name === undefined) continue;
        for (const value of SAMPLES) {
          const item = { provider: 'openai', model: 'gpt-4o', ...WHOLES[field], [name]: value };
          const server = serverTakes(item);
          const schema = usageRecordSchema.safeParse(item).success;
          if (server !== schema) disagree.push(`${name}=${JSON.stringify(value)?.slice(0, 40)}: server ${server}, schema ${schema}`);
        }
      }
    }
    expect(disagree).toEqual([]);
  });

  it('refuses what the server refuses beyond single fields: unknown keys, a missing provider or model, both spellings, a bad batch', () => {
    const cases: unknown[] = [
      { provider: 'openai', model: 'gpt-4o', prompt_tokens: 3 },
      { model: 'gpt-4o' },
      { provider: 'openai' },
      { provider: 'openai', model: 'gpt-4o', inputTokens: 1, input_tokens: 1 },
    ];
    for (const c of cases) {
      expect(serverTakes(c), JSON.stringify(c)).toBe(false);
      expect(usageRecordSchema.safeParse(c).success, JSON.stringify(c)).toBe(false);
    }
    expect(usageBodySchema.safeParse([{ provider: 'openai', model: 'gpt-4o', input_tokens: 5 }]).success).toBe(true);
    expect(usageBodySchema.safeParse([{ provider: 'openai', model: 'gpt-4o' }, { provider: 'openai' }]).success).toBe(false);
  });
});
