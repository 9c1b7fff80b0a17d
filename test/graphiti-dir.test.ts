import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TokenMonitor } from '../src/index.ts';

// The Graphiti token monitor's users set GRAPHITI_TOKEN_MONITOR_DIR (seed 000, "Environment
// Variables") to where its monitor_config.json lives; tokenmeter reads that dir when
// TOKENMETER_DIR is not set.
const cli = join(import.meta.dirname, '..', 'src', 'cli', 'index.ts');

/** The environment without TOKENMETER_DIR (the test setup sets one), plus `extra`. */
function envWith(extra: Record<string, string>): Record<string, string> {
  const { TOKENMETER_DIR: _, ...rest } = process.env;
  return { ...(rest as Record<string, string>), ...extra };
}

describe('GRAPHITI_TOKEN_MONITOR_DIR', () => {
  it("is the storage dir of the monitor and the CLI when TOKENMETER_DIR is not set: its monitor_config.json's limits, and the ledger there", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-graphiti-dir-'));
    writeFileSync(join(dir, 'monitor_config.json'), JSON.stringify({ subscription_limits: { anthropic: { max_plan_tokens: 1000 } } }));
    const env = envWith({ GRAPHITI_TOKEN_MONITOR_DIR: dir });
    const m = new TokenMonitor({ metrics: false, logLevel: 'silent', env });
    expect(m.dir).toBe(dir);
    m.record({ provider: 'anthropic', model: 'claude-sonnet-4-5', inputTokens: 600, outputTokens: 250 });
    await m.close();
    expect(existsSync(join(dir, 'ledger.db'))).toBe(true);

    const r = spawnSync(process.execPath, [cli, 'status', '--json'], { encoding: 'utf8', env });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const [limit, ...rest] = JSON.parse(r.stdout) as { scopeId: string; limitType: string; used: number; limit: number }[];
    expect(rest).toEqual([]);
    expect(limit).toMatchObject({ scopeId: 'anthropic', limitType: 'max_plan_tokens', used: 850, limit: 1000 });
  });

  it('gives way to TOKENMETER_DIR when both are set', () => {
    const graphiti = mkdtempSync(join(tmpdir(), 'tm-graphiti-dir-'));
    const own = mkdtempSync(join(tmpdir(), 'tm-own-dir-'));
    writeFileSync(join(graphiti, 'monitor_config.json'), JSON.stringify({ subscription_limits: { anthropic: { max_plan_tokens: 1000 } } }));
    const r = spawnSync(process.execPath, [cli, 'status', '--json'], {
      encoding: 'utf8',
      env: envWith({ GRAPHITI_TOKEN_MONITOR_DIR: graphiti, TOKENMETER_DIR: own }),
    });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
  });
});
