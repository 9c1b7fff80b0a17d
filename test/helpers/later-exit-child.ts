// A process that makes one instrumented call and exits at once (process.exit), before the event
// loop turns: the call is still waiting to be recorded (see src/pipeline/later.ts) and must reach
// the ledger all the same. argv: <dir>
import OpenAI from 'openai';
import { TokenMonitor } from '../../src/index.ts';
import { chatCompletion } from './chat-completion.ts';

const [dir = '.'] = process.argv.slice(2);
const monitor = new TokenMonitor({ dir, metrics: false, loadConfig: false, logLevel: 'error' });
const body = JSON.stringify(chatCompletion('exit-child'));
const client = monitor.instrument(
  new OpenAI({
    apiKey: 'sk-test-not-a-real-key-0000',
    baseURL: 'http://tokenmeter.invalid/v1',
    maxRetries: 0,
    fetch: async () => new Response(body, { headers: { 'content-type': 'application/json' } }),
  }),
);
await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] });
// Nothing that reads what was recorded (it would record what waits): the process just ends.
process.stdout.write('called\n');
process.exit(0);
