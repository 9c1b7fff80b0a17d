import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startApiServer, TokenMonitor } from '../src/index.ts';

// Whatever defines a budget, every view that lists budgets shows it, or says plainly where it lives.
const cli = join(import.meta.dirname, '..', 'src', 'cli', 'index.ts');

function cliRun(dir: string, args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args, '--dir', dir], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('budgets set in code', () => {
  it("are listed, with where each budget lives, by the app's status() and the /v1/status of the REST API it serves", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-budget-views-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ subscription_limits: { openai: { monthly_limit: 100 } } }));
    const monitor = new TokenMonitor({
      dir,
      metrics: false,
      logLevel: 'silent',
      budgets: [{ scope: 'agent', scopeId: 'planner', limit: 5 }],
    });
    monitor.setBudget({ scope: 'user', scopeId: 'ann', limit: 2, enforce: true });
    monitor.setLimit('anthropic', 'max_plan_tokens', 5_000_000);
    const run = monitor.session({ budgetUsd: 0.5 });
    monitor.record({ provider: 'openai', model: 'gpt-4o', userId: 'ann', agent: 'planner', costUsd: 1.5 });
    const expected = [
      ['provider', 'openai', 'config'],
      ['agent', 'planner', 'code'],
      ['user', 'ann', 'code'],
      ['provider', 'anthropic', 'code'],
      ['run', run.id, 'code'],
    ];
    expect(monitor.status().map((s) => [s.scope, s.scopeId, s.source])).toEqual(expected);
    const api = await startApiServer(monitor, { port: 0 });
    try {
      const status = (await (await fetch(`${api.url}/v1/status`)).json()) as {
        scope: string;
        scopeId: string;
        source: string;
        used: number;
      }[];
      expect(status.map((s) => [s.scope, s.scopeId, s.source])).toEqual(expected);
      expect(status.find((s) => s.scopeId === 'ann')?.used).toBe(1.5);
    } finally {
      await api.close();
      await monitor.close();
    }

    // Another process (the CLI) reads config.json and the ledger: it shows the config's budget and
    // says plainly where the others are.
    const table = cliRun(dir, ['status']);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/openai +│ monthly_limit/);
    expect(table.out).not.toMatch(/planner/);
    expect(table.out).toContain(`From ${join(dir, 'config.json')}.`);
    expect(table.out).toContain(
      "Budgets set in an app's code (setLimit, setBudget, the budgets option, sessions) are in no file, so they are not listed here: the app's monitor.status(), the GET /v1/status of a REST API it serves (startApiServer)",
    );
    expect((JSON.parse(cliRun(dir, ['status', '--json']).out) as { source: string }[]).map((s) => s.source)).toEqual(['config']);
    // With nothing in config.json, it says so, and where budgets set in code are.
    const empty = mkdtempSync(join(tmpdir(), 'tm-budget-views-'));
    expect(cliRun(empty, ['status']).out).toMatch(/No subscription limits or budgets set in[\s\S]*Budgets set in an app's code/);
  });

  it("give the Prometheus alerts' advice for both kinds of budget", () => {
    const rules = readFileSync(join(import.meta.dirname, '..', 'prometheus', 'rules', 'tokenmeter.rules.yml'), 'utf8');
    expect(rules).not.toMatch(/Run `tokenmeter status` for every budget/);
    expect(rules.match(/GET \/v1\/status on a REST API it serves/g)?.length).toBe(3);
  });
});
