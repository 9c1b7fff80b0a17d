// The research workflow's session report (its token tracker's get_statistics,
// get_cost_breakdown_report and export_to_json): the calls of one session, by agent and by model,
// against a budget, a bit of custom analysis, and a JSON export. The CLI prints the same report:
// `tokenmeter session-report --since <start> --budget 0.5`.
//   node examples/session-report.ts [--dir <dir>]      (default: a new temp dir)
import { join } from 'node:path';
import { formatCostReport, TokenMonitor } from '../src/index.ts';
import { cliHint, exampleDir } from './setup.ts';

const dir = exampleDir('session-report');
const monitor = new TokenMonitor({ dir, metrics: false });

// A session starts now (the tracker's reset()): its report covers the calls from here on.
const started = new Date();
const BUDGET = 0.5;

// The workflow's calls as its agents made them: the tracker's prompt_tokens and completion_tokens
// are inputTokens and outputTokens. Researcher and tester on Flash, the rest on Pro (model tiering).
const calls = [
  ['planner', 'gemini-1.5-flash', 1_200, 1_140],
  ['researcher', 'gemini-1.5-flash', 4_100, 1_020],
  ['researcher', 'gemini-1.5-flash', 5_300, 1_220],
  ['coder', 'gemini-1.5-pro', 3_900, 2_900],
  ['tester', 'gemini-1.5-flash', 1_500, 450],
  ['synthesizer', 'gemini-1.5-pro', 7_400, 1_600],
  ['critic', 'gemini-1.5-pro', 1_700, 300],
] as const;
for (const [agent, model, prompt, completion] of calls) {
  monitor.record({ provider: 'gemini', model, agent, inputTokens: prompt, outputTokens: completion, operation: 'generate_content' });
}

// get_statistics() and get_cost_breakdown_report(), from the ledger.
const stats = await monitor.sessionStats({ since: started, budgetUsd: BUDGET });
console.log(formatCostReport(stats));
console.log(`\ntotal_calls ${stats.calls}, total_tokens ${stats.totalTokens}, total_cost_usd ${stats.costUsd.toFixed(6)}`);
console.log(
  `average_cost_per_call ${stats.avgCostPerCall.toFixed(6)}, budget_utilization_percent ${((stats.budget?.utilization ?? 0) * 100).toFixed(2)}`,
);

// The tracker guide's custom analysis: the most expensive agent, and agents with large prompts.
const [top] = stats.byAgent;
if (top) console.log(`Most expensive: ${top.key} ($${top.costUsd.toFixed(6)})`);
for (const a of stats.byAgent) {
  const perCall = a.totalTokens / a.requests;
  if (perCall > 5000) console.log(`⚠️  ${a.key} uses ${perCall.toFixed(0)} tokens/call - consider compression`);
}

// export_to_json: the statistics (in the tracker's snake_case shape) and every call of the session.
const file = join(dir, 'token_usage.json');
const exported = await monitor.exportRecords(file, { since: started });
console.log(`\nExported ${exported.records} records to ${file}`);

await monitor.close();
console.log(`The same report from the CLI: ${cliHint(dir, `session-report --since ${started.toISOString()} --budget ${BUDGET}`)}`);
