import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { closeTokenMonitor, getTokenMonitor, getUsageReport, logEmbeddingUsage, logLlmUsage, setProviderLimit } from '../src/index.ts';

// The Graphiti monitor's module-level helpers (its API reference, the seed 001):
// set_provider_limit(provider, limit_type, value) and get_usage_report(provider=None, days=30).
const cli = join(import.meta.dirname, '..', 'src', 'cli', 'index.ts');

afterEach(async () => {
  await closeTokenMonitor();
});

function start(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tm-seed-helpers-'));
  getTokenMonitor({ dir, metrics: false, logLevel: 'silent' });
  return dir;
}

describe('setProviderLimit', () => {
  it('sets the limit on the process-wide monitor and keeps it in config.json, where tokenmeter status sees it', async () => {
    const dir = start();
    setProviderLimit('anthropic', 'max_plan_tokens', 5_000_000);
    setProviderLimit('openai', 'prepaid_credits', 100);
    expect(
      getTokenMonitor()
        .status()
        .map((s) => [s.scopeId, s.limitType, s.limit, s.window, s.source]),
    ).toEqual([
      // Kept in the config file, they show as the config's.
      ['anthropic', 'max_plan_tokens', 5_000_000, 'monthly', 'config'],
      ['openai', 'prepaid_credits', 100, 'balance', 'config'],
    ]);
    const file = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(file.subscription_limits.anthropic).toEqual({ max_plan_tokens: 5_000_000 });
    expect(file.subscription_limits.openai.prepaid_credits).toBe(100);
    logLlmUsage({ provider: 'openai', model: 'gpt-4o', inputTokens: 1_000_000, outputTokens: 100_000 });
    await getTokenMonitor().flush();
    const r = spawnSync(process.execPath, [cli, 'status', '--json', '--dir', dir], { encoding: 'utf8' });
    const status = JSON.parse(r.stdout) as { scopeId: string; limitType: string; used: number }[];
    expect(status.map((s) => [s.scopeId, s.limitType, s.used])).toEqual([
      ['anthropic', 'max_plan_tokens', 0],
      ['openai', 'prepaid_credits', 3.5],
    ]);
    // Set again at the next start, the same balance keeps its date (and what was spent of it).
    await closeTokenMonitor();
    getTokenMonitor({ dir, metrics: false, logLevel: 'silent' });
    setProviderLimit('openai', 'prepaid_credits', 100);
    expect(
      getTokenMonitor()
        .status()
        .find((s) => s.scopeId === 'openai')?.used,
    ).toBe(3.5);
    // 0 takes the limit away, here and in the file.
    setProviderLimit('anthropic', 'max_plan_tokens', 0);
    expect(
      getTokenMonitor()
        .status()
        .map((s) => s.scopeId),
    ).toEqual(['openai']);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).subscription_limits.anthropic).toBeUndefined();
  });

  it('with persist: false, sets it for this process only; bad arguments name the field', () => {
    const dir = start();
    setProviderLimit('gemini', 'free_tier_tokens', 1_000_000, { persist: false });
    expect(getTokenMonitor().status()[0]).toMatchObject({ scopeId: 'gemini', limit: 1_000_000 });
    expect(existsSync(join(dir, 'config.json'))).toBe(false);
    expect(() => setProviderLimit('openai', 'weekly_limit' as never, 5)).toThrow(/Invalid limit_type: "weekly_limit"/);
    expect(() => setProviderLimit('openai', 'monthly_limit', -1)).toThrow(/Invalid value: -1/);
    expect(() => setProviderLimit('openai', 'monthly_limit', 5, { persits: false } as never)).toThrow(/options\.persits/);
  });
});

describe('getUsageReport', () => {
  it("answers in the Graphiti monitor's shapes: one provider's summary, or every provider with subscription status", async () => {
    start();
    setProviderLimit('openai', 'monthly_limit', 10);
    logLlmUsage({ provider: 'openai', model: 'gpt-4o', inputTokens: 1_000_000, outputTokens: 100_000, operation: 'summarize' });
    logLlmUsage({ provider: 'openai', model: 'gpt-4o-mini', inputTokens: 2_000_000, outputTokens: 0 });
    logEmbeddingUsage({ provider: 'openai', model: 'text-embedding-3-small', inputTokens: 1_000_000 });
    logLlmUsage({ provider: 'anthropic', model: 'claude-sonnet-4-20250514', inputTokens: 150, outputTokens: 500 });
    // Older than the 7 days asked for below.
    logLlmUsage({ provider: 'openai', model: 'gpt-4o', inputTokens: 1_000_000, outputTokens: 0, timestamp: Date.now() - 10 * 86_400_000 });

    const openai = await getUsageReport('openai', 7);
    // gpt-4o: $2.50 + $1.00; gpt-4o-mini: $0.30; text-embedding-3-small: $0.02.
    expect(openai).toMatchObject({
      provider: 'openai',
      period_days: 7,
      total_requests: 3,
      total_input_tokens: 4_000_000,
      total_output_tokens: 100_000,
      total_tokens: 4_100_000,
    });
    expect(openai.total_cost_usd).toBeCloseTo(3.82, 10);
    expect(Object.keys(openai.by_service_type).sort()).toEqual(['embedding', 'llm']);
    expect(openai.by_service_type.llm).toMatchObject({ requests: 2, input_tokens: 3_000_000, output_tokens: 100_000 });
    expect(openai.by_model['gpt-4o']?.cost_usd).toBeCloseTo(3.5, 10);
    // The default range is 30 days, as the seed's: the older call counts.
    expect((await getUsageReport('openai')).total_requests).toBe(4);
    expect(await getUsageReport('mistral')).toMatchObject({ provider: 'mistral', total_requests: 0, total_cost_usd: 0, by_model: {} });

    const all = await getUsageReport(undefined, 7);
    expect(all.summary).toMatchObject({ total_requests: 4, total_input_tokens: 4_000_150, total_output_tokens: 100_500 });
    expect(Object.keys(all.by_provider).sort()).toEqual(['anthropic', 'openai']);
    expect(all.by_provider.anthropic?.total_tokens).toBe(650);
    expect(all.report_period.days).toBe(7);
    // The seed's loop: `for provider, info in status.items(): info['percentage_used']`.
    expect(all.subscription_status.openai).toMatchObject({ limit_type: 'monthly_limit', limit: 10, level: 'ok' });
    // This month's window: the call of 10 days ago counts only when it falls in this month too.
    const tenDaysAgoThisMonth = new Date(Date.now() - 10 * 86_400_000).getUTCMonth() === new Date().getUTCMonth();
    expect(all.subscription_status.openai?.percentage_used).toBeCloseTo(tenDaysAgoThisMonth ? 63.2 : 38.2, 1);
    expect(JSON.parse(JSON.stringify(all))).toEqual(all);
    await expect(getUsageReport('openai', 0)).rejects.toThrow(/Invalid days: 0/);
  });
});
