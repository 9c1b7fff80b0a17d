import { afterEach, describe, expect, it, vi } from 'vitest';
import { createStderrLogger, logLevelFromEnv, OnceLogger, redactSecrets } from './logger.ts';

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
  });
});
