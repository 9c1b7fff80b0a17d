// The ledger under faults a running app meets: its file deleted, moved or restored over while open,
// its directory removed, a ledger that cannot be written in `durability: 'sync'`, and another
// process holding the write lock while the app records in a tight loop.
import { mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { INSTRUMENT, type Logger, TokenMonitor } from '../src/index.ts';
import { SqliteStore } from '../src/ledger/sqlite.ts';
import { readerFor, sums } from './helpers/otel.ts';

function memoryLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const add = (level: string) => (m: string) => lines.push(`${level} ${m}`);
  return { lines, debug: add('debug'), info: add('info'), warn: add('warn'), error: add('error') };
}

/** Records in the ledger file at `file`, read by a fresh connection as another process would. */
function count(file: string): number {
  const store = new SqliteStore(file, { readonly: true });
  try {
    return store.recordsSync({}).length;
  } finally {
    store.closeSync();
  }
}

const call = (i: number) => ({ provider: 'openai', model: 'gpt-4o', inputTokens: i, outputTokens: 1, threadId: `t${i}` });

async function ledgerErrors(reader: ReturnType<typeof readerFor>): Promise<number> {
  return sums(await reader.metrics(), INSTRUMENT.internalErrors).find((p) => p.attributes.component === 'ledger')?.value ?? 0;
}

describe('a ledger file that goes away while the app runs', () => {
  const cases: [string, (dir: string, file: string) => void][] = [
    [
      'deleted (rm ledger.db*)',
      (_dir, file) => {
        for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
      },
    ],
    ['moved away', (dir, file) => renameSync(file, join(dir, 'moved.db'))],
    ['with its directory removed', (dir) => rmSync(dir, { recursive: true, force: true })],
  ];
  for (const [name, remove] of cases) {
    it(`is noticed when ${name}: reported, recreated, and every later record kept in the new file`, async () => {
      const dir = join(mkdtempSync(join(tmpdir(), 'tm-ledger-gone-')), 'store');
      const file = join(dir, 'ledger.db');
      const log = memoryLog();
      const m = new TokenMonitor({ dir, metrics: { prometheus: false }, loadConfig: false, logger: log });
      const reader = readerFor(m.metricProducer);
      for (let i = 0; i < 10; i++) m.record(call(i));
      await m.flush();
      expect(count(file)).toBe(10);
      expect(m.health().ok).toBe(true);
      const before = await ledgerErrors(reader);

      remove(dir, file);
      for (let i = 0; i < 1000; i++) expect(m.record(call(100 + i)).logged).toBe(true);
      await m.flush();

      expect(count(file)).toBe(1000);
      const h = m.health();
      expect(h.ok).toBe(false);
      expect(h.ledger?.lastError).toMatch(/deleted or replaced/);
      expect(h.ledger).toMatchObject({ pending: 0, written: 1010 });
      expect(await ledgerErrors(reader)).toBeGreaterThan(before);
      expect(log.lines.some((l) => l.startsWith('error') && l.includes(file) && /earlier records/.test(l))).toBe(true);
      // The monitor's own reads see the new file too.
      expect((await m.summary({ since: 0 })).total.requests).toBe(1000);
      await m.close();
    });
  }

  it('is noticed when a backup is restored over it: later records land in the restored file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-ledger-restore-'));
    const file = join(dir, 'ledger.db');
    const log = memoryLog();
    const m = new TokenMonitor({ dir, metrics: false, loadConfig: false, logger: log });
    for (let i = 0; i < 5; i++) m.record(call(i));
    await m.flush();
    const backup = new Database(file, { readonly: true });
    backup.exec(`VACUUM INTO '${join(dir, 'backup.db')}'`);
    backup.close();
    for (let i = 5; i < 8; i++) m.record(call(i));
    await m.flush();

    // Restored as an operator would: the backup renamed into place, the old WAL and index gone.
    for (const f of [`${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
    renameSync(join(dir, 'backup.db'), file);
    for (let i = 0; i < 100; i++) m.record(call(100 + i));
    await m.flush();
    expect(count(file)).toBe(105);
    expect(m.health()).toMatchObject({ ok: false, ledger: { lastError: expect.stringMatching(/deleted or replaced/) } });
    await m.close();
  });
});

describe('a write-ahead log deleted while the app runs', () => {
  it('is reported, and the records written meanwhile are kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-ledger-wal-'));
    const file = join(dir, 'ledger.db');
    const m = new TokenMonitor({ dir, metrics: { prometheus: false }, loadConfig: false, logger: memoryLog() });
    const reader = readerFor(m.metricProducer);
    for (let i = 0; i < 10; i++) m.record(call(i));
    await m.flush();
    rmSync(`${file}-wal`);
    for (let i = 0; i < 100; i++) m.record(call(100 + i));
    await m.flush();
    for (let i = 0; i < 100; i++) m.record(call(200 + i));
    await m.flush();
    expect(m.health()).toMatchObject({ ok: false, ledger: { replaced: 1, lastError: expect.stringMatching(/write-ahead log/) } });
    expect(await ledgerErrors(reader)).toBeGreaterThanOrEqual(1);
    await m.close();
    // The connection that wrote them copied them into the database when it closed.
    expect(count(file)).toBe(210);
  });
});

describe("durability: 'sync'", () => {
  it('says logged: false while the record cannot be written, keeps it, and writes it once the ledger can be', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-ledger-sync-'));
    const file = join(dir, 'ledger.db');
    // A directory where the ledger file should be: it cannot be opened.
    mkdirSync(file);
    const log = memoryLog();
    const m = new TokenMonitor({ dir, metrics: false, loadConfig: false, logger: log, ledger: { durability: 'sync' } });
    const r = m.record(call(1));
    expect(r.logged).toBe(false);
    expect(r.record).not.toBeNull();
    expect(m.health()).toMatchObject({ ok: false, ledger: { pending: 1 } });

    rmSync(file, { recursive: true });
    const next = m.record(call(2));
    expect(next.logged).toBe(true);
    expect(count(file)).toBe(2);
    expect(m.health()).toMatchObject({ ok: true, ledger: { pending: 0, written: 2 } });
    await m.close();
  });
});

describe('record() on the hot path', () => {
  it('never waits for the disk: with the write lock held elsewhere, a tight loop of 20 batches returns and loses nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-ledger-hot-'));
    const file = join(dir, 'ledger.db');
    const m = new TokenMonitor({ dir, metrics: false, loadConfig: false, ledger: { batchSize: 100 } });
    // Another process's long transaction: any write now waits for SQLite's busy timeout (10 s).
    const other = new Database(file);
    other.exec('BEGIN IMMEDIATE');
    for (let i = 0; i < 2000; i++) m.record(call(i));
    // No write was tried on this thread, so none waited or failed.
    expect(m.health().ledger?.lastError).toBeUndefined();
    other.exec('COMMIT');
    other.close();
    await m.flush();
    expect(count(file)).toBe(2000);
    expect(m.health()).toMatchObject({ ok: true, ledger: { pending: 0, written: 2000 } });
    await m.close();
  });
});
