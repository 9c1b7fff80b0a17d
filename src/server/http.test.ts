import { describe, expect, it } from 'vitest';
import { excerpt, isJsonType, jsonDepthOver, MAX_EXCERPT_LENGTH } from './http.ts';

const bytes = (s: string) => Buffer.from(s);

describe('jsonDepthOver', () => {
  it.each([
    ['{}', 1, false],
    ['[[]]', 1, true],
    ['[[]]', 2, false],
    ['{"a":[{"b":1}]}', 3, false],
    ['{"a":[{"b":[1]}]}', 3, true],
    // Brackets inside strings, escaped quotes and backslashes do not count.
    ['{"a":"[[[[\\"[[[["}', 1, false],
    ['{"a":"\\\\"}', 1, false],
    ['["\\\\",[[]]]', 2, true],
    ['"ü[[[[ü"', 0, false],
  ])('%s deeper than %i: %s', (text, max, over) => {
    expect(jsonDepthOver(bytes(text), max)).toBe(over);
  });

  it('stops a body nested a million deep in one pass', () => {
    expect(jsonDepthOver(bytes('['.repeat(1_000_000)), 32)).toBe(true);
  });
});

describe('excerpt', () => {
  it('keeps scalars, cuts strings and writes the start of arrays and objects as flat text', () => {
    expect(excerpt(3)).toBe(3);
    expect(excerpt(true)).toBe(true);
    expect(excerpt(null)).toBe(null);
    expect(excerpt(undefined)).toBe(null);
    expect(excerpt(Number.NaN)).toBe('NaN');
    expect(excerpt('x'.repeat(500))).toBe(`${'x'.repeat(MAX_EXCERPT_LENGTH)}…`);
    expect(excerpt({ a: [1, 'b', null], c: { d: true } })).toBe('{"a":[1,"b",null],"c":{"d":true}}');
    expect(excerpt([])).toBe('[]');
  });

  it('walks no further than the excerpt, however deep or wide the value', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(excerpt(deep)).toBe(`${'['.repeat(MAX_EXCERPT_LENGTH)}…`);
    const wide = excerpt(Array.from({ length: 1_000_000 }, (_, i) => i)) as string;
    expect(wide.length).toBe(MAX_EXCERPT_LENGTH + 1);
    expect(wide.startsWith('[0,1,2,3')).toBe(true);
  });
});

describe('isJsonType', () => {
  it.each([
    ['application/json', true],
    ['application/json; charset=utf-8', true],
    ['Application/JSON;charset="UTF-8"', true],
    [undefined, false],
    ['', false],
    ['text/plain', false],
    ['application/json; charset=latin1', false],
    ['application/json-patch+json', false],
    ['application/x-www-form-urlencoded', false],
  ])('%s: %s', (type, ok) => {
    expect(isJsonType(type)).toBe(ok);
  });
});
