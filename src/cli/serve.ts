import { TokenMonitor } from '../monitor.ts';
import { type ApiServer, type ApiServerOptions, startApiServer } from '../server/api.ts';
import { checkExposure } from '../server/guard.ts';

export interface ServeOptions {
  dir?: string | undefined;
  /** A PostgreSQL ledger (postgres://…) instead of the dir's ledger.db. @default $TOKENMETER_LEDGER_URL */
  ledger?: string | undefined;
  host?: string | undefined;
  port?: number | undefined;
  token?: string | undefined;
  /** Listen beyond loopback without a token. */
  allowOpen?: boolean | undefined;
  /** Web origins whose pages may call the API. */
  corsOrigin?: string[] | undefined;
  headersTimeout?: number | undefined;
  requestTimeout?: number | undefined;
  keepAliveTimeout?: number | undefined;
  maxConnections?: number | undefined;
  maxLedgerBacklog?: number | undefined;
  /** How often budgets read the other processes' spending from the ledger, and config.json is looked at (ms; 0 never). @default 2000 */
  syncInterval?: number | undefined;
}

/** The connection limits given on the command line (the rest keep their defaults). */
function limits(
  o: ServeOptions,
): Pick<ApiServerOptions, 'headersTimeout' | 'requestTimeout' | 'keepAliveTimeout' | 'maxConnections' | 'maxLedgerBacklog'> {
  const out: Pick<ApiServerOptions, 'headersTimeout' | 'requestTimeout' | 'keepAliveTimeout' | 'maxConnections' | 'maxLedgerBacklog'> = {};
  for (const k of ['headersTimeout', 'requestTimeout', 'keepAliveTimeout', 'maxConnections', 'maxLedgerBacklog'] as const) {
    const v = o[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** A running `tokenmeter serve`: the monitor and the server over it. */
export interface Serving {
  monitor: TokenMonitor;
  server: ApiServer;
  /** Stops the server, then writes what is queued and closes the monitor. */
  close(): Promise<void>;
}

/**
 * What `tokenmeter serve` runs, for anyone who runs the same server (the demo): a TokenMonitor
 * (ledger in the storage dir, budgets from its config.json) behind the REST API, with /metrics
 * and the dashboard page (/) on the same port. Refuses (a ValidationError) to listen beyond
 * loopback without a token unless told the API is meant to be open; a failure to listen closes
 * the monitor and is thrown.
 */
export async function startServing(o: ServeOptions): Promise<Serving> {
  const host = o.host ?? '127.0.0.1';
  const env = o.token ?? process.env.TOKENMETER_API_TOKEN;
  const token = env === undefined || env === '' ? undefined : env;
  // Checked before the monitor opens the ledger: a refusal leaves nothing behind.
  checkExposure(host, token, o.allowOpen === true);
  const monitor = new TokenMonitor({
    ...(o.dir === undefined ? {} : { dir: o.dir }),
    ...(o.ledger === undefined && o.syncInterval === undefined
      ? {}
      : {
          ledger: {
            ...(o.ledger === undefined ? {} : { url: o.ledger }),
            ...(o.syncInterval === undefined ? {} : { syncIntervalMs: o.syncInterval }),
          },
        }),
    metrics: { prometheus: { serve: false } },
  });
  let server: ApiServer;
  try {
    server = await startApiServer(monitor, {
      host,
      port: o.port ?? 8787,
      ...(token === undefined ? {} : { token }),
      allowOpen: o.allowOpen === true,
      corsOrigins: o.corsOrigin ?? [],
      ...limits(o),
    });
  } catch (error) {
    await monitor.close();
    throw error;
  }
  return {
    monitor,
    server,
    close: async () => {
      await server.close();
      await monitor.close();
    },
  };
}

/**
 * `tokenmeter serve`: {@link startServing} until SIGINT or SIGTERM, then writes what is queued and
 * stops. Refuses (a ValidationError: exit code 2) to listen beyond loopback without a token unless
 * told the API is meant to be open.
 */
export async function serveCommand(o: ServeOptions, out: (s: string) => void): Promise<number> {
  const host = o.host ?? '127.0.0.1';
  let serving: Serving;
  try {
    serving = await startServing(o);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException)?.code;
    if (typeof code !== 'string') throw error;
    // EADDRINUSE, EACCES, EADDRNOTAVAIL...: a line saying so, not a stack trace.
    process.stderr.write(`tokenmeter: cannot listen on ${host} port ${o.port ?? 8787}: ${(error as Error).message}\n`);
    return 1;
  }
  const { monitor, server } = serving;
  const env = o.token ?? process.env.TOKENMETER_API_TOKEN;
  const open = (env === undefined || env === '') && o.allowOpen === true ? '; no token: the API is open to anyone who can reach it' : '';
  out(
    `tokenmeter serving ${server.url} (REST API under /v1, metrics at /metrics, ledger ${o.ledger === undefined && !process.env.TOKENMETER_LEDGER_URL ? `in ${monitor.dir}` : monitor.health().ledger?.location}${open})`,
  );
  out(`dashboard: open ${server.url}/ in a browser${env === undefined || env === '' ? '' : ' (it asks for the token)'}`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await serving.close();
  return 0;
}
