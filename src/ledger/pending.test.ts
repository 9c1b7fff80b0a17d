import { describe, expect, it } from 'vitest';
import { everyCount } from '../../test/helpers/ledger-records.ts';
import { validateUsage } from '../usage.ts';
import { countOf, decodeBatch } from './encoded-batch.ts';
import { PendingRecords } from './pending.ts';

const record = (i: number, userId: string | null = `u${i % 7}`) => ({
  ...validateUsage({ provider: 'openai', model: 'gpt-4o', inputTokens: i, outputTokens: 1 }),
  userId,
});

// Every field set, each count to its own value.
const full = everyCount({ metadata: { doc: 'a.pdf' } });

describe('PendingRecords', () => {
  it('gives back every field of the records it encoded, nulls and rare counts included', () => {
    const p = new PendingRecords(1);
    const plain = validateUsage({ provider: 'anthropic', model: 'claude', inputTokens: 3 });
    const five = record(5);
    p.push(full);
    p.push(plain);
    p.push(five);
    expect(p.length).toBe(3);
    expect(p.records()).toEqual([full, plain, five]);
    // What a batch carries is the same.
    expect(decodeBatch(p.take())).toEqual([full, plain, five]);
    expect(p.length).toBe(0);
  });

  it('takes batches from the front, puts a failed one back in front, drops the oldest, in order', () => {
    const p = new PendingRecords(4);
    for (let i = 0; i < 10; i++) p.push(record(i));
    const first = p.take(4);
    expect(countOf(first)).toBe(4);
    expect(decodeBatch(first).map((r) => r.inputTokens)).toEqual([0, 1, 2, 3]);
    // Strings new since the batch was taken, then the batch back in front.
    p.push(record(10, 'a-new-user'));
    p.unshift(first);
    expect(p.records().map((r) => [r.inputTokens, r.userId])).toEqual(
      Array.from({ length: 11 }, (_, i) => [i, i === 10 ? 'a-new-user' : `u${i % 7}`]),
    );
    p.dropOldest(3);
    expect(p.records().map((r) => r.inputTokens)).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
    // New records after all this still encode their strings right.
    p.push(record(11, 'a-new-user'));
    p.push(record(12, 'another'));
    expect(
      p
        .records()
        .slice(-3)
        .map((r) => r.userId),
    ).toEqual(['a-new-user', 'a-new-user', 'another']);
    expect(decodeBatch(p.take()).map((r) => r.inputTokens)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it('lets go of the strings of records dropped from a backlog that never empties', () => {
    const p = new PendingRecords(100);
    for (let i = 0; i < 50_000; i++) {
      p.push({ ...record(i), errorMessage: `unique message ${i}`, error: true, errorType: 'error' });
      if (p.length > 100) p.dropOldest(1);
    }
    const batch = p.take();
    expect(batch.strings.length).toBeLessThan(3_000);
    expect(decodeBatch(batch).map((r) => r.errorMessage)).toEqual(Array.from({ length: 100 }, (_, i) => `unique message ${49_900 + i}`));
  });

  it('queues nothing of a record whose metadata cannot be written as JSON', () => {
    const p = new PendingRecords(2);
    p.push(record(1));
    expect(() => p.push({ ...record(2), metadata: { n: 1n } })).toThrow(/BigInt/);
    p.push(record(3));
    expect(p.records().map((r) => r.inputTokens)).toEqual([1, 3]);
  });
});
