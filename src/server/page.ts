import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * The built-in dashboard page: plain HTML, one ES module and CSS from `page/` beside this file
 * (src/server/page, or dist/server/page as built), and uPlot from the installed package. No build
 * step, nothing from a CDN. The files carry no data: the page reads it from `/v1` with the token.
 */

/** Every script, style and request the page makes stays on this server; no inline script or style. */
export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
  /** `?v=` of the current content: a URL carrying it may be cached for good. */
  version: string;
}

const require = createRequire(import.meta.url);
const here = (name: string) => fileURLToPath(new URL(`./page/${name}`, import.meta.url));

/** URL path under /page/ → where the file is and its content type. */
const FILES: Record<string, { path: () => string; type: string }> = {
  'app.js': { path: () => here('app.js'), type: 'text/javascript; charset=utf-8' },
  'style.css': { path: () => here('style.css'), type: 'text/css; charset=utf-8' },
  'favicon.svg': { path: () => here('favicon.svg'), type: 'image/svg+xml' },
  'uplot.js': { path: () => require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  'uplot.css': { path: () => require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

function asset(body: Buffer, type: string): Asset {
  const hash = createHash('sha256').update(body).digest('hex');
  return { body, type, etag: `"${hash.slice(0, 32)}"`, version: hash.slice(0, 12) };
}

let loaded: { html: Asset; files: Map<string, Asset> } | undefined;

/** Reads the files once, on the first request for the page (a server that never serves it reads nothing). */
function load(): { html: Asset; files: Map<string, Asset> } {
  if (loaded !== undefined) return loaded;
  const files = new Map<string, Asset>();
  for (const [name, f] of Object.entries(FILES)) files.set(name, asset(readFileSync(f.path()), f.type));
  // The page links its files with their content's hash: cached for good, and a new version is a new URL.
  const html = readFileSync(here('index.html'), 'utf8').replace(/"\/page\/([a-z.]+)"/g, (m, name: string) => {
    const a = files.get(name);
    return a === undefined ? m : `"/page/${name}?v=${a.version}"`;
  });
  loaded = { html: asset(Buffer.from(html), 'text/html; charset=utf-8'), files };
  return loaded;
}

/**
 * Answers a request for the page or one of its files (true), or leaves it (false). GET and HEAD
 * only; an unknown file under /page/ is left to the caller's 404.
 */
export function handlePage(req: IncomingMessage, res: ServerResponse, path: string, search: string): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  let a: Asset | undefined;
  let cache = 'no-cache';
  if (path === '/' || path === '/index.html') a = load().html;
  else if (path.startsWith('/page/')) {
    a = load().files.get(path.slice(6));
    if (a !== undefined && search === `v=${a.version}`) cache = 'public, max-age=31536000, immutable';
  }
  if (a === undefined) return false;
  const headers: Record<string, string | number> = {
    'content-type': a.type,
    'cache-control': cache,
    etag: a.etag,
    'x-content-type-options': 'nosniff',
    'cross-origin-resource-policy': 'same-origin',
  };
  if (a.type.startsWith('text/html')) {
    headers['content-security-policy'] = PAGE_CSP;
    headers['referrer-policy'] = 'no-referrer';
    headers['x-frame-options'] = 'DENY';
  }
  if (req.headers['if-none-match'] === a.etag) {
    res.writeHead(304, headers);
    res.end();
    return true;
  }
  headers['content-length'] = a.body.length;
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : a.body);
  return true;
}
