import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Alert, TokenMonitor } from '../src/index.ts';

// Configs written for the earlier tools: the Graphiti monitor's monitor_config.json, as its API
// reference (the seed 001) prints it.
const cli = join(import.meta.dirname, '..', 'src', 'cli', 'index.ts');
const SEED_CONFIG = {
  subscription_limits: {
    anthropic: { max_plan_tokens: 5000000, billing_cycle: 'monthly' },
    openai: { prepaid_credits: 100, monthly_limit: 0 },
    gemini: { free_tier_tokens: 1000000, paid_tier_tokens: 0 },
  },
  api_keys: {},
  alerts: { warn_at_percentage: 80, critical_at_percentage: 95 },
};

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'tm-seed-config-'));
}

function cliRun(dir: string, args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, TOKENMETER_DIR: dir } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function open(dir: string, options: ConstructorParameters<typeof TokenMonitor>[0] = {}) {
  return new TokenMonitor({ dir, metrics: false, logLevel: 'silent', ...options });
}

describe("the Graphiti monitor's monitor_config.json", () => {
  it('is read from the storage dir when there is no config.json, every key of it', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'monitor_config.json'), JSON.stringify(SEED_CONFIG, null, 4));
    const m = open(dir);
    // A limit of 0 is not set: openai's monthly_limit and gemini's paid tier are not there.
    expect(m.status().map((s) => [s.scopeId, s.limitType, s.limit, s.window, s.warningThreshold, s.criticalThreshold])).toEqual([
      ['anthropic', 'max_plan_tokens', 5000000, 'monthly', 0.8, 0.95],
      ['openai', 'prepaid_credits', 100, 'balance', 0.8, 0.95],
      ['gemini', 'free_tier_tokens', 1000000, 'monthly', 0.8, 0.95],
    ]);
    // Nothing spent: no limit of 0 shows as exceeded.
    expect(m.status().every((s) => s.level === 'ok')).toBe(true);
    await m.close();
    const status = cliRun(dir, ['status', '--json']);
    expect(status.code).toBe(0);
    expect((JSON.parse(status.out) as { limitType: string }[]).map((s) => s.limitType)).toEqual([
      'max_plan_tokens',
      'prepaid_credits',
      'free_tier_tokens',
    ]);
    // set-limit edits that file in place rather than starting a config.json beside it.
    expect(cliRun(dir, ['set-limit', 'anthropic', 'max_plan_tokens', '6000000']).code).toBe(0);
    expect(existsSync(join(dir, 'config.json'))).toBe(false);
    const written = JSON.parse(readFileSync(join(dir, 'monitor_config.json'), 'utf8'));
    expect(written.subscription_limits.anthropic.max_plan_tokens).toBe(6000000);
    expect(written.alerts).toEqual(SEED_CONFIG.alerts);
  });

  it('config.json wins when both are there', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'monitor_config.json'), JSON.stringify(SEED_CONFIG));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ subscription_limits: { groq: { monthly_limit: 5 } } }));
    const m = open(dir);
    expect(m.status().map((s) => s.scopeId)).toEqual(['groq']);
    await m.close();
  });

  it('sets the warning and critical thresholds from alerts.warn_at_percentage and critical_at_percentage', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({
        subscription_limits: { openai: { monthly_limit: 10 } },
        alerts: { warn_at_percentage: 50, critical_at_percentage: 70 },
      }),
    );
    const m = open(dir);
    // Budgets set in code without thresholds of their own take the file's too.
    m.setBudget({ scope: 'user', scopeId: 'ann', limit: 10 });
    const alerts: Alert[] = [];
    m.on('alert', (a) => alerts.push(a));
    m.record({ provider: 'openai', model: 'gpt-4o', userId: 'ann', costUsd: 5.5 });
    m.record({ provider: 'openai', model: 'gpt-4o', userId: 'ann', costUsd: 2 });
    expect(alerts.map((a) => [a.budget.scope, a.level, a.threshold])).toEqual([
      ['provider', 'warning', 0.5],
      ['user', 'warning', 0.5],
      ['provider', 'critical', 0.7],
      ['user', 'critical', 0.7],
    ]);
    expect(m.status().map((s) => [s.warningThreshold, s.criticalThreshold])).toEqual([
      [0.5, 0.7],
      [0.5, 0.7],
    ]);
    await m.close();
    const status = JSON.parse(cliRun(dir, ['status', '--json']).out) as { level: string; warningThreshold: number }[];
    expect(status[0]).toMatchObject({ level: 'critical', warningThreshold: 0.5 });
  });

  it('refuses thresholds that disagree, or a warning above critical, naming the key', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ alerts: { warn_at_percentage: 85, warning_threshold: 0.8 } }));
    expect(() => open(dir)).toThrow(/alerts\.warn_at_percentage: 85.*disagrees with alerts\.warning_threshold/);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ alerts: { warn_at_percentage: 96 } }));
    expect(() => open(dir)).toThrow(/alerts\.warn_at_percentage: 96.*below the critical threshold \(95%\)/);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ alerts: { critical_at_percentage: 150 } }));
    expect(() => open(dir)).toThrow(/alerts\.critical_at_percentage: 150/);
    // api_keys: the seed's empty section is fine; keys in it are refused, not ignored.
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ api_keys: { openai: 'sk-abc' } }));
    expect(() => open(dir)).toThrow(/api_keys.*tokenmeter keeps no API keys/);
  });
});

describe('a limit of 0', () => {
  it('is "not set", in config.json, in code and from set-limit, never "always exceeded"', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ subscription_limits: { openai: { monthly_limit: 0, max_plan_tokens: 0 } } }));
    const m = open(dir);
    m.setLimit('anthropic', 'monthly_limit', 0);
    m.setLimit('groq', 'monthly_limit', 5);
    m.setLimit('groq', 'monthly_limit', 0); // removes it again
    const r = m.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 1000, outputTokens: 100 });
    expect(r.alerts).toEqual([]);
    expect(m.status()).toEqual([]);
    await m.close();
    expect(cliRun(dir, ['status']).out).toMatch(/No subscription limits or budgets set/);
    expect(cliRun(dir, ['alerts']).out).toMatch(/No alerts/);
    // set-limit with 0 takes the limit away.
    expect(cliRun(dir, ['set-limit', 'openai', 'monthly_limit', '50']).code).toBe(0);
    const removed = cliRun(dir, ['set-limit', 'openai', 'monthly_limit', '0']);
    expect(removed.out).toMatch(/Removed openai monthly_limit.*0 means no limit/);
    // The file's own 0 stays as written (it reads as not set); the limit set-limit removed is gone.
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).subscription_limits).toEqual({ openai: { max_plan_tokens: 0 } });
    cliRun(dir, ['set-limit', 'groq', 'monthly_limit', '5']);
    cliRun(dir, ['set-limit', 'groq', 'monthly_limit', '0']);
    // A provider left with no limit goes too.
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).subscription_limits.groq).toBeUndefined();
  });
});

describe('prepaid_credits', () => {
  const DAY = 86_400_000;

  it('is a balance used up by what was spent since it was set, across months and restarts, not an allowance that resets', async () => {
    const dir = tempDir();
    const since = new Date(Date.now() - 70 * DAY).toISOString();
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({ subscription_limits: { openai: { prepaid_credits: 100, prepaid_credits_since: since, monthly_limit: 80 } } }),
    );
    const a = open(dir);
    // Spent before the credits were bought: not theirs. Then $30 two months ago, $20 last month.
    a.record({ provider: 'openai', model: 'gpt-4o', costUsd: 500, timestamp: Date.now() - 80 * DAY });
    a.record({ provider: 'openai', model: 'gpt-4o', costUsd: 30, timestamp: Date.now() - 60 * DAY });
    a.record({ provider: 'openai', model: 'gpt-4o', costUsd: 20, timestamp: Date.now() - 35 * DAY });
    await a.close();
    const b = open(dir);
    const prepaid = () => b.status().find((s) => s.limitType === 'prepaid_credits');
    expect(prepaid()).toMatchObject({ window: 'balance', used: 50, remaining: 50, resetsAt: null, windowStart: since });
    // The monthly limit, alone, starts again each month.
    expect(b.status().find((s) => s.limitType === 'monthly_limit')?.used).toBe(0);
    const alerts = b.record({ provider: 'openai', model: 'gpt-4o', costUsd: 45 }).alerts;
    expect(alerts.map((x) => [x.budget.limitType, x.level])).toEqual([
      ['prepaid_credits', 'warning'],
      ['prepaid_credits', 'critical'],
    ]);
    expect(prepaid()).toMatchObject({ used: 95, remaining: 5, level: 'critical' });
    await b.close();
    // The CLI, reading the ledger, agrees.
    const status = JSON.parse(cliRun(dir, ['status', '--json']).out) as { limitType: string; used: number }[];
    expect(status.find((s) => s.limitType === 'prepaid_credits')?.used).toBe(95);
    expect(cliRun(dir, ['status']).out).toMatch(/prepaid_credits.*never \(used up since/);
  });

  it('set-limit dates a new balance, and keeps the date when the same balance is set again', async () => {
    const dir = tempDir();
    const before = Date.now();
    expect(cliRun(dir, ['set-limit', 'openai', 'prepaid_credits', '100']).out).toMatch(/a balance, used up from 20\d\d-/);
    const read = () => JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).subscription_limits.openai;
    const first = read().prepaid_credits_since as string;
    expect(Date.parse(first)).toBeGreaterThanOrEqual(before - 1000);
    cliRun(dir, ['set-limit', 'openai', 'prepaid_credits', '100']);
    expect(read().prepaid_credits_since).toBe(first);
    await new Promise((r) => setTimeout(r, 5));
    cliRun(dir, ['set-limit', 'openai', 'prepaid_credits', '150']);
    expect(read().prepaid_credits_since > first).toBe(true);
    // A record from before the balance was set does not use it.
    const m = open(dir);
    m.record({ provider: 'openai', model: 'gpt-4o', costUsd: 10, timestamp: before - DAY });
    expect(m.status()[0]).toMatchObject({ limitType: 'prepaid_credits', used: 0 });
    await m.close();
  });

  it('set in code, counts from `since` (default: all the ledger holds)', async () => {
    const dir = tempDir();
    const a = open(dir);
    a.record({ provider: 'openai', model: 'gpt-4o', costUsd: 7, timestamp: Date.now() - 40 * DAY });
    await a.close();
    const b = open(dir);
    b.setLimit('openai', 'prepaid_credits', 20);
    expect(b.status()[0]).toMatchObject({ window: 'balance', used: 7 });
    b.setLimit('openai', 'prepaid_credits', 20, { since: new Date(Date.now() - DAY) });
    expect(b.status()[0]).toMatchObject({ window: 'balance', used: 0 });
    expect(() => b.setLimit('openai', 'prepaid_credits', 20, { since: 'last tuesday' })).toThrow(/Invalid since: "last tuesday"/);
    await b.close();
  });
});
