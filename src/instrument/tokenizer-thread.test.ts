import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../logger.ts';
import { TokenMonitor } from '../monitor.ts';
import { estimateTextTokens, estimateUsage } from './estimate.ts';
import { holdCountsSettled, holdTokenizerLoaded, preloadHoldTokenizer } from './exact-counts.ts';
import { estimateInputTokens } from './hold-estimate.ts';
import { killTokenizerThread } from './tokenizer-thread.ts';

/**
 * How long the event loop was held at once while `work` ran, from the ticks of a 5 ms interval:
 * the largest gap between two ticks (wall time: a busy machine's scheduler adds to it), and the
 * most CPU time this thread spent between two ticks (what the thread itself was kept busy with;
 * undefined before Node 23.9, which has no per-thread CPU time).
 */
async function heldLoop(work: () => Promise<void>): Promise<{ gapMs: number; busyMs: number | undefined }> {
  const threadCpu = typeof process.threadCpuUsage === 'function' ? () => process.threadCpuUsage() : undefined;
  const cpuMs = () => {
    const c = threadCpu?.();
    return c === undefined ? 0 : (c.user + c.system) / 1000;
  };
  let last = performance.now();
  let lastCpu = cpuMs();
  let gapMs = 0;
  let busyMs = 0;
  const tick = () => {
    const now = performance.now();
    const cpu = cpuMs();
    gapMs = Math.max(gapMs, now - last);
    busyMs = Math.max(busyMs, cpu - lastCpu);
    last = now;
    lastCpu = cpu;
  };
  const interval = setInterval(tick, 5);
  try {
    await work();
  } finally {
    clearInterval(interval);
  }
  tick();
  return { gapMs, busyMs: threadCpu === undefined ? undefined : busyMs };
}

// A 200 KB tool result of minified JSON: one run without spaces, where js-tiktoken is slowest
// (quadratic in the length of a run it is given at once).
const json = JSON.stringify(Array.from({ length: 4000 }, (_, i) => ({ id: i, name: `item${i}`, tags: ['a', 'b'], score: i * 1.5 }))).slice(
  0,
  200_000,
);

describe('the tokenizer thread', () => {
  // Building js-tiktoken's o200k_base takes 0.3-1 s of CPU (0.5-3 s of wall time on a busy machine)
  // and a first count of a long run without spaces tens of ms: done on the main thread they froze
  // the app's event loop that long, once shortly after start-up (measured here with the old code:
  // 800-1,400 ms of this thread's CPU between two ticks, 2.2-4.3 s between them). Now the thread is
  // busy 10 ms at most at once; the wall-time bound is loose, as a machine with more runnable
  // threads than cores delays a free loop's ticks by 100-150 ms (measured with a worker that only spins).
  it('keeps the event loop free while js-tiktoken loads and counts a 200 KB run without spaces', async () => {
    let before = 0;
    let after = 0;
    let estimated: number | undefined;
    const held = await heldLoop(async () => {
      // An enforced budget starts loading the tokenizer in the background.
      const monitor = new TokenMonitor({
        loadConfig: false,
        ledger: false,
        metrics: false,
        logLevel: 'silent',
        budgets: [{ scope: 'global', limit: 100, enforce: true }],
      });
      await preloadHoldTokenizer();
      expect(holdTokenizerLoaded()).toBe(true);
      const body = { messages: [{ role: 'tool', tool_call_id: 'c1', content: json }] };
      before = estimateInputTokens('openai', 'gpt-4o', body);
      await holdCountsSettled();
      after = estimateInputTokens('openai', 'gpt-4o', body);
      // A stream that ended without usage, its 200 KB counted for the record.
      estimated = await estimateTextTokens([json], 'gpt-4o');
      await monitor.close();
    });
    // The text was counted: its exact count (about 0.4 tokens a character) replaced the script
    // estimate (1 a character in a run without spaces) in the hold, and the stream's estimate has it.
    expect(after).toBeLessThan(before * 0.6);
    expect(estimated).toBeGreaterThan(json.length * 0.3);
    expect(estimated).toBeLessThan(json.length * 0.6);
    if (held.busyMs !== undefined) expect(held.busyMs).toBeLessThan(100);
    expect(held.gapMs).toBeLessThan(1000);
  }, 60_000);

  it('runs a script to its end without waiting for the thread, but waits for a count a record needs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-tokenizer-'));
    const src = (file: string) => JSON.stringify(fileURLToPath(new URL(file, import.meta.url)));
    // An enforced budget loads the tokenizer, a hold sends it a long text to count (1 M characters
    // of Chinese: tens of seconds of the thread's time), and the script ends.
    const quick = join(dir, 'quick.ts');
    writeFileSync(
      quick,
      `import { TokenMonitor } from ${src('../index.ts')};
import { estimateInputTokens } from ${src('./hold-estimate.ts')};
import { holdTokenizerLoaded, preloadHoldTokenizer } from ${src('./exact-counts.ts')};
const monitor = new TokenMonitor({ loadConfig: false, ledger: false, metrics: false, budgets: [{ scope: 'global', limit: 1, enforce: true }] });
// Loading does not keep the process alive: the script does, until the tokenizer is loaded.
const alive = setInterval(() => {}, 1000);
await preloadHoldTokenizer();
const content = '本季度公司营业收入同比增长百分之十二，主要来自华东地区的新合同和线上渠道的扩张。'.repeat(25_000);
estimateInputTokens('openai', 'gpt-4o', { messages: [{ role: 'user', content }] });
await new Promise((resolve) => setTimeout(resolve, 100));
clearInterval(alive);
process.stdout.write(String(holdTokenizerLoaded()));
`,
    );
    // A count whose answer the script prints, with nothing else to keep it alive.
    const waits = join(dir, 'waits.ts');
    writeFileSync(
      waits,
      `import { estimateTextTokens } from ${src('./estimate.ts')};
void estimateTextTokens(['Hello there, tokenizer thread.'], 'gpt-4o').then((n) => process.stdout.write(String(n)));
`,
    );
    const run = (file: string) =>
      new Promise<{ out: string; afterOutputMs: number; code: number | null }>((resolve, reject) => {
        const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        let at = 0;
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          at = performance.now();
        });
        child.on('error', reject);
        child.on('close', (code) => resolve({ out, afterOutputMs: performance.now() - at, code }));
      });
    const [ended, counted] = await Promise.all([run(quick), run(waits)]);
    expect(ended).toMatchObject({ out: 'true', code: 0 });
    // The process ends without waiting for the thread's count.
    expect(ended.afterOutputMs).toBeLessThan(2000);
    expect(counted).toMatchObject({ out: '6', code: 0 });
  }, 60_000);

  it('falls back to the estimates without js-tiktoken when the thread dies, and says so once', async () => {
    const lines: string[] = [];
    const logger: Logger = { debug() {}, info() {}, warn: (m) => lines.push(m), error: (m) => lines.push(m) };
    const monitor = new TokenMonitor({ loadConfig: false, ledger: false, logger, metrics: { prometheus: { port: 0 } } });
    await monitor.ready();
    await preloadHoldTokenizer();
    expect(holdTokenizerLoaded()).toBe(true);
    const system = 'You answer questions about the quarterly report, citing the page of each figure you use. '.repeat(4);
    const body = { messages: [{ role: 'system', content: system }] };
    const script = estimateInputTokens('openai', 'gpt-4o', body);
    // The thread ends (as a crash would) with the text sent or about to be.
    await killTokenizerThread();
    await holdCountsSettled();
    expect(holdTokenizerLoaded()).toBe(false);
    expect(estimateInputTokens('openai', 'gpt-4o', body)).toBe(script);
    // A stream that ends without usage keeps its counts unknown, and nothing throws.
    expect(await estimateTextTokens(['Hello there.'], 'gpt-4o')).toBeUndefined();
    const missing = { provider: 'openai', model: 'gpt-4o', serviceType: 'llm', operation: 'chat', usageSource: 'missing' } as const;
    expect(await estimateUsage(missing, { messages: [] }, { parts: ['Hi'], chars: 2 })).toBe(missing);
    expect(lines).toEqual([
      expect.stringMatching(/^internal error in tokenizer .*the tokenizer thread exited \(code 1\).*script estimate/),
    ]);
    const metrics = await (await fetch(monitor.metricsUrl as string)).text();
    expect(metrics).toMatch(/^tokenmeter_internal_errors_total\{component="tokenizer"\} 1$/m);
    await monitor.close();
  }, 60_000);
});
