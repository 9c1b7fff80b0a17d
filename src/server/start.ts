import type { TokenMonitor } from '../monitor.ts';
import type { ApiServer, ApiServerOptions } from './api.ts';

/**
 * Starts tokenmeter's REST API for `monitor` (see api.ts's startApiServer). The server's modules
 * (its routes, their zod schemas, the page) are loaded on the first call: an app that meters its
 * calls and never serves the API does not hold them (some 2 MB of heap with zod).
 */
export async function startApiServer(monitor: TokenMonitor, options: ApiServerOptions = {}): Promise<ApiServer> {
  const api = await import('./api.ts');
  return api.startApiServer(monitor, options);
}
