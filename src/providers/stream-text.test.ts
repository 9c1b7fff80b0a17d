import { describe, expect, it } from 'vitest';
import { parseStreamText } from './stream-text.ts';

describe('parseStreamText', () => {
  it('reads SSE with LF or CRLF framing, skipping [DONE], comments and event names', () => {
    const lf = 'event: message_start\ndata: {"a":1}\n\n: keep-alive\n\ndata: {"b":2}\n\ndata: [DONE]\n\n';
    expect(parseStreamText(lf)).toEqual([{ a: 1 }, { b: 2 }]);
    expect(parseStreamText(lf.replace(/\n/g, '\r\n'))).toEqual([{ a: 1 }, { b: 2 }]);
  });
  it('joins multi-line data fields of one event', () => {
    expect(parseStreamText('data: {"a":\ndata: 1}\n\n')).toEqual([{ a: 1 }]);
  });
  it('reads NDJSON', () => {
    expect(parseStreamText('{"a":1}\n{"b":2}\r\n\n')).toEqual([{ a: 1 }, { b: 2 }]);
  });
  it('keeps going past a broken line', () => {
    expect(parseStreamText('{"a":1}\n{oops\n{"b":2}')).toEqual([{ a: 1 }, { b: 2 }]);
  });
});
