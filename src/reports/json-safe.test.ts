import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TokenMonitor } from '../monitor.ts';

describe('reports as JSON', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tm-json-'));
  const m = new TokenMonitor({ dir, metrics: false, loadConfig: false, prices: { 'gpt-4o': { input: 2.5, output: 10 } } });
  afterAll(async () => {
    await m.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('JSON.stringify writes every report, its exact picodollar sums as strings, while the report keeps its bigints', async () => {
    m.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 1000, outputTokens: 100, userId: 'u1', threadId: 't1' });
    m.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 3, outputTokens: 7, userId: 'u1', threadId: 't1' });
    await m.flush();
    // 1000 × 2.5 + 100 × 10 = 3,500 µ$ and 3 × 2.5 + 7 × 10 = 77.5 µ$: 3,577.5 µ$ in all.
    const pico = '3577500000';
    const providers = await m.providerSummaries({ days: 1 });
    expect(providers[0]?.costPicoUsd).toBe(3_577_500_000n);
    const parsed = JSON.parse(JSON.stringify(providers)) as { costPicoUsd: string; byModel: Record<string, { costPicoUsd: string }> }[];
    expect(Array.isArray(parsed)).toBe(true);
    expect(parsed[0]?.costPicoUsd).toBe(pico);
    expect(parsed[0]?.byModel['gpt-4o']?.costPicoUsd).toBe(pico);
    const reports: object[] = [
      await m.summary({ days: 1 }),
      await m.report({ days: 1 }),
      await m.daily({ days: 1 }),
      await m.overview({ days: 1 }),
      await m.userUsage('u1', { days: 1 }),
      await m.threadUsage('t1', { days: 1 }),
      await m.sessionStats({ days: 1 }),
    ];
    for (const r of reports) {
      const text = JSON.stringify(r);
      expect(text).toContain('"costUsd":0.0035775');
      expect(text).not.toContain('toJSON');
    }
    expect((JSON.parse(JSON.stringify(reports[0])) as { total: { costPicoUsd: string } }).total.costPicoUsd).toBe(pico);
  });
});
