import { describe, expect, it } from 'vitest';
import { depthOver, excerpt, isJsonType, MAX_EXCERPT_LENGTH } from './http.ts';

describe('depthOver', () => {
  it.each([
    ['{}', 1, false],
    ['[[]]', 1, true],
    ['[[]]', 2, false],
    ['{"a":[{"b":1}]}', 3, false],
    ['{"a":[{"b":[1]}]}', 3, true],
    ['[1,"[[[[",{"a":"{{{{"}]', 2, false],
    ['"[[[["', 0, false],
  ])('%s deeper than %i: %s', (text, max, over) => {
    expect(depthOver(JSON.parse(text), max)).toBe(over);
  });

  it('finds a million levels without recursing, after JSON.parse took them without recursing either', () => {
    // The depth check runs after JSON.parse: that relies on V8's parser being iterative (since v7.6).
    const arrays = JSON.parse(`${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}`);
    expect(depthOver(arrays, 32)).toBe(true);
    const objects = JSON.parse(`${'{"a":'.repeat(200_000)}1${'}'.repeat(200_000)}`);
    expect(depthOver(objects, 32)).toBe(true);
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
