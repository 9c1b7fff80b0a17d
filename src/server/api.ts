import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isLedgerError, isValidationError, ValidationError } from '../errors.ts';
import { checkKeys, keySet } from '../keys.ts';
import type { TokenMonitor } from '../monitor.ts';
import { bySeverity } from '../reports/budget-status.ts';
import { resolveQuery } from '../reports/query.ts';
import { receiveAlertmanager } from './alertmanager.ts';
import { astraAll, astraByModel, astraThread, astraUser } from './astra.ts';
import { handleDocs } from './docs.ts';
import { bearerCheck, checkExposure, checkHost, isLoopbackHost, Origins } from './guard.ts';
import { errorBody, HttpError, send } from './http.ts';
import { handlePage } from './page.ts';
import { parseQuery } from './query.ts';
import { routesOf } from './route-table.ts';
import { check, ingest } from './routes.ts';

// The options' keys, checked complete against ApiServerOptions by the compiler (see keySet).
const API_SERVER_KEYS = keySet<ApiServerOptions>({
  host: true,
  port: true,
  token: true,
  allowOpen: true,
  corsOrigins: true,
  maxBodyBytes: true,
  headersTimeout: true,
  requestTimeout: true,
  keepAliveTimeout: true,
  maxConnections: true,
  maxLedgerBacklog: true,
});

/** Checks `startApiServer()`'s options. */
function checkApiServerKeys(options: unknown): void {
  checkKeys(options, API_SERVER_KEYS, { what: 'startApiServer options' });
}

/** Options of the REST API server. */
export interface ApiServerOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 lets the OS choose. @default 8787 */
  port?: number;
  /** When set, every request but /health and /metrics needs `Authorization: Bearer <token>`. */
  token?: string;
  /**
   * Listen beyond loopback without a token, the API open to anyone who can reach it. Without it,
   * a host other than 127.0.0.0/8, ::1 or localhost needs a token. @default false
   */
  allowOpen?: boolean;
  /** Web origins (`https://app.example.com`) whose pages may call the API: they get CORS headers; any other origin is refused. @default none */
  corsOrigins?: readonly string[];
  /** Largest request body, in bytes. @default 1 MiB */
  maxBodyBytes?: number;
  /** Time a client has to send a request's headers, in ms. @default 10000 */
  headersTimeout?: number;
  /** Time a client has to send a whole request, in ms. @default 30000 */
  requestTimeout?: number;
  /** Time an idle keep-alive connection stays open, in ms. @default 5000 */
  keepAliveTimeout?: number;
  /** Most connections open at once; more are closed as they arrive. @default 1024 */
  maxConnections?: number;
  /**
   * Most records waiting for the ledger before `POST /v1/usage` answers 503 (`ledger_behind`, with
   * `Retry-After`) instead of taking more: clients that post faster than the ledger is written are
   * slowed down rather than have their records dropped past the ledger's `maxPending`. @default 100000
   */
  maxLedgerBacklog?: number;
}

/** The options' defaults. */
export const API_SERVER_DEFAULTS = {
  host: '127.0.0.1',
  port: 8787,
  maxBodyBytes: 1024 * 1024,
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  keepAliveTimeout: 5_000,
  maxConnections: 1024,
  maxLedgerBacklog: 100_000,
} as const;

export interface ApiServer {
  /** http://host:port */
  readonly url: string;
  close(): Promise<void>;
}

function positiveInt(name: keyof ApiServerOptions, v: number): number {
  if (!Number.isInteger(v) || v < 1) throw new ValidationError(name, v, 'must be a positive integer');
  return v;
}

/** A path parameter, percent-decoded (a malformed escape is a 400). */
function pathParam(field: string, raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(
      400,
      errorBody('validation_error', `Invalid ${field}: malformed percent-encoding in the path`, { field, value: raw }),
    );
  }
}

/**
 * tokenmeter's REST API over a monitor (what `tokenmeter serve` runs): ingest for apps in other
 * languages, the ledger's reports, budgets, and the Prometheus endpoint, on one port.
 *
 * - `POST /v1/usage`: one record or an array; all are checked before any is recorded (400 names
 *   the item and field); 201 with how many were recorded, their cost and the alerts they raised.
 * - `POST /v1/check`: may this call run? 200, or 402 with the budget when an enforced one is spent.
 * - `GET /v1/summary`, `/v1/report`, `/v1/records`, `/v1/users/:id`, `/v1/threads/:id`: reports,
 *   with `days`, `since`, `until`, `provider`, `model`, `agent`, `user`, `thread`, `key`, `run`,
 *   `by` (summary) and `limit` and `errors` (records); any other parameter is a 400.
 * - `GET /v1/advice`: what the ledger says could be saved (`tokenmeter advise`), with the filters
 *   above and `min_usd`; the last 30 days unless the range says otherwise.
 * - `GET /v1/status`: budgets in their current windows. `GET /v1/alerts`: their levels, and the
 *   history of budget alerts from the ledger, newest first (`since`, `until`, `days`, `limit`).
 * - `GET /v1/daily`: usage by day split by `by` (provider, model...), the same filters.
 * - `GET /v1/overview`: what the page shows of a range in one answer: the summaries by provider,
 *   model, agent, operation and user and the daily usage split by `split`, from two reads.
 * - `POST /v1/alertmanager`: Alertmanager's webhook (version 4), kept in the ledger; `GET
 *   /v1/alertmanager/alerts` reads its alerts back (`since`, `until`, `days`, `status`, `limit`).
 * - ASTRA's usage API in its shapes: `GET /token-usage/user/:user_id?days=`,
 *   `/token-usage/thread/:thread_id`, `/token-usage/all?days=&limit=`, `/token-usage/by-model?days=`.
 * - `GET /health` (503 while the ledger cannot be written) and `GET /metrics`, open without a token.
 * - `GET /`: the built-in dashboard page (its files are open; its data requests need the token).
 * - `GET /openapi.json` and `/docs`: every route of route-table.ts as OpenAPI 3.1, and as a page (open).
 *
 * No request can stop the server: bodies are bounded in size before they are parsed and in nesting
 * before anything walks them, error answers quote bounded excerpts, and anything unexpected is a
 * 500 and the server goes on.
 */
export async function startApiServer(monitor: TokenMonitor, options: ApiServerOptions = {}): Promise<ApiServer> {
  checkApiServerKeys(options);
  const o = { ...API_SERVER_DEFAULTS, ...options };
  for (const k of ['maxBodyBytes', 'headersTimeout', 'requestTimeout', 'keepAliveTimeout', 'maxConnections', 'maxLedgerBacklog'] as const)
    positiveInt(k, o[k]);
  if (o.headersTimeout > o.requestTimeout) {
    throw new ValidationError('headersTimeout', o.headersTimeout, `must not be more than requestTimeout (${o.requestTimeout})`);
  }
  for (const origin of o.corsOrigins ?? []) {
    let ok = false;
    try {
      ok = new URL(origin).origin === origin.replace(/\/+$/, '').toLowerCase();
    } catch {}
    if (!ok) throw new ValidationError('corsOrigins', origin, 'must be an origin such as https://app.example.com');
  }
  const token = o.token === '' ? undefined : o.token;
  checkExposure(o.host, token, o.allowOpen === true);
  const authorized = token === undefined ? () => true : bearerCheck(token);
  const origins = new Origins(o.corsOrigins ?? []);
  const loopback = isLoopbackHost(o.host);

  // The GET routes without a path parameter: each parses its own query first.
  // A Map, not an object: a request-target such as `__proto__` must not find anything.
  const reports = new Map<string, (search: string) => unknown>([
    ['/v1/summary', (s) => monitor.summary(parseQuery(s, 'summary'))],
    ['/v1/report', (s) => monitor.report(parseQuery(s, 'report'))],
    ['/v1/records', (s) => monitor.records(parseQuery(s, 'records'))],
    ['/v1/daily', (s) => monitor.daily(parseQuery(s, 'daily'))],
    ['/v1/overview', (s) => monitor.overview(parseQuery(s, 'overview'))],
    ['/v1/advice', (s) => monitor.advise(parseQuery(s, 'advice'))],
    [
      '/v1/status',
      (s) => {
        parseQuery(s, 'none');
        return monitor.status();
      },
    ],
    [
      '/v1/alerts',
      async (s) => {
        const { since, until, days, limit } = parseQuery(s, 'alerts');
        const q = {
          ...(since === undefined ? {} : { since }),
          ...(until === undefined ? {} : { until }),
          ...(days === undefined ? {} : { days }),
        };
        return {
          budgets: monitor.status().sort(bySeverity),
          alerts: await monitor.alerts({ ...q, ...(limit === undefined ? {} : { limit }) }),
        };
      },
    ],
    [
      '/v1/alertmanager/alerts',
      async (s) => {
        const { limit, status, ...range } = parseQuery(s, 'alertmanager');
        const r = resolveQuery(range);
        return { alerts: await monitor.alertmanagerAlerts({ since: r.since, until: r.until, status, limit }) };
      },
    ],
    ['/token-usage/all', (s) => astraAll(monitor, parseQuery(s, 'astraAll'))],
    ['/token-usage/by-model', (s) => astraByModel(monitor, parseQuery(s, 'astraByModel'))],
  ]);
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const path = q === -1 ? target : target.slice(0, q);
    const search = q === -1 ? '' : target.slice(q + 1);
    const method = req.method ?? 'GET';
    if (path === '/metrics' && (method === 'GET' || method === 'HEAD')) {
      if (!monitor.handleMetrics(req, res)) send(res, 404, errorBody('not_found', 'metrics export is off'));
      return;
    }
    if (path === '/health' && (method === 'GET' || method === 'HEAD')) {
      const h = monitor.health();
      send(res, h.ok ? 200 : 503, h);
      return;
    }
    if (loopback) checkHost(req);
    // The page's files hold no data (it reads /v1 with the token): open, like /health.
    if (handlePage(req, res, path, search)) return;
    if (handleDocs(req, res, path)) return;
    if (origins.handle(req, res)) return;
    if (!authorized(req.headers.authorization)) throw new HttpError(401, errorBody('unauthorized', 'missing or wrong bearer token'));
    // Only what the route table lists (and /openapi.json documents) is answered.
    const routes = routesOf(path);
    if (routes.length === 0) throw new HttpError(404, errorBody('not_found', `no route ${method} ${path.slice(0, 200)}`));
    if (!routes.some((r) => r.method === method)) {
      res.setHeader('allow', routes.map((r) => r.method).join(', '));
      throw new HttpError(405, errorBody('method_not_allowed', `${method} ${path.slice(0, 200)}`));
    }
    if (method === 'POST' && path === '/v1/usage') return ingest(monitor, req, res, o.maxBodyBytes, o.maxLedgerBacklog);
    if (method === 'POST' && path === '/v1/check') return check(monitor, req, res, o.maxBodyBytes);
    if (method === 'POST' && path === '/v1/alertmanager') return receiveAlertmanager(monitor, req, res, o.maxBodyBytes);
    if (method !== 'GET') throw new HttpError(405, errorBody('method_not_allowed', `${method} ${path.slice(0, 200)}`));
    const report = reports.get(path);
    if (report !== undefined) send(res, 200, await report(search));
    else if (path.startsWith('/v1/users/') && path.indexOf('/', 10) === -1 && path.length > 10) {
      const id = pathParam('user', path.slice(10));
      send(res, 200, await monitor.userUsage(id, parseQuery(search, 'user')));
    } else if (path.startsWith('/v1/threads/') && path.indexOf('/', 12) === -1 && path.length > 12) {
      const id = pathParam('thread', path.slice(12));
      send(res, 200, await monitor.threadUsage(id, parseQuery(search, 'thread')));
    } else if (path.startsWith('/token-usage/user/') && path.indexOf('/', 18) === -1 && path.length > 18) {
      const id = pathParam('user_id', path.slice(18));
      send(res, 200, await astraUser(monitor, id, parseQuery(search, 'astraUser')));
    } else if (path.startsWith('/token-usage/thread/') && path.indexOf('/', 20) === -1 && path.length > 20) {
      const id = pathParam('thread_id', path.slice(20));
      send(res, 200, await astraThread(monitor, id, parseQuery(search, 'astraThread')));
    } else throw new HttpError(404, errorBody('not_found', `no route ${method} ${path.slice(0, 200)}`));
  };

  /** The answer to a failed request; never throws, whatever the error or the state of the response. */
  const fail = (res: ServerResponse, e: unknown): void => {
    try {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (e instanceof HttpError) {
        if (e.close) res.shouldKeepAlive = false;
        send(res, e.status, e.body);
      } else if (isValidationError(e)) send(res, 400, errorBody('validation_error', e.message, { field: e.field, value: e.value }));
      else if (isLedgerError(e)) send(res, 503, errorBody('ledger_error', e.message.slice(0, 500)));
      else send(res, 500, errorBody('internal_error', String((e as Error)?.message ?? e).slice(0, 500)));
    } catch {
      // Even the error answer could not be written (an error whose message throws, a broken socket).
      try {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
        res.end('{"error":{"type":"internal_error","message":"internal error"}}\n');
      } catch {
        res.destroy();
      }
    }
  };

  const server = createServer(
    {
      headersTimeout: o.headersTimeout,
      requestTimeout: o.requestTimeout,
      keepAliveTimeout: o.keepAliveTimeout,
      // Node checks the two timeouts above on this interval: a tenth of the shorter, within 50 ms to 1 s.
      connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(o.headersTimeout / 10))),
    },
    (req, res) => {
      handle(req, res).catch((e: unknown) => fail(res, e));
    },
  );
  server.maxConnections = o.maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${addr.port}`,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
