import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isBudgetExceededError, isLedgerError, isValidationError, type ValidationError } from '../errors.ts';
import { DIMENSIONS, type Dimension } from '../ledger/types.ts';
import type { TokenMonitor } from '../monitor.ts';
import type { ReportQuery } from '../reports/query.ts';
import { type UsageInput, validateUsage } from '../usage.ts';

/** Options of the REST API server. */
export interface ApiServerOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 lets the OS choose. @default 8787 */
  port?: number;
  /** When set, every request but /health and /metrics needs `Authorization: Bearer <token>`. */
  token?: string;
  /** Largest request body, in bytes. @default 1 MiB */
  maxBodyBytes?: number;
}

export interface ApiServer {
  /** http://host:port */
  readonly url: string;
  close(): Promise<void>;
}

class HttpError extends Error {
  readonly status: number;
  readonly body: unknown;
  constructor(status: number, body: unknown) {
    super(`HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  // Exact picodollar sums are bigints: written as strings.
  const text = JSON.stringify(body, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(`${text}\n`);
}

function validationBody(e: ValidationError, prefix = ''): unknown {
  return { error: { type: 'validation_error', field: `${prefix}${e.field}`, value: e.value ?? null, message: e.message } };
}

async function readJson(req: IncomingMessage, max: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > max) throw new HttpError(413, { error: { type: 'too_large', message: `request body over ${max} bytes` } });
    chunks.push(c as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (cause) {
    throw new HttpError(400, { error: { type: 'invalid_json', message: `request body is not JSON: ${(cause as Error).message}` } });
  }
}

/** A report query from URL parameters, checked by the monitor (a bad one is a 400 naming it). */
function queryOf(url: URL): ReportQuery & { by?: Dimension; limit?: number } {
  const q: ReportQuery & { by?: Dimension; limit?: number } = {};
  const p = url.searchParams;
  for (const [param, field] of [
    ['provider', 'provider'],
    ['model', 'model'],
    ['agent', 'agent'],
    ['user', 'userId'],
    ['thread', 'threadId'],
    ['key', 'apiKeyId'],
    ['run', 'runId'],
    ['since', 'since'],
    ['until', 'until'],
  ] as const) {
    const v = p.get(param);
    if (v !== null) q[field] = v;
  }
  const num = (name: 'days' | 'limit') => {
    const v = p.get(name);
    if (v === null) return;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n))
      throw new HttpError(400, {
        error: { type: 'validation_error', field: name, value: v, message: `Invalid ${name}: "${v}" (must be a number)` },
      });
    q[name] = n;
  };
  num('days');
  num('limit');
  const by = p.get('by');
  if (by !== null) {
    if (!(DIMENSIONS as readonly string[]).includes(by)) {
      throw new HttpError(400, {
        error: {
          type: 'validation_error',
          field: 'by',
          value: by,
          message: `Invalid by: "${by}" (must be one of ${DIMENSIONS.join(', ')})`,
        },
      });
    }
    q.by = by as Dimension;
  }
  return q;
}

/**
 * tokenmeter's REST API over a monitor (what `tokenmeter serve` runs): ingest for apps in other
 * languages, the ledger's reports, budgets, and the Prometheus endpoint, on one port.
 *
 * - `POST /v1/usage`: one record or an array; all are checked before any is recorded (400 names
 *   the item and field); 201 with the records and the alerts they raised.
 * - `POST /v1/check`: may this call run? 200, or 402 with the budget when an enforced one is spent.
 * - `GET /v1/summary`, `/v1/report`, `/v1/records`, `/v1/users/:id`, `/v1/threads/:id`: reports,
 *   with `days`, `since`, `until`, `provider`, `model`, `agent`, `user`, `thread`, `by`, `limit`.
 * - `GET /v1/status`, `/v1/alerts`: budgets and the alerts of their current windows.
 * - `GET /health` (503 while the ledger cannot be written) and `GET /metrics`.
 */
export async function startApiServer(monitor: TokenMonitor, options: ApiServerOptions = {}): Promise<ApiServer> {
  const max = options.maxBodyBytes ?? 1024 * 1024;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (path === '/metrics' && (method === 'GET' || method === 'HEAD')) {
      if (!monitor.handleMetrics(req, res)) send(res, 404, { error: { type: 'not_found', message: 'metrics export is off' } });
      return;
    }
    if (path === '/health') {
      const h = monitor.health();
      send(res, h.ok ? 200 : 503, h);
      return;
    }
    if (options.token !== undefined && req.headers.authorization !== `Bearer ${options.token}`) {
      throw new HttpError(401, { error: { type: 'unauthorized', message: 'missing or wrong bearer token' } });
    }
    if (method === 'POST' && path === '/v1/usage') {
      const body = await readJson(req, max);
      const items = (Array.isArray(body) ? body : [body]) as UsageInput[];
      items.forEach((item, i) => {
        try {
          validateUsage(item);
        } catch (e) {
          if (isValidationError(e)) throw new HttpError(400, validationBody(e, Array.isArray(body) ? `[${i}].` : ''));
          throw e;
        }
      });
      const results = items.map((item) => monitor.record(item));
      send(res, 201, { records: results.map((r) => r.record), alerts: results.flatMap((r) => r.alerts) });
      return;
    }
    if (method === 'POST' && path === '/v1/check') {
      const body = (await readJson(req, max)) as Record<string, unknown>;
      const provider = body?.provider;
      if (typeof provider !== 'string' || provider === '') {
        throw new HttpError(400, {
          error: { type: 'validation_error', field: 'provider', value: provider ?? null, message: 'Invalid provider (is required)' },
        });
      }
      const context: { userId?: string; agent?: string } = {};
      if (typeof body.userId === 'string') context.userId = body.userId;
      if (typeof body.agent === 'string') context.agent = body.agent;
      try {
        // A check, not a hold: what it would reserve is given back at once.
        monitor.settle(monitor.admit(provider, body, context, undefined, typeof body.apiKeyId === 'string' ? body.apiKeyId : undefined));
      } catch (e) {
        if (!isBudgetExceededError(e)) throw e;
        send(res, 402, {
          allowed: false,
          error: { type: 'budget_exceeded', message: e.message, budget: e.budget, used: e.used, reserved: e.reserved, limit: e.limit },
        });
        return;
      }
      send(res, 200, { allowed: true });
      return;
    }
    if (method !== 'GET') throw new HttpError(405, { error: { type: 'method_not_allowed', message: `${method} ${path}` } });
    const q = queryOf(url);
    const user = /^\/v1\/users\/([^/]+)$/.exec(path);
    const thread = /^\/v1\/threads\/([^/]+)$/.exec(path);
    if (path === '/v1/summary') send(res, 200, await monitor.summary(q));
    else if (path === '/v1/report') send(res, 200, await monitor.report(q));
    else if (path === '/v1/records') send(res, 200, await monitor.records(q));
    else if (path === '/v1/status') send(res, 200, monitor.status());
    else if (path === '/v1/alerts') send(res, 200, monitor.alerts());
    else if (user !== null) send(res, 200, await monitor.userUsage(decodeURIComponent(user[1] as string), q));
    else if (thread !== null) send(res, 200, await monitor.threadUsage(decodeURIComponent(thread[1] as string), q));
    else throw new HttpError(404, { error: { type: 'not_found', message: `no route ${method} ${path}` } });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (e instanceof HttpError) send(res, e.status, e.body);
      else if (isValidationError(e)) send(res, 400, validationBody(e));
      else if (isLedgerError(e)) send(res, 503, { error: { type: 'ledger_error', message: e.message } });
      else send(res, 500, { error: { type: 'internal_error', message: (e as Error)?.message ?? String(e) } });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8787, options.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
