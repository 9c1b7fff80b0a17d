import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/** A recorded payload of test/fixtures, read as text. */
export function fixture(name: string): string {
  return readFileSync(join(import.meta.dirname, '..', 'fixtures', name), 'utf8');
}

/** A recorded JSON payload of test/fixtures, parsed. */
export function fixtureJson<T = unknown>(name: string): T {
  return JSON.parse(fixture(name)) as T;
}

/** What the replay server answers one request with. */
export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  /** A JSON body. */
  json?: unknown;
  /** A raw SSE body (served as text/event-stream). */
  sse?: string;
  /** A raw NDJSON body (served as application/x-ndjson). */
  ndjson?: string;
  /** A binary AWS event-stream body (served as application/vnd.amazon.eventstream). */
  eventStream?: Uint8Array;
  /** Stop after this many bytes of the body and drop the connection (a stream that fails midway). */
  cutAfterBytes?: number;
  /** Answer only after this many milliseconds (a slow server, for clients' timeouts and aborts). */
  delayMs?: number;
}

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

export interface ReplayServer {
  /** http://127.0.0.1:<port> */
  url: string;
  requests: ReceivedRequest[];
  close(): Promise<void>;
}

function send(res: ServerResponse, reply: Reply): void {
  // No Date header: some SDKs hand response headers to the caller, and two replies of one payload
  // must be identical even when a second ticks over between them.
  res.sendDate = false;
  let body: string | Uint8Array = '';
  let type = 'application/json';
  if (reply.eventStream !== undefined) {
    body = reply.eventStream;
    type = 'application/vnd.amazon.eventstream';
  } else if (reply.sse !== undefined) {
    body = reply.sse;
    type = 'text/event-stream';
  } else if (reply.ndjson !== undefined) {
    body = reply.ndjson;
    type = 'application/x-ndjson';
  } else if (reply.json !== undefined) {
    body = JSON.stringify(reply.json);
  }
  res.writeHead(reply.status ?? 200, { 'content-type': type, ...reply.headers });
  if (reply.cutAfterBytes !== undefined) {
    res.write(body.slice(0, reply.cutAfterBytes));
    // Let the first bytes reach the client, then drop the connection mid-stream.
    setTimeout(() => res.socket?.destroy(), 20);
    return;
  }
  res.end(body);
}

/**
 * A real HTTP server on a port the OS picks, answering each request with what `route` returns for
 * it (recorded provider payloads), and keeping every request it got.
 */
export async function replayServer(route: (req: ReceivedRequest) => Reply): Promise<ReplayServer> {
  const requests: ReceivedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        // Not JSON: keep the text.
      }
      const received = { method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body };
      requests.push(received);
      const reply = route(received);
      if (reply.delayMs === undefined) {
        send(res, reply);
        return;
      }
      // unref: a reply still waiting when the tests end keeps nothing alive; a client that gave up
      // has closed its connection by then, and nothing is sent.
      setTimeout(() => {
        if (!res.destroyed && !res.socket?.destroyed) send(res, reply);
      }, reply.delayMs).unref();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
