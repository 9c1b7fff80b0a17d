import { PROVIDER_REGISTRY, type ProviderEntry } from '../providers/registry.ts';
import { table, toJson } from './output.ts';

export interface ProvidersArgs {
  json?: boolean | undefined;
}

/** One provider as `tokenmeter providers` (and README's provider table) shows it. */
export interface ProviderRow {
  id: string;
  name: string;
  serviceTypes: string[];
  /** The SDK packages whose clients `instrument()` records under this id. */
  clients: string[];
  /** Its id in @pydantic/genai-prices, or `local` (no per-token charge). */
  prices: string;
}

/** The registry's providers, as rows. */
export function providerRows(registry: readonly ProviderEntry[] = PROVIDER_REGISTRY): ProviderRow[] {
  return registry.map((p) => ({
    id: p.id,
    name: p.displayName,
    serviceTypes: [...p.serviceTypes],
    clients: [...new Set(p.clients.map((c) => c.sdk))],
    prices: p.pricing.local === true ? 'local' : (p.pricing.genaiPrices ?? ''),
  }));
}

/** `tokenmeter providers`: the provider ids tokenmeter knows, their SDKs and where their prices come from. */
export function providersCommand(args: ProvidersArgs, out: (s: string) => void): number {
  const rows = providerRows();
  if (args.json) out(toJson(rows));
  else
    out(
      table(
        ['Provider id', 'Name', 'Service types', 'instrument() clients', 'Prices'],
        rows.map((r) => [r.id, r.name, r.serviceTypes.join(', '), r.clients.join(', '), r.prices]),
      ),
    );
  return 0;
}
