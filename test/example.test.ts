import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('examples/basic.ts', () => {
  it('records calls of several providers and serves their cost on /metrics', () => {
    const r = spawnSync(process.execPath, [join(import.meta.dirname, '..', 'examples', 'basic.ts'), '--once'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/gemini\s+gemini-2\.5-pro\s+252000 tokens\s+\$0\.655000/);
    expect(r.stdout).toContain(
      'tokenmeter_cost_usd_total{provider="cohere",model="rerank-v3.5",service_type="reranking",operation="rerank"} 0.002',
    );
    // The calls are in the ledger and the session's cost report reads them back.
    expect(r.stdout).toMatch(/Calls\s+6/i);
    expect(r.stdout).toContain('ledger: ');
  });
});
