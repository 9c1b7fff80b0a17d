import { afterEach, describe, expect, it, vi } from 'vitest';
import { createStderrLogger, logLevelFromEnv, MIN_REDACTED_KEY_LENGTH, OnceLogger, redactSecrets, SecretKeys } from './logger.ts';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('logging', () => {
  it('takes its level from TOKENMETER_LOG, defaulting to warn', () => {
    expect(logLevelFromEnv({ TOKENMETER_LOG: 'DEBUG' })).toBe('debug');
    expect(logLevelFromEnv({ TOKENMETER_LOG: 'error' })).toBe('error');
    expect(logLevelFromEnv({ TOKENMETER_LOG: 'loud' })).toBe('warn');
    expect(logLevelFromEnv({})).toBe('warn');
  });

  it('writes to stderr at or above its level only', () => {
    const lines: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
    const log = createStderrLogger('warn');
    log.info('hidden');
    log.warn('shown');
    log.error('also shown');
    expect(lines).toEqual(['tokenmeter warn: shown\n', 'tokenmeter error: also shown\n']);
  });

  it('says a repeated warning once', () => {
    const seen: string[] = [];
    const once = new OnceLogger({ debug() {}, info() {}, warn: (m) => seen.push(m), error: (m) => seen.push(m) });
    for (let i = 0; i < 5; i++) once.warn('k', 'same');
    once.warn('other', 'different');
    expect(seen).toEqual(['same', 'different']);
  });

  it('redacts the key shapes of the providers it meters', () => {
    for (const key of [
      'sk-proj-abcDEF123456789',
      'sk-ant-api03-abcdef123456',
      'AIzaSyA1234567890abcdefghijklmn',
      'gsk_abcdefghij12345',
      'xai-abcdefghij12345',
      'AKIAABCDEFGHIJKLMNOP',
    ]) {
      const text = redactSecrets(`bad key ${key} given`);
      expect(text).toBe('bad key [redacted] given');
    }
    expect(redactSecrets('Authorization: Bearer abc.def-ghi_jkl')).toBe('Authorization: Bearer [redacted]');
    expect(redactSecrets('model gpt-4o not found')).toBe('model gpt-4o not found');
    // Voyage AI, Hugging Face; Basic credentials; keys given by name.
    expect(redactSecrets('key pa-abcdefghijklmnopqrstuvwxyz0123 hf_abcdefghijklmnopqrstuvwxyz')).toBe('key [redacted] [redacted]');
    expect(redactSecrets('Authorization: Basic dXNlcjpwYXNzd29yZA==')).toBe('Authorization: Basic [redacted]');
    expect(redactSecrets('GET /v1?api_key=abcdefgh12345678&x=1 {"apiKey": "abcdefgh12345678"}')).toBe(
      'GET /v1?api_key=[redacted]&x=1 {"apiKey": "[redacted]"}',
    );
  });

  it('redacts a given key of any shape, and its encodings', () => {
    const key = 'zz9-plain/secret+0123456789"abc';
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    for (const form of [
      key,
      encodeURIComponent(key),
      encodeURIComponent(key).replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()),
      JSON.stringify(key).slice(1, -1),
      JSON.stringify(JSON.stringify(key).slice(1, -1)).slice(1, -1),
      b64(key),
      Buffer.from(key).toString('base64url'),
    ]) {
      expect(redactSecrets(`bad key <${form}>`, key)).toBe('bad key <[redacted]>');
    }
    // In base64 after any prefix (a Basic header's `user:key`), nothing of the key's own bytes is left.
    for (const user of ['u', 'us', 'api', 'user']) {
      const text = redactSecrets(b64(`${user}:${key}`), key);
      expect(text).toContain('[redacted]');
      const left = text.replace('[redacted]', '');
      expect(left.length).toBeLessThanOrEqual(8);
    }
  });

  it("takes a key's characters literally, and leaves keys too short to find alone", () => {
    const key = 'a.b*c+d?(e)|[f]{2}$^\\';
    expect(redactSecrets(`x ${key} y`, key)).toBe('x [redacted] y');
    expect(redactSecrets('x aXbbbcdde y', key)).toBe('x aXbbbcdde y');
    expect(MIN_REDACTED_KEY_LENGTH).toBe(8);
    expect(redactSecrets('the key abc is wrong, abcdef', 'abc')).toBe('the key abc is wrong, abcdef');
  });

  it("writes a monitor's log lines without the keys it has seen", () => {
    const lines: string[] = [];
    const keys = new SecretKeys();
    const log = keys.logger({
      debug: (m) => lines.push(m),
      info: (m) => lines.push(m),
      warn: (m) => lines.push(m),
      error: (m) => lines.push(m),
    });
    keys.add('zz9-plain-secret-0123456789abcdef');
    log.error('internal error: upstream said zz9-plain-secret-0123456789abcdef');
    log.warn('sent as zz9-plain-secret-0123456789abcdef%20');
    expect(lines).toEqual(['internal error: upstream said [redacted]', 'sent as [redacted]%20']);
  });
});
