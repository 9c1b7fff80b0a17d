import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { ValidationError } from '../errors.ts';
import { errorBody, HttpError } from './http.ts';

/**
 * True for an address only this machine can reach: 127.0.0.0/8, ::1 (also written out, or as
 * ::ffff:127.x.y.z) and `localhost`.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  const v = isIP(h);
  if (v === 4) return h.startsWith('127.');
  if (v === 6) {
    if (/^(0{0,4}:){1,7}0{0,3}1$/.test(h) || h === '::1') return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    return mapped !== null && (mapped[1] as string).startsWith('127.');
  }
  return false;
}

/**
 * Refuses to open the API beyond this machine without a token: anyone who can reach the port could
 * then write usage and read every report. `allowOpen` says that is meant.
 */
export function checkExposure(host: string, token: string | undefined, allowOpen: boolean): void {
  if (token !== undefined || allowOpen || isLoopbackHost(host)) return;
  throw new ValidationError(
    'host',
    host,
    'the REST API would be open to anyone who can reach it: set a token (--token or TOKENMETER_API_TOKEN), listen on a loopback address (127.0.0.1, ::1, localhost), or pass --allow-open (allowOpen) if it is meant to be open',
  );
}

/**
 * A server on a loopback address answers only requests addressed to a loopback name: a web page
 * whose own name was re-pointed at 127.0.0.1 (DNS rebinding) sends its own name as `Host`, and
 * would otherwise read and write the API as if it were a local program.
 */
export function checkHost(req: IncomingMessage): void {
  const host = req.headers.host;
  // HTTP/1.0 clients may send none; browsers always do.
  if (host === undefined) return;
  const name = /^(\[[^\]]*\]|[^:]*)(:\d*)?$/.exec(host)?.[1] ?? host;
  if (!isLoopbackHost(name)) {
    throw new HttpError(
      403,
      errorBody('forbidden_host', 'a server on a loopback address answers only requests to a loopback name', {
        field: 'host',
        value: host,
      }),
    );
  }
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * Checks `Authorization: Bearer <token>` in constant time: both sides are hashed to 32 bytes
 * first, so neither the content nor the length of the token shows in the time taken.
 */
export function bearerCheck(token: string): (header: string | undefined) => boolean {
  const expected = digest(`Bearer ${token}`);
  return (header) => timingSafeEqual(digest(header ?? ''), expected);
}

/**
 * Cross-origin rules. Browsers send `Origin` on cross-origin requests (and on same-origin
 * writes): one not configured is refused outright, so no web page can write usage into, or read
 * reports from, a server it was not allowed to, whatever the content type. Allowed origins get
 * CORS headers and their preflights answered.
 */
export class Origins {
  readonly #allowed: Set<string>;
  constructor(origins: readonly string[]) {
    this.#allowed = new Set(origins.map(normalOrigin));
  }

  /**
   * Applies the rules to a request: throws a 403 for a foreign origin, sets the CORS headers for
   * an allowed one, and answers its preflight (true: the request is answered).
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const origin = req.headers.origin;
    if (origin === undefined) return false;
    if (!this.#allowed.has(normalOrigin(origin))) {
      throw new HttpError(
        403,
        errorBody('forbidden_origin', 'requests from this origin are not allowed (see serve --cors-origin)', {
          field: 'origin',
          value: origin,
        }),
      );
    }
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('vary', 'Origin');
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
      res.writeHead(204, {
        'access-control-allow-methods': 'GET, POST, OPTIONS',
        'access-control-allow-headers': 'authorization, content-type',
        'access-control-max-age': '600',
      });
      res.end();
      return true;
    }
    return false;
  }
}

/** An origin as browsers send it: scheme://host[:port], lower case, no trailing slash. */
function normalOrigin(o: string): string {
  return o.trim().toLowerCase().replace(/\/+$/, '');
}
