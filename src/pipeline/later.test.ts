import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { LaterQueue, MAX_WAITING } from './later.ts';

function queue() {
  const done: string[] = [];
  const errors: unknown[] = [];
  const q = new LaterQueue<string, number>(
    (a, b) => {
      if (a === 'bad') throw new Error(`bad ${b}`);
      done.push(`${a}${b}`);
    },
    (e) => errors.push(e),
  );
  return { q, done, errors };
}

describe('LaterQueue: calls recorded at the next turn of the event loop', () => {
  it('records nothing while the code that queued runs on, then all of it, in order, at the next turn', async () => {
    const { q, done } = queue();
    q.push('a', 1);
    q.push('b', 2);
    await Promise.resolve(); // microtasks are not a turn
    expect(done).toEqual([]);
    expect(q.size).toBe(2);
    await nextTurn();
    expect(done).toEqual(['a1', 'b2']);
    expect(q.size).toBe(0);
    q.push('c', 3);
    await nextTurn();
    expect(done).toEqual(['a1', 'b2', 'c3']);
  });

  it('records what waits at once when drained, and when MAX_WAITING calls wait', () => {
    const { q, done } = queue();
    q.push('a', 1);
    q.drain();
    expect(done).toEqual(['a1']);
    for (let i = 0; i < MAX_WAITING - 1; i++) q.push('x', i);
    expect(done).toHaveLength(1);
    q.push('x', MAX_WAITING - 1);
    expect(done).toHaveLength(1 + MAX_WAITING);
    expect(q.size).toBe(0);
  });

  it('a call that throws is reported; the others are still recorded', () => {
    const { q, done, errors } = queue();
    q.push('a', 1);
    q.push('bad', 2);
    q.push('c', 3);
    q.drain();
    expect(done).toEqual(['a1', 'c3']);
    expect(errors.map((e) => (e as Error).message)).toEqual(['bad 2']);
  });

  it('a drain inside a drain (a reader called while recording) records only what came since; nothing is lost or recorded twice', () => {
    const done: string[] = [];
    const q: LaterQueue<string, number> = new LaterQueue<string, number>(
      (a, b) => {
        done.push(`${a}${b}`);
        if (a === 'a') {
          q.push('late', 9);
          q.drain();
        }
      },
      (e) => {
        throw e;
      },
    );
    q.push('a', 1);
    q.push('b', 2);
    q.drain();
    expect(done).toEqual(['a1', 'late9', 'b2']);
    q.drain();
    expect(done).toHaveLength(3);
  });
});
