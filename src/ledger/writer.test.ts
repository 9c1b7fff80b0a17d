import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { everyCount } from '../../test/helpers/ledger-records.ts';
import { validateUsage } from '../usage.ts';
import { countOf, encodeBatch } from './encoded-batch.ts';
import { SqliteStore } from './sqlite.ts';
import { LedgerWriter, type LedgerWriterOptions } from './writer.ts';

const record = (i: number) => validateUsage({ provider: 'openai', model: 'gpt-4o', inputTokens: i, outputTokens: 1 });

/** A writer of a new ledger file, and what it said through onError. */
function fileWriter(options: LedgerWriterOptions = {}) {
  const file = join(mkdtempSync(join(tmpdir(), 'tm-writer-')), 'ledger.db');
  const errors: string[] = [];
  const w = new LedgerWriter({ file }, { onError: (m) => errors.push(m), onRecovered: () => {} }, options);
  return { file, errors, w };
}

describe('LedgerWriter', () => {
  it('keeps at most maxPending records while the ledger cannot be written, says so once, and writes the rest when it can', async () => {
    const base = mkdtempSync(join(tmpdir(), 'tm-writer-'));
    const dir = join(base, 'store');
    writeFileSync(dir, 'a file where the dir should be');
    const errors: string[] = [];
    const recovered: string[] = [];
    const w = new LedgerWriter(
      () => new SqliteStore(join(dir, 'ledger.db')),
      { onError: (m) => errors.push(m), onRecovered: (m) => recovered.push(m) },
      { maxPending: 10, flushIntervalMs: 60_000 },
    );
    for (let i = 0; i < 25; i++) w.add(record(i));
    await expect(w.flush()).rejects.toThrow(/cannot open the ledger/);
    for (let i = 25; i < 30; i++) w.add(record(i));
    expect(w.health()).toMatchObject({ ok: false, pending: 10, dropped: 20, written: 0 });
    expect(errors.filter((e) => e.includes('dropped'))).toHaveLength(1);
    expect(errors.filter((e) => e.includes('cannot write the ledger'))).toHaveLength(1);

    rmSync(dir);
    mkdirSync(dir);
    await w.flush();
    expect(w.health()).toMatchObject({ pending: 0, written: 10, dropped: 20 });
    expect(recovered).toHaveLength(1);
    // The newest ten were kept, in order.
    const store = new SqliteStore(join(dir, 'ledger.db'), { readonly: true });
    expect(store.recordsSync({ order: 'asc' }).map((r) => r.inputTokens)).toEqual([20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
    store.closeSync();
    await w.close();
  });
});

describe('LedgerWriter with its writer thread', () => {
  it('reports a file that went and a path it cannot reopen, keeps the records, and writes them once it can', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'tm-writer-')), 'store');
    const file = join(dir, 'ledger.db');
    const errors: string[] = [];
    const recovered: string[] = [];
    const w = new LedgerWriter(
      { file },
      { onError: (m) => errors.push(m), onRecovered: (m) => recovered.push(m) },
      { flushIntervalMs: 60_000 },
    );
    w.store();
    for (let i = 0; i < 10; i++) w.add(record(i));
    await w.flush();
    rmSync(dir, { recursive: true });
    writeFileSync(dir, 'a file where the dir was');
    for (let i = 10; i < 20; i++) w.add(record(i));
    await expect(w.flush()).rejects.toThrow(/cannot open the ledger/);
    expect(w.health()).toMatchObject({ ok: false, pending: 10, written: 10, replaced: 1, lastError: expect.stringMatching(/cannot open/) });
    expect(errors.filter((e) => e.includes('deleted or replaced'))).toHaveLength(1);
    expect(errors.filter((e) => e.includes('cannot write the ledger'))).toHaveLength(1);

    rmSync(dir);
    await w.flush();
    expect(w.health()).toMatchObject({
      ok: false,
      pending: 0,
      written: 20,
      replaced: 1,
      lastError: expect.stringMatching(/deleted or replaced/),
    });
    expect(recovered).toHaveLength(1);
    const store = new SqliteStore(file, { readonly: true });
    expect(store.recordsSync({ order: 'asc' }).map((r) => r.inputTokens)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    store.closeSync();
    await w.close();
  });
});

describe('LedgerWriter on the main thread (a store of your own)', () => {
  it('never writes inside add(): a loop that does not yield only queues, and flush() writes it all', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tm-writer-')), 'ledger.db');
    const errors: string[] = [];
    const w = new LedgerWriter(() => new SqliteStore(file), { onError: (m) => errors.push(m), onRecovered: () => {} }, { batchSize: 100 });
    w.store();
    // Another connection holds the write lock: a write tried now would wait 10 s and fail.
    const other = new Database(file);
    other.exec('BEGIN IMMEDIATE');
    for (let i = 0; i < 2000; i++) w.add(record(i));
    expect(w.health()).toMatchObject({ pending: 2000, written: 0, lastError: undefined });
    other.exec('COMMIT');
    other.close();
    await w.flush();
    expect(w.health()).toMatchObject({ ok: true, pending: 0, written: 2000 });
    expect(errors).toEqual([]);
    await w.close();
  });
});

describe('the writer thread stopping with a batch in flight', () => {
  it('writes that batch and the rest on the main thread, once each and in order, and says so', async () => {
    const { file, errors, w } = fileWriter({ batchSize: 10 });
    for (let i = 0; i < 10; i++) w.add(record(i));
    await w.flush();
    expect(w.health()).toMatchObject({ written: 10 });
    // An alert the thread cannot be sent (a function in it): handing the next batch over fails as
    // a thread that stopped does, with that batch (read from the writer's shared memory) in flight.
    w.addAlerts([
      {
        level: 'warning',
        message: 'over 80%',
        budget: { scope: 'global', scopeId: '', window: 'monthly', unit: 'usd' },
        used: 8,
        limit: 10,
        percentUsed: 80,
        threshold: 0.8,
        windowStart: new Date(0).toISOString(),
        resetsAt: null,
        at: new Date().toISOString(),
        extra: () => {},
      } as never,
    ]);
    for (let i = 10; i < 35; i++) w.add(record(i));
    await w.flush();
    expect(errors).toEqual([expect.stringMatching(/writer thread stopped .*writing on the main thread from now on/)]);
    expect(w.health()).toMatchObject({ pending: 0, written: 35, dropped: 0 });
    const store = new SqliteStore(file, { readonly: true });
    expect(store.recordsSync({ order: 'asc' }).map((r) => r.inputTokens)).toEqual(Array.from({ length: 35 }, (_, i) => i));
    expect(await store.budgetAlerts()).toHaveLength(1);
    store.closeSync();
    await w.close();
  });
});

describe('a record the ledger cannot take', () => {
  it('is lost alone, counted and said, and the records around it are written', async () => {
    const { file, errors, w } = fileWriter();
    expect(w.add(record(1))).toBe(true);
    // Validation lets no such metadata through; a record built around it must still not reach add()'s caller.
    expect(w.add({ ...record(2), metadata: { n: 1n } })).toBe(false);
    expect(w.add(record(3))).toBe(true);
    await w.flush();
    expect(w.health()).toMatchObject({ pending: 0, written: 2, dropped: 1 });
    expect(errors).toEqual([expect.stringMatching(/a record cannot be written to the ledger: .*BigInt/)]);
    const store = new SqliteStore(file, { readonly: true });
    expect(store.recordsSync({ order: 'asc' }).map((r) => r.inputTokens)).toEqual([1, 3]);
    store.closeSync();
    await w.close();
  });
});

describe('a backlog', () => {
  it('is written in bounded transactions, every record once', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tm-writer-')), 'ledger.db');
    const sizes: number[] = [];
    const open = () => {
      const s = new SqliteStore(file);
      // The writer hands a SQLite store its batches as it keeps them, encoded.
      const write = s.writeEncoded.bind(s);
      s.writeEncoded = (batch) => {
        sizes.push(countOf(batch));
        write(batch);
      };
      return s;
    };
    const w = new LedgerWriter(open, { onError: () => {}, onRecovered: () => {} }, { batchSize: 100, thread: false });
    for (let i = 0; i < 2_550; i++) w.add(record(i));
    await w.flush();
    expect(Math.max(...sizes)).toBeLessThanOrEqual(1_000);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(2_550);
    expect(w.health()).toMatchObject({ pending: 0, written: 2_550 });
    const store = new SqliteStore(file, { readonly: true });
    expect(
      store
        .recordsSync({})
        .map((r) => r.inputTokens as number)
        .sort((a, b) => a - b),
    ).toEqual(Array.from({ length: 2_550 }, (_, i) => i));
    store.closeSync();
    await w.close();
  });
});

describe('the batches handed to the writer thread', () => {
  it('carry every field of a record unchanged into the ledger', () => {
    // Every field set; every count of the table of record fields, each its own value.
    const full = everyCount({ metadata: { doc: 'a.pdf' } });
    // Every field distinct from its neighbours, so that a shifted field cannot pass.
    expect(new Set(Object.values(full).map((v) => JSON.stringify(v))).size).toBe(Object.keys(full).length);
    const other = record(1);
    const store = new SqliteStore(join(mkdtempSync(join(tmpdir(), 'tm-encoded-')), 'ledger.db'));
    store.writeEncoded(encodeBatch([full, other]));
    expect(store.recordsSync({}).reverse()).toEqual([
      { ...full, id: expect.any(Number) },
      { ...other, id: expect.any(Number) },
    ]);
    store.closeSync();
  });
});
