import { describe, expect, it } from 'vitest';
import { workload } from '../../test/helpers/workload.ts';
import type { UsageRecord } from '../usage.ts';
import { RollupBuckets, rollupSums } from './rollup.ts';

const add = (b: RollupBuckets, key: number[], r: UsageRecord) =>
  b.add(key, {
    error: r.error ? 1 : 0,
    input: r.inputTokens,
    output: r.outputTokens,
    cached: r.cachedInputTokens,
    cacheWrite: r.cacheWriteTokens,
    reasoning: r.reasoningTokens,
    total: r.totalTokens,
    cost: r.costPicoUsd,
    outputCost: r.outputCostUsd === null ? null : Math.round(r.outputCostUsd * 1e12),
  });

describe('RollupBuckets', () => {
  it('keeps keys whose hashes collide apart, each with its own sums', () => {
    const [a, b] = [...workload(2, Date.now())];
    const buckets = new RollupBuckets();
    // [1, 0] and [0, 0x9e3779b1] hash alike (h = imul(h, 0x9e3779b1) + part, to 32 bits).
    add(buckets, [1, 0], a!);
    add(buckets, [0, 0x9e3779b1], b!);
    add(buckets, [1, 0], a!);
    expect(buckets.size).toBe(2);
    const byKey = new Map([...buckets].map((s) => [s.key.join(','), rollupSums(s)]));
    expect(byKey.get('1,0')?.[0]).toBe(2);
    expect(byKey.get('0,2654435761')?.[0]).toBe(1);
    expect(byKey.get('1,0')?.[2]).toBe(2 * (a!.inputTokens as number));
  });

  it('adds nothing for an unknown count but counts it as unknown, counts an unknown cost as unpriced, and splits only known splits', () => {
    const buckets = new RollupBuckets();
    const none = { outputCost: null };
    buckets.add([7], {
      error: 1,
      input: 10,
      output: null,
      cached: Number.NaN,
      cacheWrite: null,
      reasoning: null,
      total: 10,
      cost: null,
      ...none,
    });
    buckets.add([7], {
      error: 0,
      input: 5,
      output: 3,
      cached: 2,
      cacheWrite: Number.NaN,
      reasoning: 1,
      total: 8,
      cost: 4_000,
      outputCost: 3_000,
    });
    buckets.add([7], {
      error: 0,
      input: 1,
      output: 1,
      cached: 0,
      cacheWrite: 0,
      reasoning: null,
      total: 2,
      cost: 500,
      outputCost: Number.NaN,
    });
    const [s] = [...buckets];
    // requests, errors, input, output, cached, cache write, reasoning, total, cost, unpriced,
    // cost not split, output cost, and the records whose input, output, cached, cache write, reasoning, total are unknown
    expect(rollupSums(s!)).toEqual([3, 1, 16, 4, 2, 0, 1, 20, 4_500, 1, 500, 3_000, 0, 1, 1, 2, 2, 0]);
  });

  it('sums a workload by key as grouping the records does', () => {
    const records = [...workload(5_000, Date.now() - 86_400_000, 50)];
    const buckets = new RollupBuckets();
    const expected = new Map<string, { requests: number; cost: number; errors: number }>();
    for (const r of records) {
      const key = [Math.floor(r.timestamp / 3_600_000), r.model.length, Number((r.userId as string).slice(5))];
      add(buckets, key, r);
      const e = expected.get(key.join(',')) ?? { requests: 0, cost: 0, errors: 0 };
      e.requests++;
      e.cost += r.costPicoUsd as number;
      if (r.error) e.errors++;
      expected.set(key.join(','), e);
    }
    expect(buckets.size).toBe(expected.size);
    for (const s of buckets) {
      const [requests, errors, , , , , , , cost] = rollupSums(s);
      expect({ requests, cost, errors }).toEqual(expected.get(s.key.join(',')));
    }
  });
});
