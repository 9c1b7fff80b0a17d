import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROVIDER_IDS } from '../providers/registry.ts';
import { providerRows } from './providers.ts';

/** README's provider table, as rows of cell texts without the code marks. */
function readmeTable(): string[][] {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  const lines = readme.slice(readme.indexOf('\n### Providers\n')).split('\n');
  const first = lines.findIndex((l) => l.startsWith('| '));
  const rows: string[][] = [];
  // The table's rows: the lines after its head and separator, up to the first that is not a row.
  for (const l of lines.slice(first + 2)) {
    if (!l.startsWith('| ')) break;
    rows.push(
      l
        .slice(2, -2)
        .split(' | ')
        .map((c) => c.replaceAll('`', '')),
    );
  }
  return rows;
}

describe("README's provider table", () => {
  it('lists the registry: each provider with its name, service types, clients and price source', () => {
    const expected = providerRows().map((r) => [
      r.id,
      r.name,
      r.serviceTypes.join(', '),
      r.clients.join(', '),
      r.prices === 'local' ? 'local (no per-token charge)' : r.prices,
    ]);
    const table = readmeTable();
    expect(table.map((r) => r[0])).toEqual([...PROVIDER_IDS]);
    expect(table).toEqual(expected);
  });
});
