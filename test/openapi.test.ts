import type { ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validator } from '@cfworker/json-schema';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../src/server/route-table.ts';
import { launchBrowser } from './helpers/page.ts';
import { startServe } from './helpers/serve.ts';

// /openapi.json as a client generator reads it, from `tokenmeter serve`: every route of the route
// table is in it and answered as it says (statuses, schemas, token), and nothing else is answered.
let proc: ChildProcess;
let url: string;
const dir = mkdtempSync(join(tmpdir(), 'tm-openapi-'));
const TOKEN = 'openapi-token';
const auth = { authorization: `Bearer ${TOKEN}` };
type Json = Record<string, unknown>;
let doc: Json;

/** A request for each route: its path filled in, and a body for those that take one. */
const PATH_VALUES: Record<string, string> = { id: 'u1', user_id: 'user@example.com', thread_id: 'conversation-123', file: 'app.js' };
const now = new Date();
const BODIES: Record<string, unknown> = {
  'POST /v1/usage': [
    { provider: 'openai', model: 'gpt-4o', input_tokens: 100, output_tokens: 20, user_id: 'u1', thread_id: 'conversation-123', agent: 'a' },
    { provider: 'openai', model: 'gpt-4o-mini', inputTokens: 10, outputTokens: 2, userId: 'user@example.com' },
  ],
  'POST /v1/check': { provider: 'openai', model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], user_id: 'u1' },
  'POST /v1/alertmanager': {
    version: '4',
    receiver: 'tokenmeter',
    status: 'firing',
    alerts: [
      {
        status: 'firing',
        labels: { alertname: 'TokenmeterBudgetWarning', severity: 'warning' },
        annotations: { summary: 'budget' },
        startsAt: now.toISOString(),
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus:9090/graph',
        fingerprint: 'fp1',
      },
    ],
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    groupKey: '{}:{}',
    truncatedAlerts: 0,
  },
};
/** A value each documented query parameter takes. */
const QUERY_VALUES: Record<string, string> = {
  days: '30',
  since: '2020-01-01',
  until: new Date(now.getTime() + 86_400_000).toISOString(),
  provider: 'openai',
  model: 'gpt-4o',
  agent: 'a',
  user: 'u1',
  thread: 'conversation-123',
  key: 'k1',
  run: 'r1',
  by: 'model',
  split: 'model',
  limit: '5',
  errors: 'true',
  min_usd: '0',
  status: 'firing',
};

const fill = (path: string) => path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(PATH_VALUES[name] ?? 'x'));
const operations = () =>
  Object.entries(doc.paths as Record<string, Record<string, Json>>).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ method: method.toUpperCase(), path, op })),
  );

function request(method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<Response> {
  return fetch(`${url}${path}`, {
    method,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** Resolves a `$ref` of the document. */
function deref(schema: Json): Json {
  if (typeof schema.$ref !== 'string') return schema;
  const target = schema.$ref
    .slice(2)
    .split('/')
    .reduce<Json | undefined>((o, k) => o?.[k] as Json | undefined, doc);
  if (target === undefined) throw new Error(`${schema.$ref} does not resolve`);
  return target;
}

/** A schema with every reference replaced by what it refers to, for a validator that sees only the schema. */
function inline(v: unknown, depth = 0): unknown {
  if (depth > 30) throw new Error('references nest too deep (a cycle?)');
  if (Array.isArray(v)) return v.map((x) => inline(x, depth + 1));
  if (typeof v !== 'object' || v === null) return v;
  const o = v as Json;
  if (typeof o.$ref === 'string') return inline(deref(o), depth + 1);
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, inline(x, depth + 1)]));
}

beforeAll(async () => {
  ({ proc, url } = await startServe(['--dir', dir, '--token', TOKEN]));
  const r = await fetch(`${url}/openapi.json`);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^application\/json/);
  doc = (await r.json()) as Json;
});
afterAll(async () => {
  if (proc.exitCode === null) {
    proc.kill('SIGTERM');
    await new Promise((resolve) => proc.on('close', resolve));
  }
});

describe('GET /openapi.json', () => {
  it('is a structurally valid OpenAPI 3.1 document', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    const info = doc.info as Json;
    expect(typeof info.title).toBe('string');
    expect(typeof info.version).toBe('string');
    const schemes = (doc.components as Json).securitySchemes as Record<string, Json>;
    const tags = new Set((doc.tags as { name: string }[]).map((t) => t.name));
    const ids = new Set<string>();
    for (const { method, path, op } of operations()) {
      const where = `${method} ${path}`;
      expect(path, where).toMatch(/^\//);
      expect(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE']).toContain(method);
      expect(typeof op.operationId, where).toBe('string');
      expect(ids.has(op.operationId as string), `duplicate operationId ${op.operationId}`).toBe(false);
      ids.add(op.operationId as string);
      for (const t of op.tags as string[]) expect(tags.has(t), `${where}: tag ${t}`).toBe(true);
      for (const s of op.security as Record<string, unknown>[])
        for (const name of Object.keys(s)) expect(schemes[name], where).toBeDefined();
      // Path parameters: exactly the template's, each required.
      const params = (op.parameters ?? []) as Json[];
      const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      expect(
        params.filter((p) => p.in === 'path').map((p) => p.name),
        where,
      ).toEqual(inPath);
      const seen = new Set<string>();
      for (const p of params) {
        expect(['query', 'path', 'header', 'cookie'], where).toContain(p.in);
        expect(typeof p.name, where).toBe('string');
        if (p.in === 'path') expect(p.required, `${where} ${p.name}`).toBe(true);
        expect(typeof p.schema, `${where} ${p.name}`).toBe('object');
        expect(seen.has(`${p.in}:${p.name}`), `${where}: ${p.name} twice`).toBe(false);
        seen.add(`${p.in}:${p.name}`);
      }
      const responses = Object.entries(op.responses as Record<string, Json>);
      expect(responses.length, where).toBeGreaterThan(0);
      for (const [status, r] of responses) {
        expect(status, where).toMatch(/^([1-5]\d\d|[1-5]XX|default)$/);
        expect(typeof r.description, `${where} ${status}`).toBe('string');
        for (const [type, media] of Object.entries((r.content ?? {}) as Record<string, Json>)) {
          expect(type, where).toMatch(/^[a-z]+\/[a-z0-9.+-]+$/);
          // Every reference resolves.
          if (media.schema !== undefined) expect(inline(media.schema), `${where} ${status}`).toBeTypeOf('object');
        }
      }
      if (op.requestBody !== undefined) expect(Object.keys((op.requestBody as Json).content as Json), where).toEqual(['application/json']);
    }
  });

  it('lists every route of the route table, and nothing else', () => {
    const documented = operations()
      .map((o) => `${o.method} ${o.path}`)
      .sort();
    expect(documented).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
  });

  it('says of every route what the server answers: status, schema, and whether it needs the token', async () => {
    // Records first, so that the reports have something to answer.
    expect((await request('POST', '/v1/usage', auth, BODIES['POST /v1/usage'])).status).toBe(201);
    for (const { method, path, op } of operations()) {
      const where = `${method} ${path}`;
      const body = method === 'POST' ? BODIES[where] : undefined;
      if (method === 'POST') expect(body, `${where}: no request body in this test`).toBeDefined();
      const r = await request(method, fill(path), auth, body);
      const documented = (op.responses as Record<string, Json>)[String(r.status)];
      expect(documented, `${where} answered ${r.status}, not documented`).toBeDefined();
      expect([200, 201], where).toContain(r.status);
      const content = ((documented as Json).content ?? {}) as Record<string, Json>;
      const type = r.headers.get('content-type')?.split(';')[0] as string;
      expect(Object.keys(content), `${where}: answered as ${type}`).toContain(type);
      const media = content[type] as Json;
      if (media.schema !== undefined) {
        const answer = await r.json();
        const result = new Validator(inline(media.schema) as never, '2020-12', false).validate(answer);
        expect(result.errors.slice(0, 3), `${where}: the answer does not fit its schema`).toEqual([]);
      } else await r.arrayBuffer();
      // Without the token: the open routes answer alike, the others 401, as the document says.
      const anonymous = await request(method, fill(path), {}, body);
      const open = (op.security as unknown[]).length === 0;
      expect(anonymous.status, `${where} without the token`).toBe(open ? r.status : 401);
      if (!open) expect((op.responses as Json)['401'], where).toBeDefined();
    }
  });

  it('documents each query parameter the server takes, and the server takes no other', async () => {
    for (const { method, path, op } of operations()) {
      const query = ((op.parameters ?? []) as Json[]).filter((p) => p.in === 'query');
      if (query.length === 0) continue;
      const where = `${method} ${path}`;
      const search = query.map((p) => {
        const v = QUERY_VALUES[p.name as string];
        expect(v, `${where}: no value for ${p.name} in this test`).toBeDefined();
        return `${p.name}=${encodeURIComponent(v as string)}`;
      });
      const all = await request(method, `${fill(path)}?${search.join('&')}`, auth);
      expect(all.status, `${where}?${search.join('&')}: ${await all.clone().text()}`).toBe(200);
      const other = await request(method, `${fill(path)}?nope=1`, auth);
      expect(other.status, where).toBe(400);
      expect(await other.json()).toMatchObject({ error: { field: 'nope', value: '1' } });
    }
  });

  it('answers no path or method the route table does not list', async () => {
    const listed = ROUTES.map((r) => ({ method: r.method, re: new RegExp(`^${r.path.replace(/\{\w+\}/g, '[^/]+')}$`) }));
    const isListed = (method: string, path: string) => listed.some((l) => l.method === method && l.re.test(path));
    const probes = new Set<string>(['/v2/usage', '/token-usage', '/token-usage/', '/v1', '/v1/', '/docs/', '/openapi.yaml', '/v1/users/']);
    for (const r of ROUTES) {
      const p = fill(r.path);
      if (p === '/') continue;
      probes.add(`${p}/x`);
      probes.add(`${p}x`);
      probes.add(p.slice(0, p.lastIndexOf('/')) || '/nothing');
      probes.add(p);
    }
    for (const path of probes) {
      for (const method of ['GET', 'POST', 'PUT', 'DELETE']) {
        if (isListed(method, path)) continue;
        const r = await request(method, path, auth, method === 'GET' ? undefined : {});
        expect([404, 405], `${method} ${path} answered ${r.status}`).toContain(r.status);
        await r.arrayBuffer();
      }
    }
  });
});

describe('GET /docs', () => {
  it('is a page of every route with its parameters and an example answer, open, with no script and nothing from elsewhere', async () => {
    const r = await fetch(`${url}/docs`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = r.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    const html = await r.text();
    expect(html).not.toMatch(/<script|https?:\/\//);
    for (const { method, path, op } of operations()) {
      const start = html.indexOf(`<section id="${op.operationId}">`);
      expect(start, `${method} ${path}`).toBeGreaterThan(-1);
      const section = html.slice(start, html.indexOf('</section>', start));
      expect(section).toContain(path.replace(/&/g, '&amp;'));
      for (const p of (op.parameters ?? []) as Json[]) expect(section, `${method} ${path}: ${p.name}`).toContain(`<code>${p.name}</code>`);
      for (const status of Object.keys(op.responses as Json))
        expect(section, `${method} ${path}: ${status}`).toContain(`<td>${status}</td>`);
    }
    // ASTRA's user route shows its usage guide's example answer.
    const astra = html.slice(html.indexOf('<section id="getTokenUsageUserUserId">'));
    expect(astra.slice(0, astra.indexOf('</section>'))).toContain('&quot;cost_by_model&quot;: {');
  });

  it('renders in a browser: styled, every route shown, no error and no request beyond the page', async () => {
    let browser: Browser | undefined;
    try {
      browser = await launchBrowser();
      const page = await browser.newPage();
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      page.on('request', (q) => requests.push(q.url()));
      await page.goto(`${url}/docs`);
      // The inline style ran under the CSP (allowed by its hash): the body is laid out as it says.
      const width = await page.evaluate('getComputedStyle(document.body).maxWidth');
      expect(width).toBe('1024px');
      expect(await page.locator('section').count()).toBe(operations().length);
      expect(await page.locator('h3', { hasText: '/token-usage/by-model' }).isVisible()).toBe(true);
      expect(problems).toEqual([]);
      // The page and, at most, the favicon Chromium asks for on its own.
      expect(requests.filter((u) => !u.endsWith('/favicon.ico'))).toEqual([`${url}/docs`]);
    } finally {
      await browser?.close();
    }
  });
});
