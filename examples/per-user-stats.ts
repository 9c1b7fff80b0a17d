// Per-user and per-thread statistics, as ASTRA's token monitor gave them (get_user_usage,
// get_thread_usage): calls tagged with who made them, then one user's totals, cost by model,
// requests by agent and daily cost trend.
//   node examples/per-user-stats.ts [--dir <dir>]      (default: a new temp dir)
// The calls go to a local stand-in for the OpenAI API (examples/setup.ts): offline, free.
import { TokenMonitor } from '../src/index.ts';
import { cliHint, exampleDir, localOpenAI } from './setup.ts';

const dir = exampleDir('per-user-stats');
const monitor = new TokenMonitor({ dir, metrics: false });
const api = await localOpenAI();
const openai = monitor.instrument(api.client); // in an app: monitor.instrument(new OpenAI())

// Automatic: every call inside withContext carries its user, thread and agent (ASTRA's
// configurable.user_id and thread_id; with LangChain, attachTokenTracking reads those).
const ask = (userId: string, threadId: string, agent: string, model: string, question: string) =>
  monitor.withContext({ userId, threadId, agent, operation: 'chat' }, () =>
    openai.chat.completions.create({ model, max_tokens: 300, messages: [{ role: 'user', content: question }] }),
  );
await ask('user@example.com', 'conversation-123', 'domain_agent', 'gpt-4o', 'What changed in the Q3 filing? '.repeat(20));
await ask('user@example.com', 'conversation-123', 'research_agent', 'gpt-4o-mini', 'Find the sources. '.repeat(40));
await ask('user@example.com', 'conversation-456', 'domain_agent', 'gpt-4o', 'Summarise the call notes. '.repeat(30));
await ask('other@example.com', 'conversation-789', 'domain_agent', 'gpt-4o-mini', 'Translate this. '.repeat(10));

// Manual, for calls made elsewhere (ASTRA's track_usage): here the same user's last two days.
const DAY = 86_400_000;
for (const [daysAgo, model, input, output] of [
  [2, 'gpt-4o', 2_450, 512],
  [1, 'gpt-4o-mini', 5_200, 900],
  [1, 'gpt-4o', 1_300, 420],
] as const) {
  monitor.record({
    provider: 'openai',
    model,
    inputTokens: input,
    outputTokens: output,
    userId: 'user@example.com',
    threadId: 'conversation-123',
    agent: 'domain_agent',
    operation: 'chat',
    timestamp: Date.now() - daysAgo * DAY,
  });
}

// GET /token-usage/user/{user_id}?days=30, in ASTRA's field names.
const u = await monitor.userUsage('user@example.com', { days: 30 });
const astra = {
  total_requests: u.totals.requests,
  total_input_tokens: u.totals.inputTokens,
  total_output_tokens: u.totals.outputTokens,
  total_tokens: u.totals.totalTokens,
  total_cost: u.totals.costUsd,
  cost_by_model: Object.fromEntries(u.byModel.map((m) => [m.key, m.costUsd])),
  tokens_by_model: Object.fromEntries(u.byModel.map((m) => [m.key, m.totalTokens])),
  requests_by_agent: Object.fromEntries(u.byAgent.map((a) => [a.key, a.requests])),
  cost_trend: u.daily.map((d) => ({ date: d.day, cost: d.costUsd })),
};
console.log('user@example.com, last 30 days:');
console.log(JSON.stringify(astra, null, 2));

// One conversation (get_thread_usage).
const t = await monitor.threadUsage('conversation-123');
console.log(`\nconversation-123: ${t.totals.requests} requests, ${t.totals.totalTokens} tokens, $${t.totals.costUsd.toFixed(6)}`);

await monitor.close();
await api.close();
console.log(`\nThe same from the ledger: ${cliHint(dir, 'records --user user@example.com')}`);
