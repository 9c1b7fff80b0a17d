import { TokenMonitor } from '../monitor.ts';
import { startApiServer } from '../server/api.ts';

export interface ServeOptions {
  dir?: string | undefined;
  host?: string | undefined;
  port?: number | undefined;
  token?: string | undefined;
}

/**
 * `tokenmeter serve`: a TokenMonitor (ledger in the storage dir, budgets from its config.json)
 * behind the REST API, with /metrics on the same port. Runs until SIGINT or SIGTERM, then writes
 * what is queued and stops.
 */
export async function serveCommand(o: ServeOptions, out: (s: string) => void): Promise<number> {
  const monitor = new TokenMonitor({ ...(o.dir === undefined ? {} : { dir: o.dir }), metrics: { prometheus: { serve: false } } });
  const token = o.token ?? process.env.TOKENMETER_API_TOKEN;
  const server = await startApiServer(monitor, {
    host: o.host ?? '127.0.0.1',
    port: o.port ?? 8787,
    ...(token === undefined || token === '' ? {} : { token }),
  });
  out(`tokenmeter serving ${server.url} (REST API under /v1, metrics at /metrics, ledger in ${monitor.dir})`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
  await monitor.close();
  return 0;
}
