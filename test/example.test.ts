import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from './helpers/prometheus.ts';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'src', 'cli', 'index.ts');

interface Status {
  scope: string;
  scopeId: string;
  window: string;
  limit: number;
  level: string;
}

describe('examples/basic.ts (npm run demo)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tokenmeter-demo-'));
  let child: ChildProcess | undefined;
  let stdout = '';
  let stderr = '';
  afterAll(() => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves a week of traffic and its config.json budgets; dana warns, turns critical and is exceeded, seen alike by the REST API and the CLI', async () => {
    // The story 20 times faster: dana's budget is exceeded 45 s / 20 after the start.
    child = spawn(process.execPath, [join(root, 'examples', 'basic.ts'), '--speed', '20', '--port', '0', '--dir', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
    });
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
    });
    const url = await waitFor('the demo to print its URLs', 30_000, () => /page +(http:\/\/127\.0\.0\.1:\d+)\//.exec(stdout)?.[1]);
    expect(stdout).toContain(`metrics      ${url}/metrics`);
    expect(stdout).toContain(`summary      ${url}/v1/summary?by=model`);
    const get = async (path: string) => {
      const res = await fetch(`${url}${path}`);
      expect(res.status, path).toBe(200);
      return res.json();
    };

    // The budgets are config.json's, and dana's goes the whole way within (sped-up) seconds.
    const status = await waitFor('dana exceeded in /v1/status', 20_000, async () => {
      const s = (await get('/v1/status')) as Status[];
      return s.find((b) => b.scope === 'user' && b.scopeId === 'dana' && b.limit === 2)?.level === 'exceeded' ? s : undefined;
    });
    const config = JSON.parse(readFileSync(join(root, 'examples', 'demo', 'config.json'), 'utf8')) as { budgets: { scope: string }[] };
    expect(config.budgets.length).toBeGreaterThanOrEqual(4);
    for (const b of config.budgets) expect(status.some((s) => s.scope === b.scope)).toBe(true);
    // Only dana's own budget past a threshold: the rest of the day stays within its budgets.
    expect(status.filter((s) => s.level !== 'ok').map((s) => `${s.scope}:${s.scopeId}:${s.limit}`)).toEqual(['user:dana:2']);
    const { alerts } = (await get('/v1/alerts')) as { alerts: { level: string; budget: { scope: string; scopeId: string } }[] };
    expect(alerts.filter((a) => a.budget.scopeId === 'dana').map((a) => a.level)).toEqual(['exceeded', 'critical', 'warning']);
    expect(stderr).toMatch(/warning threshold[\s\S]*critical threshold[\s\S]*dana exceeded/);

    // A realistic mix: providers, service types, agents, users, errors, streams.
    const by = async (dimension: string) =>
      ((await get(`/v1/summary?by=${dimension}&days=7`)) as { rows: { key: string | null; requests: number; errors: number }[] }).rows;
    expect((await by('provider')).length).toBeGreaterThanOrEqual(7);
    expect((await by('serviceType')).map((r) => r.key).sort()).toEqual(['embedding', 'llm', 'reranking']);
    expect((await by('agent')).length).toBeGreaterThanOrEqual(5);
    expect((await by('userId')).length).toBeGreaterThanOrEqual(6);
    expect((await by('day')).length).toBe(7);
    expect((await by('provider')).reduce((s, r) => s + r.errors, 0)).toBeGreaterThan(0);
    const records = (await get('/v1/records?limit=500')) as { metadata: { stream?: boolean } | null }[];
    expect(records.some((r) => r.metadata?.stream === true)).toBe(true);

    // The same server serves /metrics, with dana's budget gauge.
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^tokenmeter_cost_usd_total\{provider="anthropic",model="claude-sonnet-4-5"/m);
    expect(metrics).toMatch(/^tokenmeter_budget_used\{scope="user",scope_id="dana",window="daily",unit="usd"[^}]*\} 2\.\d+$/m);

    // The CLI reads the same ledger and config.json: the same budgets, the same alert.
    const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args, '--dir', dir, '--json'], { encoding: 'utf8' });
    const cliStatus = JSON.parse(run(['status']).stdout) as Status[];
    const key = (s: Status) => `${s.scope}:${s.scopeId}:${s.window}:${s.limit}`;
    expect(cliStatus.map(key).sort()).toEqual(status.map(key).sort());
    // The same answer as GET /v1/alerts: the budgets' levels now, and the alerts the serving process raised, from the ledger.
    type Raised = { level: string; budget: { scopeId: string } };
    const restAlerts = (await get('/v1/alerts')) as { budgets: Status[]; alerts: Raised[] };
    const cliAlerts = JSON.parse(run(['alerts']).stdout) as { budgets: Status[]; alerts: Raised[] };
    const dana = (a: { alerts: Raised[] }) => a.alerts.filter((x) => x.budget.scopeId === 'dana');
    expect(dana(cliAlerts).map((a) => a.level)).toEqual(['exceeded', 'critical', 'warning']);
    expect(dana(cliAlerts)).toEqual(dana(restAlerts));
    expect(cliAlerts.budgets.map(key).sort()).toEqual(restAlerts.budgets.map(key).sort());
    expect(cliAlerts.budgets[0]).toMatchObject({ scope: 'user', scopeId: 'dana', limit: 2, level: 'exceeded' });

    // Ctrl-C: the session's cost report, and a clean exit.
    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stdout).toMatch(/Cost report/);
    expect(stderr.split('\n').filter((l) => l !== '' && !l.startsWith('tokenmeter warn: tokenmeter alert: '))).toEqual([]);
  }, 60_000);
});
