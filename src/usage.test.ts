import { describe, expect, it } from 'vitest';
import { isValidationError, ValidationError } from './errors.ts';
import { knownFieldsPresent, MAX_ERROR_MESSAGE_LENGTH, USAGE_INPUT_KEYS, type UsageInput, validateUsage } from './usage.ts';

const keyId = (k: string) => `id(${k.length})`;
const base: UsageInput = { provider: 'openai', model: 'gpt-4o', inputTokens: 10, outputTokens: 5 };

function errorOf(input: unknown): ValidationError {
  try {
    validateUsage(input as UsageInput, keyId);
  } catch (e) {
    if (e instanceof ValidationError) return e;
    throw e;
  }
  throw new Error('expected a ValidationError');
}

describe('validateUsage rejects bad input, naming the field and the value', () => {
  const cases: [string, Partial<UsageInput> | Record<string, unknown>, string, string][] = [
    ['negative', { inputTokens: -1 }, 'inputTokens', '-1'],
    ['fractional', { outputTokens: 1.5 }, 'outputTokens', '1.5'],
    ['NaN', { cachedInputTokens: Number.NaN }, 'cachedInputTokens', 'NaN'],
    ['infinite', { reasoningTokens: Number.POSITIVE_INFINITY }, 'reasoningTokens', 'Infinity'],
    ['absurd', { inputTokens: 100_000_001 }, 'inputTokens', '100000001'],
    ['string count', { totalTokens: '12' }, 'totalTokens', '"12"'],
    ['negative search units', { searchUnits: -2 }, 'searchUnits', '-2'],
    ['missing provider', { provider: undefined }, 'provider', 'undefined'],
    ['empty model', { model: '' }, 'model', '""'],
    ['numeric provider', { provider: 42 }, 'provider', '42'],
    ['non-string user', { userId: 7 }, 'userId', '7'],
    ['object thread', { threadId: { id: 1 } }, 'threadId', 'a value of type object'],
    ['array agent', { agent: ['a'] }, 'agent', 'an array'],
    ['bad service type', { serviceType: 'chat' }, 'serviceType', '"chat"'],
    ['cached above input', { inputTokens: 10, cachedInputTokens: 11 }, 'cachedInputTokens', '11'],
    ['cached plus writes above input', { inputTokens: 10, cachedInputTokens: 6, cacheWriteTokens: 5 }, 'cacheWriteTokens', '5'],
    ['one-hour writes above all writes', { inputTokens: 10, cacheWriteTokens: 4, cacheWrite1hTokens: 5 }, 'cacheWrite1hTokens', '5'],
    ['reasoning above output', { outputTokens: 5, reasoningTokens: 6 }, 'reasoningTokens', '6'],
    ['audio above input', { inputTokens: 10, inputAudioTokens: 11 }, 'inputAudioTokens', '11'],
    [
      'cached audio above cached',
      { inputTokens: 10, cachedInputTokens: 2, inputAudioTokens: 8, cachedAudioTokens: 3 },
      'cachedAudioTokens',
      '3',
    ],
    [
      'cached audio above audio',
      { inputTokens: 10, cachedInputTokens: 6, inputAudioTokens: 4, cachedAudioTokens: 5 },
      'cachedAudioTokens',
      '5',
    ],
    ['output audio above output', { outputTokens: 5, outputAudioTokens: 6 }, 'outputAudioTokens', '6'],
    ['fractional audio', { inputAudioTokens: 2.5 }, 'inputAudioTokens', '2.5'],
    ['negative output audio', { outputAudioTokens: -1 }, 'outputAudioTokens', '-1'],
    ['image output above output', { outputTokens: 5, outputImageTokens: 6 }, 'outputImageTokens', '6'],
    ['audio plus image output above output', { outputTokens: 10, outputAudioTokens: 6, outputImageTokens: 6 }, 'outputImageTokens', '6'],
    ['negative duration', { durationMs: -3 }, 'durationMs', '-3'],
    ['bad timestamp', { timestamp: 'yesterday' }, 'timestamp', '"yesterday"'],
    ['array metadata', { metadata: [1, 2] }, 'metadata', 'an array'],
    ['error not boolean', { error: 'yes' }, 'error', '"yes"'],
  ];
  it.each(cases)('%s', (_name, patch, field, shown) => {
    const e = errorOf({ ...base, ...patch });
    expect(e.field).toBe(field);
    expect(e.message).toContain(`Invalid ${field}: ${shown}`);
    expect(isValidationError(e)).toBe(true);
    expect(e.name).toBe('ValidationError');
  });

  it('rejects metadata over 8 KiB and says how big it was', () => {
    const e = errorOf({ ...base, metadata: { blob: 'x'.repeat(9000) } });
    expect(e.field).toBe('metadata');
    expect(e.message).toMatch(/90\d\d bytes as JSON, more than 8192/);
  });

  it('counts metadata size in UTF-8 bytes, not characters', () => {
    // 3,000 three-byte characters: under 8,192 characters but over 8,192 bytes.
    expect(errorOf({ ...base, metadata: { t: '€'.repeat(3000) } }).field).toBe('metadata');
    expect(() => validateUsage({ ...base, metadata: { t: 'x'.repeat(3000) } }, keyId)).not.toThrow();
  });

  it('rejects metadata that cannot be JSON', () => {
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    expect(errorOf({ ...base, metadata: loop }).message).toContain('cannot be written as JSON');
  });

  it('never shows a bad API key in the error', () => {
    const e = errorOf({ ...base, apiKey: { secret: 'sk-live-123456789' } as unknown as string });
    expect(e.field).toBe('apiKey');
    expect(e.message).not.toContain('sk-live');
    expect(e.value).toBeUndefined();
  });
});

describe('validateUsage normalises', () => {
  it('keeps unknown counts null and derives the total', () => {
    const u = validateUsage({ provider: 'voyage', model: 'voyage-3', serviceType: 'embedding', inputTokens: 40 }, keyId);
    expect(u).toMatchObject({ inputTokens: 40, outputTokens: null, cachedInputTokens: null, totalTokens: 40, operation: 'embeddings' });
    const none = validateUsage({ provider: 'voyage', model: 'voyage-3', serviceType: 'embedding' }, keyId);
    expect(none.totalTokens).toBeNull();
  });

  it('keeps audio counts as given, and unknown ones null', () => {
    const u = validateUsage(
      {
        ...base,
        inputTokens: 64,
        cachedInputTokens: 10,
        inputAudioTokens: 44,
        cachedAudioTokens: 10,
        outputTokens: 56,
        outputAudioTokens: 47,
      },
      keyId,
    );
    expect(u).toMatchObject({ inputAudioTokens: 44, cachedAudioTokens: 10, outputAudioTokens: 47 });
    expect(validateUsage({ ...base }, keyId)).toMatchObject({ inputAudioTokens: null, cachedAudioTokens: null, outputAudioTokens: null });
  });

  it('takes the operation default from the service type', () => {
    expect(validateUsage({ ...base }, keyId).operation).toBe('chat');
    expect(validateUsage({ ...base, serviceType: 'reranking' }, keyId).operation).toBe('rerank');
  });

  it('marks a call failed when it has an error message or type, and redacts keys in the message', () => {
    const u = validateUsage({ ...base, errorMessage: 'Incorrect API key provided: sk-proj-abcdefghijklmnop1234' }, keyId);
    expect(u.error).toBe(true);
    expect(u.errorType).toBe('error');
    expect(u.errorMessage).toBe('Incorrect API key provided: [redacted]');
    expect(validateUsage({ ...base, errorType: 'rate_limit' }, keyId)).toMatchObject({ error: true, errorType: 'rate_limit' });
    expect(validateUsage(base, keyId)).toMatchObject({ error: false, errorType: null, errorMessage: null });
  });

  it("redacts the call's own key from its message whatever its shape, before cutting the message to its length", () => {
    const apiKey = 'zz9-plain-secret-0123456789abcdef';
    const u = validateUsage({ ...base, apiKey, errorMessage: `401 Incorrect API key provided: ${apiKey}.` }, keyId);
    expect(u.errorMessage).toBe('401 Incorrect API key provided: [redacted].');
    // A key across the cut at MAX_ERROR_MESSAGE_LENGTH leaves none of itself.
    const long = validateUsage({ ...base, apiKey, errorMessage: `${'x'.repeat(MAX_ERROR_MESSAGE_LENGTH - 10)} ${apiKey}` }, keyId);
    expect(long.errorMessage).toHaveLength(MAX_ERROR_MESSAGE_LENGTH);
    expect(long.errorMessage).not.toContain('zz9-plain');
    // What a failed call's metadata copies is redacted too.
    const m = validateUsage({ ...base, apiKey, errorMessage: 'no', metadata: { url: `https://x.test/?key=${apiKey}` } }, keyId);
    expect(m.metadata).toEqual({ url: 'https://x.test/?key=[redacted]' });
  });

  it('turns the API key into its id and keeps nothing else of it', () => {
    const u = validateUsage({ ...base, apiKey: 'sk-abcdefghijklmnopqrstuvwxyz' }, keyId);
    expect(u.apiKeyId).toBe('id(29)');
    expect(JSON.stringify(u)).not.toContain('abcdefgh');
  });

  it('accepts Date, epoch and ISO timestamps', () => {
    const t = Date.UTC(2026, 0, 2, 3, 4, 5);
    expect(validateUsage({ ...base, timestamp: new Date(t) }, keyId).timestamp).toBe(t);
    expect(validateUsage({ ...base, timestamp: t }, keyId).timestamp).toBe(t);
    expect(validateUsage({ ...base, timestamp: new Date(t).toISOString() }, keyId).timestamp).toBe(t);
  });
});

describe('a cost split the caller gives', () => {
  const call = { provider: 'openai', model: 'gpt-4o', inputTokens: 10, outputTokens: 5 };

  it('is kept, and gives the cost when costUsd is left out', () => {
    const u = validateUsage({ ...call, inputCostUsd: 0.1, outputCostUsd: 0.2 });
    expect([u.inputCostUsd, u.outputCostUsd, u.costUsd]).toEqual([0.1, 0.2, 0.3]);
    expect(validateUsage({ ...call, costUsd: 0.3, inputCostUsd: 0.1, outputCostUsd: 0.2 }).costUsd).toBe(0.3);
  });

  it('comes whole (both sides) and adds up to costUsd, else a ValidationError names the field', () => {
    expect(() => validateUsage({ ...call, inputCostUsd: 0.1 })).toThrow(/outputCostUsd.*is required with inputCostUsd/);
    expect(() => validateUsage({ ...call, outputCostUsd: 0.1 })).toThrow(/inputCostUsd.*is required with outputCostUsd/);
    expect(() => validateUsage({ ...call, costUsd: 0.5, inputCostUsd: 0.1, outputCostUsd: 0.2 })).toThrow(
      /inputCostUsd.*does not add up to costUsd \(0\.5\)/,
    );
    expect(() => validateUsage({ ...call, inputCostUsd: -1, outputCostUsd: 0 })).toThrow(ValidationError);
    expect(() => validateUsage({ ...call, inputCostUsd: '0.1' as unknown as number, outputCostUsd: 0 })).toThrow(/inputCostUsd/);
  });

  it('is suggested for ASTRA’s input_cost and output_cost', () => {
    expect(() => validateUsage({ ...call, input_cost: 0.1 } as never)).toThrow(/did you mean inputCostUsd/);
  });
});

describe('metadata', () => {
  it('is copied, so a caller changing it afterwards changes nothing recorded', () => {
    const meta = { doc: 'a.pdf', page: 3, nested: { tags: ['x'] } };
    const flat = { doc: 'a.pdf', page: 3 };
    const u1 = validateUsage({ ...base, metadata: meta }, keyId);
    const u2 = validateUsage({ ...base, metadata: flat }, keyId);
    meta.nested.tags.push('y');
    flat.doc = 'b.pdf';
    expect(u1.metadata).toEqual({ doc: 'a.pdf', page: 3, nested: { tags: ['x'] } });
    expect(u2.metadata).toEqual({ doc: 'a.pdf', page: 3 });
  });
  it('accepts a flat object right at the limit and rejects one byte over', () => {
    // {"k":"…"} is 8 bytes of JSON around the value.
    expect(validateUsage({ ...base, metadata: { k: 'x'.repeat(8184) } }, keyId).metadata?.k).toHaveLength(8184);
    expect(() => validateUsage({ ...base, metadata: { k: 'x'.repeat(8185) } }, keyId)).toThrow('8193 bytes as JSON, more than 8192');
  });
});

describe('unknown keys', () => {
  it('are a ValidationError naming the key and the key meant, not silently dropped', () => {
    const e = errorOf({ ...base, inputTokens: undefined, input_tokens: 100 });
    expect(e.field).toBe('input_tokens');
    expect(e.value).toBe(100);
    expect(e.message).toBe('Unknown key input_tokens in a usage record: did you mean inputTokens?');
    expect(errorOf({ ...base, userID: 'u1' }).message).toContain('did you mean userId?');
    expect(errorOf({ ...base, outputToken: 5 }).message).toContain('did you mean outputTokens?');
    // The earlier tools' names for the same fields.
    expect(errorOf({ ...base, prompt_tokens: 5 }).message).toContain('did you mean inputTokens?');
    expect(errorOf({ ...base, agent_name: 'planner' }).message).toContain('did you mean agent?');
    expect(errorOf({ ...base, operation_type: 'chat' }).message).toContain('did you mean operation?');
    // Nothing close: the key alone.
    expect(errorOf({ ...base, colour: 'red' }).message).toBe('Unknown key colour in a usage record');
  });

  it('are found whether the known fields beside them are set or undefined (the fast path counts every field)', () => {
    const all = Object.fromEntries([...USAGE_INPUT_KEYS].map((k) => [k, 1]));
    expect(knownFieldsPresent(all as unknown as UsageInput)).toBe(USAGE_INPUT_KEYS.size);
    // Undefined fields are present keys too: a record with every field, most undefined (as
    // instrumented calls hand over), takes the fast path instead of a set lookup per key.
    const undefinedOnes = Object.fromEntries([...USAGE_INPUT_KEYS].map((k) => [k, undefined]));
    expect(knownFieldsPresent(undefinedOnes as unknown as UsageInput)).toBe(USAGE_INPUT_KEYS.size);
    // As many keys as set fields, one of them unknown: the undefined known field must not hide it.
    expect(errorOf({ ...base, userId: undefined, user: 'u1' }).field).toBe('user');
    expect(validateUsage({ ...base, userId: undefined }, keyId).userId).toBeNull();
    // An unknown key left undefined is still named.
    expect(errorOf({ ...base, userId: undefined, user: undefined }).field).toBe('user');
  });

  it('leave metadata free-form: its keys are the caller’s', () => {
    expect(validateUsage({ ...base, metadata: { input_tokens: 1, anything: 'x' } }, keyId).metadata).toEqual({
      input_tokens: 1,
      anything: 'x',
    });
  });
});
