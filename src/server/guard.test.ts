import { describe, expect, it } from 'vitest';
import { bearerCheck, checkExposure, isLoopbackHost } from './guard.ts';

describe('isLoopbackHost', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['localhost', true],
    ['LOCALHOST', true],
    ['::1', true],
    ['[::1]', true],
    ['0:0:0:0:0:0:0:1', true],
    ['::ffff:127.0.0.1', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.0.0.5', false],
    ['128.0.0.1', false],
    ['::ffff:10.0.0.1', false],
    ['example.com', false],
    ['localhost.example.com', false],
    ['', false],
  ])('%s: %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });
});

describe('checkExposure', () => {
  it('refuses a non-loopback host without a token unless open is meant', () => {
    expect(() => checkExposure('0.0.0.0', undefined, false)).toThrow(/Invalid host: "0.0.0.0".*--allow-open/);
    expect(() => checkExposure('0.0.0.0', 't', false)).not.toThrow();
    expect(() => checkExposure('0.0.0.0', undefined, true)).not.toThrow();
    expect(() => checkExposure('127.0.0.1', undefined, false)).not.toThrow();
  });
});

describe('bearerCheck', () => {
  it('accepts the token and nothing else, whatever the length', () => {
    const ok = bearerCheck('s3cret-token');
    expect(ok('Bearer s3cret-token')).toBe(true);
    for (const h of [
      undefined,
      '',
      'Bearer ',
      'Bearer s3cret-tokeN',
      'Bearer s3cret-token ',
      'Bearer s3cret',
      'bearer s3cret-token',
      's3cret-token',
    ]) {
      expect(ok(h), String(h)).toBe(false);
    }
  });
});
