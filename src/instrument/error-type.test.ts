import { describe, expect, it } from 'vitest';
import { errorTypeOf } from './error-type.ts';

/** An error as Node and undici make them: a message, a code, maybe a cause. */
function nodeError(message: string, code: string, cause?: unknown): Error {
  return Object.assign(new Error(message, { cause }), { code });
}

// SDK classes that, like openai 6 and 7's, leave `name` as 'Error'.
class APIError extends Error {}
class APIConnectionError extends APIError {}
class APIUserAbortError extends APIError {}
class RateLimitError extends APIError {
  status = 429;
}

describe('errorTypeOf', () => {
  it.each([
    ['an HTTP status', new RateLimitError('Rate limit reached'), '429'],
    [
      "undici's headers timeout, as a cause",
      new TypeError('fetch failed', { cause: nodeError('Headers Timeout Error', 'UND_ERR_HEADERS_TIMEOUT') }),
      'timeout',
    ],
    [
      "undici's body timeout, two causes down",
      new APIConnectionError('Connection error.', {
        cause: new TypeError('fetch failed', { cause: nodeError('Body Timeout Error', 'UND_ERR_BODY_TIMEOUT') }),
      }),
      'timeout',
    ],
    ['ETIMEDOUT', nodeError('connect ETIMEDOUT 10.0.0.1:443', 'ETIMEDOUT'), 'timeout'],
    [
      'a DOMException TimeoutError cause',
      new APIError('Request was aborted.', { cause: new DOMException('The operation was aborted due to timeout', 'TimeoutError') }),
      'timeout',
    ],
    [
      'a DOMException AbortError cause',
      new APIError('Request was aborted.', { cause: new DOMException('This operation was aborted', 'AbortError') }),
      'abort',
    ],
    ["undici's aborted request", nodeError('Request aborted', 'UND_ERR_ABORTED'), 'abort'],
    ['a connection reset', new TypeError('fetch failed', { cause: nodeError('read ECONNRESET', 'ECONNRESET') }), 'connection'],
    ['a host not found', nodeError('getaddrinfo ENOTFOUND api.example.com', 'ENOTFOUND'), 'connection'],
    ["an SDK's connection error class, its name left 'Error'", new APIConnectionError('Connection error.'), 'connection'],
    ["any other SDK error: its class name, not 'Error'", new APIError('something else'), 'APIError'],
    ['a plain Error', new Error('boom'), 'Error'],
    ['a TypeError', new TypeError('x is not a function'), 'TypeError'],
    ['a thrown string', 'boom', 'error'],
  ])('%s', (_what, error, type) => {
    expect(errorTypeOf(error)).toBe(type);
  });

  it("counts an abort by the caller's AbortSignal.timeout() as a timeout", () => {
    const abort = new APIUserAbortError('Request was aborted.');
    const timedOut = AbortSignal.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
    expect(errorTypeOf(abort)).toBe('abort');
    expect(errorTypeOf(abort, timedOut)).toBe('timeout');
    expect(errorTypeOf(abort, AbortSignal.abort())).toBe('abort');
  });
});
