// A budget per user, checked before each call, as ASTRA's check_user_budget and
// rate_limited_agent_call did it, and enforced: alerts as a user nears the limit, then a call
// the budget cannot afford is refused before it is sent (BudgetExceededError).
//   node examples/user-budget.ts [--dir <dir>]      (default: a new temp dir)
// The calls go to a local stand-in for the OpenAI API (examples/setup.ts): offline, free.
import { isBudgetExceededError, TokenMonitor } from '../src/index.ts';
import { cliHint, exampleDir, localOpenAI } from './setup.ts';

const dir = exampleDir('user-budget');
const monitor = new TokenMonitor({ dir, metrics: false });
const api = await localOpenAI();
const openai = monitor.instrument(api.client); // in an app: monitor.instrument(new OpenAI())

// Every user gets $0.02 a day of their own (scopeId '*': new users included). In config.json,
// for every process: { "budgets": [{ "scope": "user", "id": "*", "limit_usd": 0.02, "billing_cycle": "daily", "enforce": true }] }
const LIMIT = 0.02;
monitor.setBudget({ scope: 'user', scopeId: '*', limit: LIMIT, cycle: { kind: 'daily' }, enforce: true });
monitor.on('alert', (a) => console.log(`  alert (${a.level}): ${a.message}`));

/** ASTRA's check_user_budget: is the user within budget, and what is left. */
function checkUserBudget(userId: string): boolean {
  const b = monitor.status().find((s) => s.scope === 'user' && s.scopeId === userId);
  const used = b?.used ?? 0; // no state yet: nothing spent today
  if (used >= LIMIT) {
    console.log(`  ⚠️  User ${userId} has exceeded budget! Usage: $${used.toFixed(6)} / $${LIMIT.toFixed(2)}`);
    return false;
  }
  console.log(`  ✓ Budget OK: $${used.toFixed(6)} used, $${(LIMIT - used).toFixed(6)} remaining (${b?.level ?? 'ok'})`);
  return true;
}

const question = 'Compare the three vendor proposals and list the risks of each. '.repeat(20);
for (let n = 1; n <= 10; n++) {
  console.log(`call ${n} for alice`);
  if (!checkUserBudget('alice')) continue; // the app's own check, before the call
  try {
    const r = await monitor.withContext({ userId: 'alice', agent: 'domain_agent' }, () =>
      openai.chat.completions.create({ model: 'gpt-4o', max_tokens: 200, messages: [{ role: 'user', content: question }] }),
    );
    console.log(`  answered: ${r.usage?.prompt_tokens} input, ${r.usage?.completion_tokens} output tokens`);
  } catch (error) {
    // tokenmeter's own check: the call would overrun the budget, so it was never sent.
    if (!isBudgetExceededError(error)) throw error;
    console.log(`  refused: ${error.message}`);
    break; // out of budget until tomorrow (UTC)
  }
}
// bob has a budget of his own, untouched by alice's spending.
console.log('call 1 for bob');
checkUserBudget('bob');
await monitor.withContext({ userId: 'bob' }, () =>
  openai.chat.completions.create({ model: 'gpt-4o-mini', max_tokens: 200, messages: [{ role: 'user', content: 'Hello' }] }),
);

const alice = monitor.status().find((s) => s.scope === 'user' && s.scopeId === 'alice');
console.log(`\nalice: $${alice?.used.toFixed(6)} of $${LIMIT.toFixed(2)} used (${alice?.percentUsed}%), level ${alice?.level}`);
console.log(`The stand-in API received ${api.requests()} requests.`);
await monitor.close();
await api.close();
console.log(`\nThe ledger: ${cliHint(dir, 'records --user alice')}`);
