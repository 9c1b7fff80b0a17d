import type { IncomingMessage, ServerResponse } from 'node:http';
import { describeValue } from '../errors.ts';

/** The deepest nesting of arrays and objects a request body may have (records are 3 deep, metadata a few more). */
export const MAX_JSON_DEPTH = 32;
/** The longest excerpt of a bad value an error answer quotes. */
export const MAX_EXCERPT_LENGTH = 120;

/** An answer other than success, thrown by a route and written by the server. */
export class HttpError extends Error {
  readonly status: number;
  readonly body: ErrorBody;
  /** Close the connection after the answer (a request body left unread). */
  close = false;
  constructor(status: number, body: ErrorBody) {
    super(`HTTP ${status}: ${body.error.message}`);
    this.status = status;
    this.body = body;
  }
}

/** The shape of every error answer. `value` is a flat excerpt, never the value as sent. */
export interface ErrorBody {
  error: { type: string; message: string; field?: string; value?: string | number | boolean | null; [k: string]: unknown };
}

/** An error answer; a `value` is quoted as a bounded excerpt. */
export function errorBody(type: string, message: string, bad?: { field: string; value: unknown }): ErrorBody {
  if (bad === undefined) return { error: { type, message } };
  return { error: { type, field: bad.field, value: excerpt(bad.value), message } };
}

/** A 400 naming a field and quoting (an excerpt of) its value. */
export function badRequest(field: string, value: unknown, reason: string): HttpError {
  return new HttpError(400, errorBody('validation_error', `Invalid ${field}: ${describeValue(value)} (${reason})`, { field, value }));
}

/**
 * A bad value as an error answer may quote it: numbers, booleans and null as they are, strings cut
 * to {@link MAX_EXCERPT_LENGTH}, arrays and objects as the start of their JSON, written by a walk
 * that stops at the length (so a value nested thousands deep costs no more than a flat one).
 */
export function excerpt(value: unknown): string | number | boolean | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'string') return cut(value);
  if (typeof value !== 'object') return cut(String(value));
  const out: string[] = [];
  let length = 0;
  // Depth-first with an explicit stack (no recursion), stopping once the excerpt is long enough.
  const stack: unknown[] = [value];
  while (stack.length > 0 && length <= MAX_EXCERPT_LENGTH) {
    const v = stack.pop();
    let s: string;
    if (v instanceof Text) s = v.text;
    else if (Array.isArray(v)) {
      s = '[';
      stack.push(new Text(']'));
      for (let i = Math.min(v.length, MAX_EXCERPT_LENGTH) - 1; i >= 0; i--) {
        stack.push(v[i]);
        if (i > 0) stack.push(new Text(','));
      }
    } else if (typeof v === 'object' && v !== null) {
      s = '{';
      stack.push(new Text('}'));
      const keys = Object.keys(v).slice(0, MAX_EXCERPT_LENGTH);
      for (let i = keys.length - 1; i >= 0; i--) {
        const k = keys[i] as string;
        stack.push((v as Record<string, unknown>)[k]);
        stack.push(new Text(`${JSON.stringify(k.slice(0, MAX_EXCERPT_LENGTH))}:`));
        if (i > 0) stack.push(new Text(','));
      }
    } else s = typeof v === 'string' ? JSON.stringify(v.slice(0, MAX_EXCERPT_LENGTH)) : String(v);
    out.push(s);
    length += s.length;
  }
  return cut(out.join(''), stack.length > 0);
}

/** Literal text in the excerpt walk's stack (a closing bracket, a comma, a key). */
class Text {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

function cut(s: string, more = false): string {
  return s.length > MAX_EXCERPT_LENGTH || more ? `${s.slice(0, MAX_EXCERPT_LENGTH)}…` : s;
}

/**
 * True when arrays and objects nest more than `max` deep in a parsed value. Iterative (an explicit
 * stack), so the check itself cannot overflow the call stack, and it looks only at arrays and
 * objects: a batch of 100 records costs a few microseconds, against some 90 for a byte scan of its
 * 21 KB of text (measured on this machine; JSON.parse of the same text: about 150).
 */
export function depthOver(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const stack: object[] = [value];
  const depths: number[] = [1];
  while (stack.length > 0) {
    const v = stack.pop() as object;
    const d = depths.pop() as number;
    if (d > max) return true;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const x: unknown = v[i];
        if (typeof x === 'object' && x !== null) {
          stack.push(x);
          depths.push(d + 1);
        }
      }
    } else {
      for (const k in v) {
        const x = (v as Record<string, unknown>)[k];
        if (typeof x === 'object' && x !== null) {
          stack.push(x);
          depths.push(d + 1);
        }
      }
    }
  }
  return false;
}

/**
 * Reads a JSON request body: `application/json` only (a form or `text/plain` post, which any web
 * page can send without asking, is a 415), at most `maxBytes` (413), parsed (400 when it is not
 * JSON), and nested at most {@link MAX_JSON_DEPTH} deep (400).
 */
export async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  if (!isJsonType(req.headers['content-type'])) {
    throw new HttpError(
      415,
      errorBody('unsupported_media_type', 'request body must be sent as content-type: application/json (charset utf-8 if any)', {
        field: 'content-type',
        value: req.headers['content-type'] ?? null,
      }),
    );
  }
  const declared = Number(req.headers['content-length']);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  const bytes = await readBody(req, maxBytes);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (cause) {
    throw new HttpError(400, errorBody('invalid_json', `request body is not JSON: ${cut((cause as Error).message)}`));
  }
  // The depth is checked before anything walks the value. JSON.parse itself does not recurse in V8
  // (its parser was made iterative in V8 7.6, https://v8.dev/blog/v8-release-76; http.test.ts
  // parses a million levels), but validation, JSON.stringify and error answers would.
  if (depthOver(value, MAX_JSON_DEPTH)) {
    throw new HttpError(400, errorBody('too_deep', `request body nests arrays and objects more than ${MAX_JSON_DEPTH} deep`));
  }
  return value;
}

/** The body's bytes, by events (lighter than an async iterator on every request); over `maxBytes`, a 413. */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > maxBytes) {
        req.off('data', onData);
        reject(tooLarge(maxBytes));
      } else chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size)));
    req.once('error', reject);
  });
}

function tooLarge(max: number): HttpError {
  // The rest of the body is not read: the connection is closed after the answer.
  const e = new HttpError(413, errorBody('too_large', `request body over ${max} bytes`));
  e.close = true;
  return e;
}

/** `application/json`, with at most a utf-8 charset parameter. */
export function isJsonType(header: string | undefined): boolean {
  if (header === undefined) return false;
  const [type, ...params] = header.split(';');
  if (type?.trim().toLowerCase() !== 'application/json') return false;
  return params.every((p) => /^\s*charset\s*=\s*"?utf-8"?\s*$/i.test(p));
}

/** Exact picodollar sums are bigints: written as strings. */
const replacer = (_k: string, v: unknown): unknown => (typeof v === 'bigint' ? v.toString() : v);

/** Writes a JSON answer. Throws when the body cannot be written as JSON (the caller's last resort answers). */
export function send(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body, replacer)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
