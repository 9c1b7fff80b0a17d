import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenMonitor } from '../src/index.ts';
import { chatCompletion } from './helpers/chat-completion.ts';
import { histograms, readerFor, sums, TestReader } from './helpers/otel.ts';
import { useReplay } from './helpers/use-replay.ts';

// An instrumented call is recorded at the event loop's next turn (src/pipeline/later.ts). Each
// test reads right after the call returns, before that turn: every reader must see the call.
const server = useReplay(() => ({ json: chatCompletion('later') }));
const run = promisify(execFile);
const dirs: string[] = [];
const monitors: TokenMonitor[] = [];
afterEach(async () => {
  for (const m of monitors.splice(0)) await m.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setUp(options: ConstructorParameters<typeof TokenMonitor>[0] = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'tm-later-'));
  dirs.push(dir);
  const monitor = new TokenMonitor({ dir, loadConfig: false, logLevel: 'error', metrics: { prometheus: false }, ...options });
  monitors.push(monitor);
  const client = monitor.instrument(new OpenAI({ apiKey: 'sk-test-not-a-real-key-0000', baseURL: `${server.url}/v1`, maxRetries: 0 }));
  const call = () => client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] });
  return { dir, monitor, call };
}

// gpt-4o: 1,000 input tokens at $2.50 and 200 output at $10 per 1M.
const COST = 0.0045;

describe('a call recorded at the next turn is read at once', () => {
  it('by the running totals, health and the budgets, right after the call returns', async () => {
    const { monitor, call } = setUp({ budgets: [{ scope: 'global', limit: 1 }] });
    await call();
    expect(monitor.usageSummary('openai').requests).toBe(1);
    await call();
    expect(monitor.health().ledger?.pending).toBe(2);
    await call();
    expect(monitor.budgetStatus()[0]?.used).toBeCloseTo(3 * COST, 10);
  });

  it("by a collection of the metrics: tokenmeter's producer, and a MeterProvider of the user's", async () => {
    const own = setUp({ ledger: false });
    const reader = readerFor(own.monitor.metricProducer);
    await own.call();
    const requests = sums(await reader.metrics(), 'tokenmeter_requests');
    expect(requests.reduce((n, p) => n + p.value, 0)).toBe(1);

    const userReader = new TestReader();
    const provider = new MeterProvider({ readers: [userReader] });
    const theirs = setUp({ ledger: false, metrics: { meterProvider: provider } });
    await theirs.call();
    const metrics = await userReader.metrics();
    expect(sums(metrics, 'tokenmeter_requests').reduce((n, p) => n + p.value, 0)).toBe(1);
    // The GenAI histogram is recorded per call, so it must be recorded before the SDK collects it.
    const duration = histograms(metrics, 'gen_ai.client.operation.duration');
    expect(duration.reduce((n, p) => n + (p.value.count ?? 0), 0)).toBe(1);
    await provider.shutdown();
  });

  it("by the ledger's queries, with the time the call ended, not the time it was recorded", async () => {
    const { monitor, call } = setUp();
    const before = Date.now();
    await call();
    const after = Date.now();
    // The recording waits for the next turn; this turn runs on for a while first.
    while (Date.now() < after + 20) {
      // busy
    }
    const [rec] = await monitor.records();
    expect(rec?.costUsd).toBeCloseTo(COST, 10);
    expect(new Date(rec?.timestamp as number | string).getTime()).toBeGreaterThanOrEqual(before);
    expect(new Date(rec?.timestamp as number | string).getTime()).toBeLessThanOrEqual(after);
  });

  it('by an enforced budget: a call that ended counts at its cost, no longer its estimate, when the next one is admitted', async () => {
    // What tokenmeter estimates this call at, before it is sent (more than it costs: no max_tokens).
    const probe = setUp({ ledger: false, budgets: [{ scope: 'global', limit: 1e-9, enforce: true }] });
    const refused = await probe.call().then(
      () => undefined,
      (e: unknown) => e as { estimate?: number },
    );
    const estimate = refused?.estimate as number;
    expect(estimate).toBeGreaterThan(COST);
    // Room for one call's cost and one estimate, not for two estimates.
    const { monitor, call } = setUp({ budgets: [{ scope: 'global', limit: COST + estimate + (estimate - COST) / 2, enforce: true }] });
    await call();
    await call(); // refused if the first call still held its estimate
    await expect(call()).rejects.toThrow(/no room/);
    expect(monitor.usageSummary('openai').requests).toBe(2);
  });

  it('by the ledger at process.exit(), called before the event loop turned', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-later-exit-'));
    dirs.push(dir);
    const { stdout } = await run(process.execPath, [join(import.meta.dirname, 'helpers', 'later-exit-child.ts'), dir]);
    expect(stdout).toBe('called\n');
    const reader = new TokenMonitor({ dir, loadConfig: false, metrics: false, logLevel: 'error' });
    monitors.push(reader);
    const rows = await reader.records();
    expect(rows).toHaveLength(1);
    expect(rows[0]?.costUsd).toBeCloseTo(COST, 10);
  });
});
