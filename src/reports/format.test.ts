import { describe, expect, it } from 'vitest';
import { emptyUnknown } from '../ledger/rollup.ts';
import { bar, duration, formatCostReport, num, percent, shareBar, usd } from './format.ts';
import type { SessionStats } from './reports.ts';

describe('bar', () => {
  it.each([
    [0, '          '],
    [0.5, '█████     '],
    [0.421, '████▎     '],
    [0.01, '▏         '],
    [0.004, '          '],
    [1, '██████████'],
    [1.7, '██████████'],
    [-0.2, '          '],
    [Number.NaN, '          '],
    [Number.POSITIVE_INFINITY, '██████████'],
  ])('%s → "%s"', (share, expected) => {
    expect(bar(share)).toBe(expected);
  });

  it('is always as wide as asked, to an eighth of a cell', () => {
    expect(bar(0.5, 4)).toBe('██  ');
    expect(bar(1 / 32, 4)).toBe('▏   ');
    for (let s = 0; s <= 1; s += 0.013) expect(bar(s, 7)).toHaveLength(7);
  });
});

describe('shares and money', () => {
  it.each([
    [0.421, '42.1%'],
    [1, '100.0%'],
    [0, '0.0%'],
    [1.2346, '123.5%'],
    [Number.POSITIVE_INFINITY, '∞%'],
  ])('percent(%s) = %s', (share, expected) => {
    expect(percent(share)).toBe(expected);
  });

  it('puts the percentage after the bar, right-aligned', () => {
    expect(shareBar(0.421)).toBe('████▎       42.1%');
    expect(shareBar(1)).toBe('██████████ 100.0%');
    expect(shareBar(0.05)).toBe('▌            5.0%');
  });

  it.each([
    [1.2345, '$1.2345'],
    [0.06, '$0.0600'],
    [1234567.891, '$1,234,567.8910'],
    [0, '$0.0000'],
    [0.00000255, '<$0.0001'],
    [0.00005, '$0.0001'],
    [-2.5, '-$2.5000'],
    [Number.NaN, 'n/a'],
  ])('usd(%s) = %s', (value, expected) => {
    expect(usd(value)).toBe(expected);
  });

  it('writes counts with thousands separators and durations in units people read', () => {
    expect(num(1234567)).toBe('1,234,567');
    expect(num(1028.46, 1)).toBe('1,028.5');
    expect(num(12)).toBe('12');
    expect([450, 12_340, 245_000, 3_723_000].map(duration)).toEqual(['450ms', '12.3s', '4m 05s', '1h 02m 03s']);
  });
});

describe('formatCostReport', () => {
  const row = (key: string | null, requests: number, tokens: number, cost: number, share: number, unpriced = 0) => ({
    key,
    requests,
    errors: 0,
    inputTokens: tokens,
    outputTokens: 0,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens: 0,
    totalTokens: tokens,
    costUsd: cost,
    costPicoUsd: BigInt(Math.round(cost * 1e12)),
    unpricedRequests: unpriced,
    inputCostUsd: 0,
    inputCostPicoUsd: 0n,
    outputCostUsd: 0,
    outputCostPicoUsd: 0n,
    unknownCounts: emptyUnknown(),
    share,
  });
  const stats: SessionStats = {
    calls: 4,
    errors: 1,
    inputTokens: 9000,
    outputTokens: 3345,
    totalTokens: 12345,
    costUsd: 1.5,
    avgTokensPerCall: 3086.25,
    avgCostPerCall: 0.375,
    byAgent: [row('researcher', 3, 12000, 1.2, 0.8), row(null, 1, 345, 0.3, 0.2)],
    byModel: [row('gpt-4o', 2, 12000, 1.5, 1), row('house-model', 2, 345, 0, 0, 2)],
    unknownCounts: emptyUnknown(),
    budget: { limitUsd: 2, usedUsd: 1.5, utilization: 0.75, remainingUsd: 0.5 },
    startedAt: '2026-05-01T10:00:00.000Z',
    endedAt: '2026-05-01T11:02:03.000Z',
    durationMs: 3_723_000,
  };

  it('shows calls, tokens, cost, averages, shares by agent and model, budget use and duration', () => {
    const text = formatCostReport(stats);
    expect(text).toContain('Cost report, 2026-05-01T10:00:00.000Z to 2026-05-01T11:02:03.000Z');
    expect(text).toMatch(/Duration\s+1h 02m 03s/);
    expect(text).toMatch(/Calls\s+4 \(1 failed\)/);
    expect(text).toMatch(/Tokens\s+12,345 \(9,000 input, 3,345 output\)/);
    expect(text).toMatch(/Cost\s+\$1\.5000\n/);
    expect(text).toMatch(/Per call\s+3,086\.3 tokens, \$0\.3750/);
    expect(text).toMatch(/Budget\s+███████▌ {4}75\.0% of \$2\.0000: \$1\.5000 used, \$0\.5000 left\n/);
    expect(text).toMatch(/researcher\s+3\s+12,000\s+\$1\.2000\s+████████ {4}80\.0%/);
    expect(text).toMatch(/\(none\)\s+1\s+345\s+\$0\.3000\s+██ {10}20\.0%/);
    expect(text).toMatch(/house-model\s+2\s+345\s+unpriced\s+0\.0%/);
    expect(text.indexOf('By agent')).toBeLessThan(text.indexOf('By model'));
  });

  it('never shows an unknown count as 0: ? when no call reported it, ≥ the known sum when some did not', () => {
    const rerank = {
      ...row('rerank-v3.5', 1, 0, 0.3, 0.2),
      unknownCounts: { ...emptyUnknown(), inputTokens: 1, outputTokens: 1, totalTokens: 1 },
    };
    const text = formatCostReport({
      ...stats,
      byModel: [row('gpt-4o', 3, 12345, 1.2, 0.8), rerank],
      unknownCounts: { ...emptyUnknown(), inputTokens: 1, outputTokens: 2, totalTokens: 2 },
    });
    expect(text).toMatch(/Tokens\s+≥12,345 \(≥9,000 input, ≥3,345 output\)/);
    expect(text).toMatch(/rerank-v3\.5\s+1\s+\?\s+\$0\.3000/);
    expect(text).toContain('? : no call reported the count');
    expect(formatCostReport(stats)).not.toContain('? : no call');
  });

  it('says when the budget is exceeded, leaves it out when there is none, and reports no calls', () => {
    expect(formatCostReport({ ...stats, budget: { limitUsd: 1, usedUsd: 1.5, utilization: 1.5, remainingUsd: 0 } })).toMatch(
      /██████████ 150\.0% of \$1\.0000: \$1\.5000 used, \$0\.0000 left \(exceeded\)/,
    );
    expect(formatCostReport({ ...stats, budget: null })).not.toContain('Budget');
    expect(formatCostReport({ ...stats, calls: 0 })).toBe('Cost report: no calls recorded.');
  });
});
