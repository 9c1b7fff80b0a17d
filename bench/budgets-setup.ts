/**
 * The calls and budgets of the budget benchmarks (bench/budgets.ts, and the fresh processes of
 * bench/record-budgets-child.ts): eight calls of three users on one key, and five enforced budgets
 * (provider, user, key, team, run) with limits far above what the benchmark spends, so that every
 * budget is checked and counted and none blocks.
 */
import { TokenMonitor } from '../src/index.ts';
import type { RunSession } from '../src/session.ts';
import type { UsageInput } from '../src/usage.ts';

export const BUDGET_BENCH_KEY = 'sk-proj-benchmarkkeybenchmarkkey-0xyz';
export const BUDGET_BENCH_LIMIT = 1e9;

export const BUDGET_BENCH_CALLS: readonly UsageInput[] = Array.from({ length: 8 }, (_, i) => ({
  provider: 'openai',
  model: i % 2 === 0 ? 'gpt-4o' : 'gpt-4o-mini',
  operation: 'extract_nodes',
  inputTokens: 1000 + i,
  outputTokens: 500,
  cachedInputTokens: 200,
  apiKey: BUDGET_BENCH_KEY,
  userId: `u${i % 3}`,
  agent: 'planner',
  durationMs: 840,
}));

/**
 * A monitor (no ledger, no exporter) and the session its calls run in: with `budgeted`, the five
 * budgets (the run budget is the session's); without, a session without a budget (tagging records
 * with the run is what any session does, so the difference is what the budgets add).
 */
export function budgetBenchMonitor(budgeted: boolean): { monitor: TokenMonitor; run: RunSession } {
  const monitor = new TokenMonitor({ loadConfig: false, ledger: false, metrics: { prometheus: false } });
  if (!budgeted) return { monitor, run: monitor.session() };
  const big = BUDGET_BENCH_LIMIT;
  monitor.setLimit('openai', 'monthly_limit', big, { enforce: true });
  monitor.setBudget({ scope: 'user', scopeId: '*', limit: big, enforce: true });
  monitor.setBudget({ scope: 'api_key', scopeId: '*', limit: big, enforce: true });
  monitor.setBudget({ scope: 'team', scopeId: 'search', members: { userIds: ['u0', 'u1', 'u2'] }, limit: big, enforce: true });
  return { monitor, run: monitor.session({ budgetUsd: big, enforce: true }) };
}
