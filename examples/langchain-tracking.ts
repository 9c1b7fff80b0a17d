// ASTRA's recommended way: LangChain calls tracked by a callback. attachTokenTracking adds
// tokenmeter's handler to a LangChain config and takes the user and thread from its
// `configurable.user_id` and `thread_id` (as ASTRA's attach_token_tracking did); a handler of your
// own works for a single call (ASTRA's TokenTrackingCallbackHandler).
//   node examples/langchain-tracking.ts [--dir <dir>]      (default: a new temp dir)
// In an app: import { attachTokenTracking } from 'tokenmeter/langchain'. The model talks to a
// local stand-in for the OpenAI API (examples/setup.ts): offline, free.
import { ChatOpenAI } from '@langchain/openai';
import { TokenMonitor } from '../src/index.ts';
import { attachTokenTracking, TokenmeterCallbackHandler } from '../src/integrations/langchain.ts';
import { cliHint, exampleDir, localOpenAI } from './setup.ts';

const dir = exampleDir('langchain-tracking');
const monitor = new TokenMonitor({ dir, metrics: false });
const api = await localOpenAI();
const model = (name: string) => new ChatOpenAI({ model: name, apiKey: 'sk-local-stand-in-key', configuration: { baseURL: api.baseURL } });

// 1. Your existing agent config, with tracking attached.
let config = { configurable: { user_id: 'user@example.com', thread_id: 'conversation-123' } };
config = attachTokenTracking(config, { agentName: 'domain_agent' }, monitor);
await model('gpt-4o').invoke([{ role: 'user', content: 'What does the Q3 filing say about margins? '.repeat(10) }], config);
await model('gpt-4o').invoke([{ role: 'user', content: 'And about the outlook? '.repeat(10) }], config);

// 2. A handler for one call, in a custom agent.
const callback = new TokenmeterCallbackHandler(
  { userId: 'user@example.com', threadId: 'conversation-456', agentName: 'custom_agent' },
  monitor,
);
await model('gpt-4o-mini').invoke([{ role: 'user', content: 'Summarise the thread. '.repeat(20) }], { callbacks: [callback] });

// What the user's calls cost, by agent (ASTRA's requests_by_agent) and in all.
const u = await monitor.userUsage('user@example.com');
for (const a of u.byAgent) console.log(`${a.key}: ${a.requests} requests, ${a.totalTokens} tokens, $${a.costUsd.toFixed(6)}`);
console.log(`user@example.com: ${u.totals.requests} requests, $${u.totals.costUsd.toFixed(6)}`);

await monitor.close();
await api.close();
console.log(`\nThe records: ${cliHint(dir, 'records --user user@example.com')}`);
