import { describe, expect, it } from 'vitest';
import { type CallObserver, observeCall } from './api-promise.ts';

/**
 * The shape of a Stainless APIPromise (openai, @anthropic-ai/sdk, groq-sdk: core/api-promise.ts),
 * written out small: a promise that parses its response only when awaited, and derives helpers'
 * promises with `_thenUnwrap`. The SDKs themselves are tested end to end (test/instrument-*.ts).
 */
function stainlessClass() {
  return class APIPromise<T> extends Promise<T> {
    parsedPromise: Promise<T> | undefined;
    readonly responsePromise: Promise<string>;
    readonly parseResponse: (body: string) => Promise<T>;
    constructor(responsePromise: Promise<string>, parseResponse: (body: string) => Promise<T>) {
      super((resolve) => resolve(null as T));
      this.responsePromise = responsePromise;
      this.parseResponse = parseResponse;
    }
    static override get [Symbol.species]() {
      return Promise;
    }
    _thenUnwrap<U>(transform: (data: T) => U): APIPromise<U> {
      return new APIPromise<U>(this.responsePromise, async (body) => transform(await this.parseResponse(body)));
    }
    parse(): Promise<T> {
      this.parsedPromise ??= this.responsePromise.then((body) => this.parseResponse(body));
      return this.parsedPromise;
    }
    /** The raw response, not parsed. */
    asResponse(): Promise<string> {
      return this.responsePromise.then((body) => body);
    }
    // biome-ignore lint/suspicious/noThenProperty: an APIPromise is a thenable by design.
    override then<A = T, B = never>(ok?: ((v: T) => A | PromiseLike<A>) | null, fail?: ((e: unknown) => B | PromiseLike<B>) | null) {
      return this.parse().then(ok, fail);
    }
  };
}

function seen(): CallObserver & { data: unknown[]; errors: unknown[] } {
  const o = {
    data: [] as unknown[],
    errors: [] as unknown[],
    onData: (d: unknown) => {
      o.data.push(d);
      return d;
    },
    onError: (e: unknown) => {
      o.errors.push(e);
    },
  };
  return o;
}

const json = (body: string) => Promise.resolve(JSON.parse(body) as { usage: number });

describe('observeCall on a Stainless-style APIPromise', () => {
  it('hands the caller the same promise and tells the observer the parsed body once, whichever of it and its derived promises is parsed', async () => {
    const APIPromise = stainlessClass();
    const o = seen();
    const p = new APIPromise(Promise.resolve('{"usage":7}'), json);
    expect(observeCall(p, o)).toBe(p);
    const derived = p._thenUnwrap((d) => ({ ...d, extra: true }));
    expect(await derived).toEqual({ usage: 7, extra: true });
    expect(await p).toEqual({ usage: 7 });
    expect(o.data).toHaveLength(1);
    expect(o.errors).toEqual([]);
    // Another promise of the same class, not observed, is not reported.
    expect(await new APIPromise(Promise.resolve('{"usage":1}'), json)).toEqual({ usage: 1 });
    expect(o.data).toHaveLength(1);
  });

  it('tells the observer of a body that fails to parse, and of a request that fails, once each call', async () => {
    const APIPromise = stainlessClass();
    const badBody = seen();
    await expect(observeCall(new APIPromise(Promise.resolve('{cut off'), json), badBody)).rejects.toThrow(SyntaxError);
    expect(badBody.errors).toHaveLength(1);
    const refused = seen();
    const failing = new APIPromise<{ usage: number }>(Promise.reject(new Error('503')), json);
    await expect(observeCall(failing, refused)).rejects.toThrow('503');
    expect(refused.errors).toEqual([new Error('503')]);
    expect(refused.data).toEqual([]);
  });

  it('tells the observer of a request that fails when its raw response is read (asResponse), and of nothing when it is read that way', async () => {
    const APIPromise = stainlessClass();
    const refused = seen();
    const failing = observeCall(new APIPromise<{ usage: number }>(Promise.reject(new Error('429')), json), refused);
    await expect(failing.asResponse()).rejects.toThrow('429');
    expect(refused.errors).toEqual([new Error('429')]);
    const raw = seen();
    expect(await observeCall(new APIPromise(Promise.resolve('{"usage":4}'), json), raw).asResponse()).toBe('{"usage":4}');
    expect(raw).toMatchObject({ data: [], errors: [] });
  });

  it('hooks the class once: promises it does not observe are left to the SDK', async () => {
    const APIPromise = stainlessClass();
    const o = seen();
    await observeCall(new APIPromise(Promise.resolve('{"usage":5}'), json), o);
    // A later promise of the class, not observed, fails as the SDK's own: to its reader only.
    const other = new APIPromise<{ usage: number }>(Promise.reject(new Error('500')), json);
    await expect(other).rejects.toThrow('500');
    await expect(other.asResponse()).rejects.toThrow('500');
    expect(o).toMatchObject({ data: [{ usage: 5 }], errors: [] });
  });

  it('still observes, and never throws into the call, when the promise or its class is frozen', async () => {
    const frozenClass = stainlessClass();
    Object.freeze(frozenClass.prototype);
    const a = seen();
    expect(await observeCall(new frozenClass(Promise.resolve('{"usage":2}'), json), a)).toEqual({ usage: 2 });
    expect(a.data).toEqual([{ usage: 2 }]);
    const APIPromise = stainlessClass();
    const b = seen();
    const frozen = Object.freeze(new APIPromise(Promise.resolve('{"usage":3}'), json));
    expect(await observeCall(frozen, b)).toEqual({ usage: 3 });
    expect(b.data).toEqual([{ usage: 3 }]);
    // A failed request of a frozen class is still told.
    const c = seen();
    await expect(observeCall(new frozenClass(Promise.reject(new Error('502')), json), c)).rejects.toThrow('502');
    expect(c.errors).toEqual([new Error('502')]);
  });
});
