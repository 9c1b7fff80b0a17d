import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { openApiDocument } from './openapi.ts';

/**
 * `GET /openapi.json` and `GET /docs`: the API's OpenAPI document, and the same as a plain HTML
 * page written from it on the server (no script, no CDN, one inline style allowed by its hash).
 * Both hold no data: open without the token, like the built-in page's files.
 */

type Json = Record<string, unknown>;

const STYLE = `body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:64rem;padding:1rem 1.5rem;color:#1d2430}
h2{margin-top:2rem;border-bottom:1px solid #ccd;padding-bottom:.2rem}
section{border:1px solid #dde;border-radius:6px;padding:.2rem 1rem .6rem;margin:1rem 0}
h3 code{font-size:1rem}.m{display:inline-block;min-width:3.4rem;font-weight:700}.open{color:#2a7a3b;font-size:.85rem}
table{border-collapse:collapse;margin:.4rem 0}td,th{border:1px solid #dde;padding:.2rem .5rem;text-align:left;vertical-align:top;font-size:.9rem}
pre{background:#f4f5f8;padding:.5rem;overflow-x:auto;font-size:.8rem;max-height:24rem}nav a{margin-right:.8rem}`;
const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');
const DOCS_CSP = `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

const esc = (s: unknown): string =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

/** A made-up value of a JSON Schema, for routes without an example: the shape a client will read. */
export function sampleOf(schema: Json | undefined, doc: Json, depth = 0): unknown {
  if (schema === undefined || depth > 8) return null;
  if (typeof schema.$ref === 'string') {
    const name = schema.$ref.split('/').pop() as string;
    return sampleOf(((doc.components as Json).schemas as Json)[name] as Json, doc, depth + 1);
  }
  if (schema.example !== undefined) return schema.example;
  if (schema.const !== undefined) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  const alt = (schema.anyOf ?? schema.oneOf) as Json[] | undefined;
  if (alt !== undefined) return sampleOf(alt.find((a) => a.type !== 'null') ?? alt[0], doc, depth + 1);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'object': {
      const out: Json = {};
      for (const [k, v] of Object.entries((schema.properties ?? {}) as Record<string, Json>)) out[k] = sampleOf(v, doc, depth + 1);
      if (schema.properties === undefined && typeof schema.additionalProperties === 'object') {
        out['<key>'] = sampleOf(schema.additionalProperties as Json, doc, depth + 1);
      }
      return out;
    }
    case 'array':
      return [sampleOf(schema.items as Json | undefined, doc, depth + 1)];
    case 'string':
      return schema.format === 'date-time' ? '2026-01-01T00:00:00.000Z' : 'string';
    case 'integer':
    case 'number':
      return typeof schema.minimum === 'number' ? schema.minimum : 0;
    case 'boolean':
      return false;
    default:
      return null;
  }
}

/** What a schema says of itself, or of what it refers to or unites. */
function descriptionOf(schema: Json, doc: Json): string {
  const parts: string[] = [];
  if (typeof schema.description === 'string') parts.push(schema.description);
  if (typeof schema.$ref === 'string') {
    const target = ((doc.components as Json).schemas as Json)[schema.$ref.split('/').pop() as string] as Json | undefined;
    if (target !== undefined) parts.push(descriptionOf(target, doc));
  }
  for (const alt of (schema.anyOf ?? []) as Json[]) if (alt.$ref !== undefined) parts.push(descriptionOf(alt, doc));
  return parts.filter((p) => p !== '').join(' ');
}

/** A JSON Schema's rules in a few words: type, pattern, enum, bounds. */
function rulesOf(s: Json): string {
  const parts: string[] = [];
  if (Array.isArray(s.enum)) parts.push(`one of ${s.enum.join(', ')}`);
  else if (s.type !== undefined) parts.push(String(s.type));
  if (s.pattern !== undefined) parts.push(`pattern ${s.pattern}`);
  if (s.minimum !== undefined) parts.push(`≥ ${s.minimum}`);
  if (s.maximum !== undefined) parts.push(`≤ ${s.maximum}`);
  if (s.maxLength !== undefined) parts.push(`at most ${s.maxLength} characters`);
  return parts.join(', ');
}

function operationHtml(method: string, path: string, op: Json, doc: Json): string {
  const open = Array.isArray(op.security) && op.security.length === 0;
  const out = [
    `<section id="${esc(op.operationId)}"><h3><code><span class="m">${method.toUpperCase()}</span> ${esc(path)}</code>${open ? ' <span class="open">open</span>' : ''}</h3>`,
    `<p>${esc(op.summary)}</p>`,
  ];
  const params = (op.parameters ?? []) as Json[];
  if (params.length > 0) {
    out.push('<table><tr><th>parameter</th><th>in</th><th>rules</th><th>meaning</th></tr>');
    for (const p of params) {
      out.push(
        `<tr><td><code>${esc(p.name)}</code>${p.required ? ' (required)' : ''}</td><td>${esc(p.in)}</td><td>${esc(rulesOf(p.schema as Json))}</td><td>${esc(p.description ?? '')}</td></tr>`,
      );
    }
    out.push('</table>');
  }
  const body = op.requestBody as Json | undefined;
  if (body !== undefined) {
    const media = (body.content as Json)['application/json'] as Json;
    const schema = media.schema as Json;
    const example = media.example ?? sampleOf(schema, doc);
    out.push(`<p>Body (application/json): ${esc(descriptionOf(schema, doc))}</p><pre>${esc(JSON.stringify(example, null, 2))}</pre>`);
  }
  out.push('<table><tr><th>answer</th><th>meaning</th><th>example</th></tr>');
  for (const [status, r] of Object.entries(op.responses as Record<string, Json>)) {
    const [type, media] = Object.entries((r.content ?? {}) as Record<string, Json>)[0] ?? ['', {}];
    const example = media.example ?? (media.schema === undefined ? undefined : sampleOf(media.schema as Json, doc));
    const shown = example === undefined ? esc(type) : `<pre>${esc(JSON.stringify(example, null, 2))}</pre>`;
    out.push(`<tr><td>${esc(status)}</td><td>${esc(r.description)}</td><td>${shown}</td></tr>`);
  }
  out.push('</table></section>');
  return out.join('\n');
}

let page: Buffer | undefined;

/** The /docs page, written once from the document. */
export function docsHtml(): Buffer {
  if (page !== undefined) return page;
  const doc = openApiDocument();
  const info = doc.info as Json;
  const tags = doc.tags as { name: string; description: string }[];
  const byTag = new Map<string, string[]>(tags.map((t) => [t.name, []]));
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Json>>)) {
    for (const [method, op] of Object.entries(item))
      byTag.get((op.tags as string[])[0] as string)?.push(operationHtml(method, path, op, doc));
  }
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(info.title)}</title><style>${STYLE}</style></head>
<body><h1>${esc(info.title)} <small>${esc(info.version)}</small></h1>
<p>${esc(info.description)} The machine-readable form: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>
<nav>${tags.map((t) => `<a href="#tag-${esc(t.name)}">${esc(t.name)}</a>`).join('')}</nav>
${tags.map((t) => `<h2 id="tag-${esc(t.name)}">${esc(t.name)}: ${esc(t.description)}</h2>\n${(byTag.get(t.name) ?? []).join('\n')}`).join('\n')}
</body></html>
`;
  page = Buffer.from(html);
  return page;
}

let jsonText: Buffer | undefined;

/** Answers `GET`/`HEAD /openapi.json` and `/docs` (true), or leaves the request (false). */
export function handleDocs(req: IncomingMessage, res: ServerResponse, path: string): boolean {
  if ((req.method !== 'GET' && req.method !== 'HEAD') || (path !== '/openapi.json' && path !== '/docs')) return false;
  let body: Buffer;
  const headers: Record<string, string | number> = { 'x-content-type-options': 'nosniff', 'cache-control': 'no-cache' };
  if (path === '/openapi.json') {
    jsonText ??= Buffer.from(`${JSON.stringify(openApiDocument())}\n`);
    body = jsonText;
    headers['content-type'] = 'application/json; charset=utf-8';
  } else {
    body = docsHtml();
    headers['content-type'] = 'text/html; charset=utf-8';
    headers['content-security-policy'] = DOCS_CSP;
    headers['referrer-policy'] = 'no-referrer';
    headers['x-frame-options'] = 'DENY';
  }
  headers['content-length'] = body.length;
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}
