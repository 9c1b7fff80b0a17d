// An agent workflow tracked automatically, as the research workflow's tracker and ASTRA's callback
// did it: one run with a budget, every call inside it metered through the instrumented client and
// tagged with its agent, and the run's statistics at the end (per agent and per model).
//   node examples/agent-workflow.ts [--dir <dir>]      (default: a new temp dir)
// The calls go to a local stand-in for the OpenAI API (examples/setup.ts): offline, free.
import { formatCostReport, TokenMonitor } from '../src/index.ts';
import { cliHint, exampleDir, localOpenAI } from './setup.ts';

const dir = exampleDir('agent-workflow');
const monitor = new TokenMonitor({ dir, metrics: false });
const api = await localOpenAI();
const openai = monitor.instrument(api.client); // in an app: monitor.instrument(new OpenAI())

// Warnings at 90% of the run's budget, as the research tracker's (its default is 80%).
monitor.on('alert', (a) => console.log(`[budget_${a.level === 'exceeded' ? 'exceeded' : 'warning'}] ${a.message}`));

/** One agent's step: its calls carry its name (the tracker's agent_name, ASTRA's agent_name). */
function step(agent: string, model: string, prompt: string, maxTokens: number) {
  return monitor.withContext({ agent, operation: 'chat' }, () =>
    openai.chat.completions.create({ model, max_tokens: maxTokens, messages: [{ role: 'user', content: prompt }] }),
  );
}

const topic = 'Transformer architectures';
const run = monitor.session({ budgetUsd: 0.05, thresholds: { warning: 0.9 } });
console.log(`[workflow_started] ${topic} (run ${run.id}, budget $0.05)`);
await run.run(async () => {
  const context = `Background notes on ${topic}. `.repeat(400);
  await step('planner', 'gpt-4o', `Break "${topic}" into subtasks.`, 400);
  // Model tiering: the researchers and the tester on the small model.
  await Promise.all(['arXiv', 'Semantic Scholar'].map((src) => step('researcher', 'gpt-4o-mini', `Search ${src}: ${context}`, 800)));
  await step('coder', 'gpt-4o', `Write example code. ${context}`, 1000);
  await step('tester', 'gpt-4o-mini', 'Test the example code.', 300);
  await step('synthesizer', 'gpt-4o', `Write the report. ${context}${context}${context.slice(0, 8000)}`, 1500);
});

// The run's own calls, read back from the ledger (flushed first).
const stats = await run.stats();
console.log(`\n${formatCostReport(stats)}`);
console.log(`\ntotal_calls ${stats.calls}  total_tokens ${stats.totalTokens}  total_cost_usd ${stats.costUsd.toFixed(6)}`);
for (const a of stats.byAgent) {
  console.log(`agent ${a.key}: ${a.requests} calls, ${a.totalTokens} tokens, $${a.costUsd.toFixed(6)}`);
}
const top = stats.byAgent[0];
if (top) console.log(`Most expensive: ${top.key} ($${top.costUsd.toFixed(6)}, ${(top.share * 100).toFixed(1)}%)`);
console.log(`Budget: ${((stats.budget?.utilization ?? 0) * 100).toFixed(1)}% of $0.05 used`);

await monitor.close();
await api.close();
console.log(`\nThe same report from the ledger: ${cliHint(dir, `session-report --run ${run.id} --budget 0.05`)}`);
