// A process that prices one call with a monitor on <dir>, for the refreshed-prices test: it
// prints the call's cost and the data its price came from, as JSON.
import { TokenMonitor } from '../../src/index.ts';

const [dir = '.'] = process.argv.slice(2);
const monitor = new TokenMonitor({ dir, metrics: false, ledger: false });
const { record } = monitor.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 1_000_000, outputTokens: 0 });
process.stdout.write(`${JSON.stringify({ costUsd: record?.costUsd ?? null, data: monitor.price('openai', 'gpt-4o')?.data ?? null })}\n`);
await monitor.close();
