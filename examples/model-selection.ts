// Cost-aware model selection, as ASTRA's guide suggests it (cost_aware_model_selection), driven by
// the maintained prices and a budget: each call goes to the most capable model whose estimated
// cost fits what is left; once the budget passes its warning threshold, the cheaper model takes over.
//   node examples/model-selection.ts [--dir <dir>]      (default: a new temp dir)
// The calls go to a local stand-in for the OpenAI API (examples/setup.ts): offline, free.
import { TokenMonitor } from '../src/index.ts';
import { cliHint, exampleDir, localOpenAI } from './setup.ts';

const dir = exampleDir('model-selection');
const monitor = new TokenMonitor({ dir, metrics: false });
const api = await localOpenAI();
const openai = monitor.instrument(api.client); // in an app: monitor.instrument(new OpenAI())

// The summarizer agent may spend $0.03 a day (warning at 80%).
const LIMIT = 0.03;
monitor.setBudget({ scope: 'agent', scopeId: 'summarizer', limit: LIMIT, cycle: { kind: 'daily' } });
const budget = () => monitor.status().find((s) => s.scope === 'agent' && s.scopeId === 'summarizer');

const MODELS = ['gpt-4o', 'gpt-4o-mini']; // most capable first
for (const model of MODELS) {
  const p = monitor.price('openai', model);
  // Rates are picodollars (1e-12 USD) per token: ×1e6 / 1e12 is USD per million tokens.
  console.log(
    `${model}: $${((p?.input?.base ?? 0) / 1e6).toFixed(2)} in, $${((p?.output?.base ?? 0) / 1e6).toFixed(2)} out per 1M tokens (${p?.sourceDetail})`,
  );
}

/** What a call may cost at most: its input (about 4 characters a token) and its output ceiling, at the model's price. */
function estimateUsd(model: string, inputTokens: number, maxOutputTokens: number): number {
  const p = monitor.price('openai', model);
  if (p?.input === undefined || p.output === undefined) return Number.POSITIVE_INFINITY; // unknown price: never "cheap"
  return (inputTokens * p.input.base + maxOutputTokens * p.output.base) / 1e12;
}

/** The most capable model that fits what is left; past the warning threshold, only the cheaper ones. */
function chooseModel(inputTokens: number, maxOutputTokens: number): { model: string; estimate: number } | null {
  const b = budget();
  const left = b?.remaining ?? LIMIT;
  const candidates = (b?.level ?? 'ok') === 'ok' ? MODELS : MODELS.slice(1);
  for (const model of candidates) {
    const estimate = estimateUsd(model, inputTokens, maxOutputTokens);
    if (estimate <= left) return { model, estimate };
  }
  return null;
}

const MAX_OUTPUT = 300;
for (let n = 1; n <= 12; n++) {
  const doc = `Section ${n} of the annual report, with figures and commentary. `.repeat(60);
  const inputTokens = Math.ceil(doc.length / 4);
  const choice = chooseModel(inputTokens, MAX_OUTPUT);
  const before = budget();
  if (choice === null) {
    console.log(`doc ${n}: skipped, no model fits the $${before?.remaining.toFixed(6)} left`);
    continue;
  }
  await monitor.withContext({ agent: 'summarizer', operation: 'summarize' }, () =>
    openai.chat.completions.create({ model: choice.model, max_tokens: MAX_OUTPUT, messages: [{ role: 'user', content: doc }] }),
  );
  const after = budget();
  const cost = (after?.used ?? 0) - (before?.used ?? 0);
  console.log(
    `doc ${n}: ${choice.model} (estimate $${choice.estimate.toFixed(6)}, cost $${cost.toFixed(6)}); budget ${after?.percentUsed}% used, ${after?.level}`,
  );
}

await monitor.close();
await api.close();
console.log(`\nBy model: ${cliHint(dir, 'summary --by model')}`);
