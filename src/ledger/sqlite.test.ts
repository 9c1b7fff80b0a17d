import { chmodSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { collectUntil } from '../../test/helpers/gc.ts';
import { everyCount, expected, randomRecords, rec, rng } from '../../test/helpers/ledger-records.ts';
import { workload } from '../../test/helpers/workload.ts';
import { isLedgerError } from '../errors.ts';
import type { UsageRecord } from '../usage.ts';
import { COUNT_FIELDS, fieldSpec, RARE_COUNTS } from '../usage-fields.ts';
import { HOUR_MS } from './rollup.ts';
import { IN_RARE } from './schema.ts';
import { SqliteStore, THREAD_IDS_SQL, userHoursSql } from './sqlite.ts';
import { MIGRATIONS } from './sqlite-migrations.ts';
import type { Dimension, LedgerFilter } from './types.ts';

const open: SqliteStore[] = [];
function store(file = join(mkdtempSync(join(tmpdir(), 'tm-ledger-')), 'ledger.db')): SqliteStore {
  const s = new SqliteStore(file);
  open.push(s);
  return s;
}
afterEach(() => {
  for (const s of open.splice(0)) s.closeSync();
});

describe('SqliteStore', () => {
  it('gives the rows back with names through the usage_records view, for anyone reading the file with sqlite3', async () => {
    // Every field's round trip through the store is in store.test.ts, for both stores.
    const s = store();
    const a = rec({ metadata: { doc: 'a.pdf', n: 2 } });
    await s.write([a, rec({ timestamp: a.timestamp + 1, provider: 'cohere', model: 'rerank-v3.5', serviceType: 'reranking' })]);
    const db = new Database(s.location, { readonly: true });
    expect(
      db.prepare("SELECT timestamp, provider, model, cost_usd, duration_ms, metadata FROM usage_records WHERE provider = 'openai'").get(),
    ).toEqual({
      timestamp: new Date(a.timestamp).toISOString(),
      provider: 'openai',
      model: 'gpt-4o',
      cost_usd: 0.00725,
      duration_ms: 840.5,
      metadata: '{"doc":"a.pdf","n":2}',
    });
    db.close();
  });

  it('groups by user from the rollups, records without a user included, not by reading every row of the range', async () => {
    const s = store();
    const start = Date.UTC(2026, 9, 1);
    const records = randomRecords(3000, 5, start, 3 * 86_400_000);
    await s.write(records);
    // The second day's rows taken away behind the store's back: what still counts them was read from the rollups.
    const db = new Database(s.location);
    db.prepare('DELETE FROM records WHERE id >= ? AND id < ?').run((start + 86_400_000) * 1024, (start + 2 * 86_400_000) * 1024);
    db.close();
    const got = s.aggregateSync({ since: start, until: start + 3 * 86_400_000 }, ['userId']);
    const want = expected(records, {}, ['userId']);
    expect(new Map(got.map((r) => [JSON.stringify([r.key.userId]), r.requests]))).toEqual(
      new Map([...want].map(([k, v]) => [k, v.requests])),
    );
  });

  it("reads a user's ragged first and last days by the hour from rollup_user_hour, one seek an hour, and only the hours' ends from the rows", async () => {
    const s = store();
    const start = Date.UTC(2026, 9, 1);
    const records = randomRecords(4000, 13, start, 4 * 86_400_000);
    await s.write(records);
    // From 13:20 on the first day to 09:10 on the fourth; its whole hours on those days (14:00-24:00,
    // 00:00-09:00) lose their rows behind the store's back: what still counts them was read from the rollup.
    const [since, until] = [start + 13 * HOUR_MS + 20 * 60_000, start + 3 * 86_400_000 + 9 * HOUR_MS + 10 * 60_000];
    const db = new Database(s.location);
    const del = db.prepare('DELETE FROM records WHERE id >= ? AND id < ?');
    del.run((start + 14 * HOUR_MS) * 1024, (start + 86_400_000) * 1024);
    del.run((start + 3 * 86_400_000) * 1024, (start + 3 * 86_400_000 + 9 * HOUR_MS) * 1024);
    const got = s.aggregateSync({ userId: 'u2', since, until }, ['model']);
    const want = expected(records, { userId: 'u2', since, until }, ['model']);
    expect(new Map(got.map((r) => [JSON.stringify([r.key.model]), r.requests]))).toEqual(
      new Map([...want].map(([k, v]) => [k, v.requests])),
    );
    // How those hours are read: one seek of (hour, user) an hour, never a scan of every user's buckets.
    const plan = (
      db.prepare(`EXPLAIN QUERY PLAN ${userHoursSql('model AS model, ', 'WHERE user_id = ?', 'GROUP BY model')}`).all(10, 20, 1) as {
        detail: string;
      }[]
    ).map((r) => r.detail);
    expect(plan).toContain('SEARCH rollup_user_hour USING PRIMARY KEY (hour=? AND user_id=?)');
    expect(plan.filter((d) => d.includes('rollup_user_hour'))).toHaveLength(1);
    db.close();
  });

  it('stores repeated strings once: under 92 bytes a record on disk, rollups and indexes included', async () => {
    const s = store();
    const n = 50_000;
    const batch: UsageRecord[] = [];
    for (const r of workload(n, Date.UTC(2026, 9, 1))) {
      batch.push(r);
      if (batch.length === 1000) await s.write(batch.splice(0));
    }
    const db = new Database(s.location, { readonly: true });
    // 200 users, 6,250 threads, and a handful of providers, models, agents, operations and keys.
    expect((db.prepare('SELECT COUNT(*) AS n FROM strings').get() as { n: number }).n).toBeLessThan(6_500);
    db.close();
    // 20 plain columns took 245 bytes a row here. rollup_user_hour takes some 20 bytes a record here (a
    // bucket of ~40 bytes for every 2.3 records: 200 users, 3 models and agents each, 1,385 records an
    // hour), less the denser the traffic (2 bytes at 10 times this rate). 120 before schema 6: a column
    // for each rare count (a header byte each, NULL or not) and an index entry a row for threads.
    // 96 before schema 7, 113 since: a record's output cost (7 bytes: its cost's split), and per
    // rollup bucket that split's sums and the six counts of records that did not report a count.
    // Under 90 since schema 9: the split and costs in nanodollars where whole, the total only when it
    // is not input + output, the fields most records leave empty in one column, rollup_user_hour's
    // unknown counts one byte a bucket, and the rows written in id order (pages full).
    expect(s.pageBytes() / n).toBeLessThan(92);
  }, 30_000);

  it('writes a batch all or nothing, and names the file when it cannot', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-ledger-'));
    const s = store(join(dir, 'ledger.db'));
    await s.write([rec()]);
    s.closeSync();
    chmodSync(join(dir, 'ledger.db'), 0o444);
    // Root ignores file modes; the read-only open below is what a read-only file means to SQLite then.
    const ro = new SqliteStore(join(dir, 'ledger.db'), { readonly: true });
    open.push(ro);
    expect(ro.writeSync).toBeUndefined();
    expect(ro.recordsSync({})).toHaveLength(1);
    expect(statSync(join(dir, 'ledger.db')).size).toBeGreaterThan(0);
    let error: unknown;
    try {
      new SqliteStore(join(dir, 'missing', 'x.db'), { readonly: true });
    } catch (e) {
      error = e;
    }
    expect(isLedgerError(error)).toBe(true);
    expect(String(error)).toMatch(/missing\/x\.db/);
  });

  it('keeps every record when two writers fill the same millisecond', async () => {
    const a = store();
    const b = store(a.location);
    const t = Date.UTC(2026, 10, 1, 12);
    // 1,000 records of one millisecond from each: their ids must collide, and none may be lost.
    const batch = (tag: string) => Array.from({ length: 1000 }, (_, i) => rec({ timestamp: t, agent: tag, inputTokens: i }));
    await a.write(batch('a'));
    await b.write(batch('b'));
    expect(await a.count({})).toBe(2000);
    const [byA, byB] = [a.aggregateSync({ agent: 'a' }, []), a.aggregateSync({ agent: 'b' }, [])];
    expect([byA[0]?.requests, byB[0]?.requests]).toEqual([1000, 1000]);
    // Past 1,024 records in one millisecond, time moves on by no more than a millisecond or two.
    const span = await a.span();
    expect(span?.first).toBe(t);
    expect((span?.last ?? 0) - t).toBeLessThanOrEqual(2);
  });

  it('writes bursts of any size in one millisecond, from two writers and after older rows of it, losing and doubling none', async () => {
    const a = store();
    const b = store(a.location);
    const t = Date.UTC(2026, 10, 1, 12);
    // Each record carries its own number (inputTokens), to tell lost and doubled ones apart.
    let n = 0;
    const burst = (size: number, tag: string) => Array.from({ length: size }, () => rec({ timestamp: t, agent: tag, inputTokens: n++ }));
    // Rows of the next milliseconds already there: a full millisecond carries on after them, not onto them.
    await a.write([rec({ timestamp: t + 1, agent: 'next', inputTokens: n++ }), rec({ timestamp: t + 3, agent: 'next', inputTokens: n++ })]);
    // One batch of 20,000, then a second burst of the same millisecond from two stores on the file, interleaved.
    await a.write(burst(20_000, 'a'));
    for (let i = 0; i < 10; i++) {
      await b.write(burst(1000, 'b'));
      await a.write(burst(1000, 'a'));
    }
    const rows = a.recordsSync({ order: 'asc' });
    expect(rows).toHaveLength(n);
    // Every number once: none lost, none doubled.
    expect(rows.map((r) => r.inputTokens).sort((x, y) => (x ?? 0) - (y ?? 0))).toEqual(Array.from({ length: n }, (_, i) => i));
    // 40,000 records of one millisecond take 40 (1,024 each); the two rows of later ones push them one id on.
    const burstRows = rows.filter((r) => r.agent !== 'next');
    expect(burstRows[0]?.timestamp).toBe(t);
    expect((burstRows.at(-1)?.timestamp ?? 0) - t).toBe(Math.ceil((40_000 + 2) / 1024) - 1);
    // The rows written first kept their ids, and the rollups count every row where it landed.
    expect(rows.filter((r) => r.agent === 'next').map((r) => r.timestamp)).toEqual([t + 1, t + 3]);
    const [all] = a.aggregateSync({ since: t, until: t + 60_000 }, []);
    expect(all?.requests).toBe(n);
    expect(a.aggregateSync({ agent: 'b' }, []).map((r) => r.requests)).toEqual([10_000]);
  });

  it('writes records with an old timestamp after the ledger moved on, after the rows already in that millisecond', async () => {
    const s = store();
    const old = Date.UTC(2026, 9, 1, 8);
    await s.write(Array.from({ length: 1500 }, (_, i) => rec({ timestamp: old, inputTokens: i })));
    await s.write(randomRecords(2000, 3, old + 86_400_000, 86_400_000));
    // An import of the same millisecond later on: ids after those the first 1,500 took, none lost.
    await s.write(Array.from({ length: 3000 }, (_, i) => rec({ timestamp: old, inputTokens: 1500 + i })));
    const rows = s.recordsSync({ until: old + 60_000, order: 'asc' });
    expect(rows.map((r) => r.inputTokens)).toEqual(Array.from({ length: 4500 }, (_, i) => i));
    expect(rows.at(-1)?.timestamp).toBe(old + Math.ceil(4500 / 1024) - 1);
    expect(await s.count({})).toBe(6500);
  });

  it('keeps its heap flat over 300,000 records with a new thread id each, and reads back the strings it let go of', async () => {
    const s = store();
    const t = Date.UTC(2026, 10, 1);
    const thread = (i: number) => `thread-${i}-0f4a5b3d9c`;
    let i = 0;
    const writeMore = async (n: number) => {
      for (const end = i + n; i < end; )
        await s.write(Array.from({ length: 10_000 }, () => rec({ timestamp: t + i, threadId: thread(i++) })));
    };
    const heap = async () => {
      await collectUntil(() => false, 3);
      return process.memoryUsage().heapUsed;
    };
    await writeMore(50_000);
    const before = await heap();
    await writeMore(250_000);
    const after = await heap();
    // Every thread id kept in memory took about 80 bytes: 250,000 of them some 20 MB (115 MB at a million).
    expect((after - before) / 1e6).toBeLessThan(5);
    // Strings long gone from memory still read back, filter, and are not stored twice.
    const [first] = s.recordsSync({ threadId: thread(5) });
    expect(first).toMatchObject({ timestamp: t + 5, threadId: thread(5), model: 'gpt-4o' });
    const db = new Database(s.location, { readonly: true });
    const strings = () => (db.prepare('SELECT COUNT(*) AS n FROM strings').get() as { n: number }).n;
    const n = strings();
    await s.write([rec({ timestamp: t + i, threadId: thread(5) })]);
    expect(strings()).toBe(n);
    expect(s.aggregateSync({ threadId: thread(5) }, ['threadId']).map((r) => [r.key.threadId, r.requests])).toEqual([[thread(5), 2]]);
    db.close();
  }, 120_000);

  it('keeps its memory flat when every read asks for a different number of records', async () => {
    const s = store();
    await s.write(Array.from({ length: 5 }, (_, i) => rec({ timestamp: Date.UTC(2026, 10, 1) + i })));
    const read = (from: number, n: number) => {
      for (let limit = from; limit < from + n; limit++) expect(s.recordsSync({ userId: 'u1', limit }).length).toBe(5);
    };
    read(5, 1000);
    await collectUntil(() => false, 3);
    const before = process.memoryUsage().rss;
    read(1005, 6000);
    await collectUntil(() => false, 3);
    // A statement kept for each limit took some 24 KB outside the JS heap: 6,000 of them about 140 MB.
    expect((process.memoryUsage().rss - before) / 1e6).toBeLessThan(30);
  }, 60_000);

  it('forgets the strings a failed batch added, so the next batch stores them again', async () => {
    const s = store();
    // A trigger refuses the second row: the batch fails after its new strings went in, and is rolled back.
    const db = new Database(s.location);
    db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON records WHEN NEW.error = 1 BEGIN SELECT RAISE(ABORT, 'refused'); END`);
    const bad = rec({ model: 'model-of-a-failed-batch', threadId: 'thread-of-a-failed-batch', error: true });
    await expect(s.write([rec(), bad])).rejects.toThrow(/cannot write 2 records: refused/);
    db.exec('DROP TRIGGER refuse');
    db.close();
    await s.write([rec({ model: 'model-of-a-failed-batch', threadId: 'thread-of-a-failed-batch' })]);
    const [got] = s.recordsSync({});
    expect(got).toMatchObject({ model: 'model-of-a-failed-batch', threadId: 'thread-of-a-failed-batch' });
  });

  it('migrates a ledger of the first schema in place: its records kept, one-hour cache writes kept from then on', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tm-ledger-')), 'ledger.db');
    // A ledger as version 1 left it, with one record in it.
    const v1 = new Database(file);
    v1.exec(MIGRATIONS[0] as string);
    v1.pragma('user_version = 1');
    v1.exec(`INSERT INTO strings (id, value) VALUES (1, 'anthropic'), (2, 'llm'), (3, 'claude-sonnet-4-5'), (4, 'chat')`);
    v1.prepare(
      `INSERT INTO records (id, provider, service_type, model, operation, input_tokens, output_tokens, cache_write_tokens, cost_pico, error)
       VALUES (?, 1, 2, 3, 4, 1500, 200, 1000, 8250000000, 0)`,
    ).run(Date.UTC(2026, 9, 1) * 1024);
    v1.close();
    const s = store(file);
    await s.write([rec({ provider: 'anthropic', inputTokens: 1500, cacheWriteTokens: 1000, cacheWrite1hTokens: 750, webSearches: 2 })]);
    const [newer, older] = await s.records({});
    expect(older).toMatchObject({
      provider: 'anthropic',
      cacheWriteTokens: 1000,
      cacheWrite1hTokens: null,
      webSearches: null,
      costUsd: 0.00825,
    });
    expect(newer).toMatchObject({ cacheWriteTokens: 1000, cacheWrite1hTokens: 750, webSearches: 2 });
    const view = new Database(file, { readonly: true });
    expect(view.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(view.prepare('SELECT cache_write_1h_tokens AS h, web_searches AS w FROM usage_records ORDER BY id').all()).toEqual([
      { h: null, w: null },
      { h: 750, w: 2 },
    ]);
    view.close();
  });

  it('migrates a ledger of the second schema in place: its records kept, audio and image tokens kept from then on', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tm-ledger-')), 'ledger.db');
    // A ledger as version 2 left it, with one record in it (one of its own columns, web_searches, set).
    const v2 = new Database(file);
    v2.exec(MIGRATIONS[0] as string);
    v2.exec(MIGRATIONS[1] as string);
    v2.pragma('user_version = 2');
    v2.exec(`INSERT INTO strings (id, value) VALUES (1, 'openai'), (2, 'llm'), (3, 'gpt-audio'), (4, 'chat')`);
    v2.prepare(
      `INSERT INTO records (id, provider, service_type, model, operation, input_tokens, output_tokens, web_searches, cost_pico, error)
       VALUES (?, 1, 2, 3, 4, 64, 56, 1, 720000000, 0)`,
    ).run(Date.UTC(2026, 9, 1) * 1024);
    v2.close();
    const s = store(file);
    await s.write([
      rec({
        model: 'gpt-audio',
        inputTokens: 64,
        outputTokens: 56,
        cachedInputTokens: 0,
        inputAudioTokens: 44,
        cachedAudioTokens: 0,
        outputAudioTokens: 47,
      }),
    ]);
    const [newer, older] = await s.records({});
    expect(older).toMatchObject({
      model: 'gpt-audio',
      webSearches: 1,
      inputAudioTokens: null,
      cachedAudioTokens: null,
      outputAudioTokens: null,
      outputImageTokens: null,
      costUsd: 0.00072,
    });
    expect(newer).toMatchObject({ model: 'gpt-audio', inputAudioTokens: 44, cachedAudioTokens: 0, outputAudioTokens: 47 });
    await s.write([rec({ model: 'gemini-2.5-flash-image', outputTokens: 1290, outputImageTokens: 1290 })]);
    const [image] = await s.records({});
    expect(image).toMatchObject({ model: 'gemini-2.5-flash-image', outputImageTokens: 1290 });
    const view = new Database(file, { readonly: true });
    expect(view.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(
      view
        .prepare(
          'SELECT input_audio_tokens AS i, cached_audio_tokens AS c, output_audio_tokens AS o, output_image_tokens AS g, web_searches AS w FROM usage_records ORDER BY id',
        )
        .all(),
    ).toEqual([
      { i: null, c: null, o: null, g: null, w: 1 },
      { i: 44, c: 0, o: 47, g: null, w: null },
      { i: null, c: null, o: null, g: 1290, w: null },
    ]);
    view.close();
  });

  it("migrates a ledger of the third schema in place: a user's hours from rollup_user_hour, filled from its rows, and a run's rows through an index", async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tm-ledger-')), 'ledger.db');
    const start = Date.UTC(2026, 9, 1);
    // A ledger as version 3 left it, with 300 records of users u1 and u2 in it, every tenth of a run.
    const v3 = new Database(file);
    for (const m of MIGRATIONS.slice(0, 3)) v3.exec(m);
    v3.pragma('user_version = 3');
    v3.exec(`INSERT INTO strings (id, value) VALUES (1, 'openai'), (2, 'llm'), (3, 'gpt-4o'), (4, 'chat'), (5, 'u1'), (6, 'u2')`);
    const insert = v3.prepare(
      'INSERT INTO records (id, provider, service_type, model, operation, input_tokens, user_id, error, metadata) VALUES (?, 1, 2, 3, 4, 10, ?, 0, ?)',
    );
    const old: UsageRecord[] = [];
    v3.exec('BEGIN');
    for (let i = 0; i < 300; i++) {
      const r = rec({
        timestamp: start + i * 800_000,
        userId: i % 2 === 0 ? 'u1' : 'u2',
        metadata: i % 10 === 0 ? { run_id: 'run-1' } : null,
        ...{ inputTokens: 10, outputTokens: null, cachedInputTokens: null, totalTokens: null, costPicoUsd: null },
        ...{ apiKeyId: null, threadId: null, agent: null },
      });
      insert.run(r.timestamp * 1024, i % 2 === 0 ? 5 : 6, r.metadata === null ? null : JSON.stringify(r.metadata));
      old.push(r);
    }
    // Their daily user rollup, as the version 3 writer kept it.
    v3.exec(`INSERT INTO rollup_user_day SELECT user_id, (id >> 10) / 86400000, provider, service_type, model, 0,
      COUNT(*), 0, SUM(input_tokens), 0, 0, 0, 0, 0, 0, COUNT(*) FROM records GROUP BY 1, 2`);
    v3.exec('COMMIT');
    v3.close();
    const s = store(file);
    const records = old.concat(
      randomRecords(3000, 11, start, 3 * 86_400_000).map((r, i) => (i % 10 === 0 ? { ...r, metadata: { run_id: `run-${i % 3}` } } : r)),
    );
    const db = new Database(file);
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    // The old rows' hours, by user, before anything new is written.
    expect(db.prepare('SELECT SUM(requests) AS n, SUM(input_tokens) AS input FROM rollup_user_hour').get()).toEqual({
      n: 300,
      input: 3000,
    });
    await s.write(records.slice(300));
    const plan = (sql: string) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail).join('; ');
    // A run's rows through its index; no index on the records' users, which slowed every write.
    // (Schema 9 keeps metadata in the `rare` JSON, most records' NULL.)
    expect(
      plan(
        "SELECT SUM(input_tokens) FROM records WHERE json_extract(rare, '$.metadata.run_id') IS NOT NULL AND json_extract(rare, '$.metadata.run_id') = 'r'",
      ),
    ).toMatch(/USING INDEX records_run/);
    // Threads through thread_minutes (schema 6), not an index entry a row.
    expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records' ORDER BY name").pluck().all()).toEqual([
      'records_run',
    ]);
    // A user's usage with ragged ends counts the rows of before the migration as well as the new ones,
    // and still does once the rows of the first day's whole hours are gone: those come from rollup_user_hour.
    const [since, until] = [start + 5 * HOUR_MS + 17, start + 2 * 86_400_000 + 19 * HOUR_MS + 60_000];
    const want = new Map([...expected(records, { userId: 'u2', since, until }, ['model'])].map(([k, v]) => [k, v]));
    const got = () => new Map(s.aggregateSync({ userId: 'u2', since, until }, ['model']).map((r) => [JSON.stringify([r.key.model]), r]));
    const inRange = (r: UsageRecord) => r.userId === 'u2' && r.timestamp >= since && r.timestamp < until;
    expect(records.slice(0, 300).filter(inRange).length).toBeGreaterThan(50);
    for (const pass of [1, 2]) {
      const rows = got();
      expect(rows.size, `pass ${pass}`).toBe(want.size);
      for (const [k, w] of want)
        expect({ requests: rows.get(k)?.requests, inputTokens: rows.get(k)?.inputTokens }).toEqual({
          requests: w.requests,
          inputTokens: w.inputTokens,
        });
      db.prepare('DELETE FROM records WHERE id >= ? AND id < ?').run((start + 6 * HOUR_MS) * 1024, (start + 86_400_000) * 1024);
    }
    db.close();
    expect(await s.count({ userId: 'u2', since, until })).toBeLessThan(records.filter(inRange).length);
    // A run's old and new rows, but those just deleted.
    const [run] = s.aggregateSync({ runId: 'run-1' }, []);
    const gone = (r: UsageRecord) => r.timestamp >= start + 6 * HOUR_MS && r.timestamp < start + 86_400_000;
    expect(run?.requests).toBe(records.filter((r) => r.metadata?.run_id === 'run-1' && !gone(r)).length);
  });

  it('migrates a ledger of the fifth schema in place: every field of every record kept, the rare counts moved to one column', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tm-ledger-')), 'ledger.db');
    const start = Date.UTC(2026, 9, 1);
    // Records with every field, some rare counts each, and some with none.
    const r = rng(5);
    const records = randomRecords(600, 5, start, 86_400_000).map((x, i) => {
      const rare = Object.fromEntries(RARE_COUNTS.map((f) => [f, r() < 0.2 ? Math.floor(r() * 50) : null]));
      return i % 100 === 0
        ? everyCount({ timestamp: x.timestamp, metadata: { run_id: 'r1' }, durationMs: 12.25 })
        : { ...x, ...rare, requestModel: i % 7 === 0 ? 'alias' : null, errorMessage: x.error ? 'boom' : null };
    });
    records.sort((a, b) => a.timestamp - b.timestamp);
    // The counts schema 5 had (a count added to the table since cannot be in such a ledger).
    const v5Counts = new Set<string>(
      'inputTokens outputTokens cachedInputTokens cacheWriteTokens cacheWrite1hTokens inputAudioTokens cachedAudioTokens outputAudioTokens outputImageTokens reasoningTokens totalTokens searchUnits webSearches'.split(
        ' ',
      ),
    );
    for (const x of records) for (const f of COUNT_FIELDS) if (!v5Counts.has(f)) x[f] = null;
    // A ledger as version 5 left it: a column for each rare count, written with that schema's own SQL.
    const v5 = new Database(file);
    for (const m of MIGRATIONS.slice(0, 5)) v5.exec(m);
    v5.pragma('user_version = 5');
    const ids = new Map<string, number>();
    const sid = (v: string | null) => {
      if (v === null) return null;
      if (!ids.has(v)) ids.set(v, (v5.prepare('INSERT INTO strings (value) VALUES (?) RETURNING id').get(v) as { id: number }).id);
      return ids.get(v) as number;
    };
    const insert = v5.prepare(
      `INSERT INTO records (id, provider, service_type, model, request_model, operation, input_tokens, output_tokens,
        cached_input_tokens, cache_write_tokens, cache_write_1h_tokens, input_audio_tokens, cached_audio_tokens, output_audio_tokens,
        output_image_tokens, reasoning_tokens, total_tokens, search_units, web_searches, cost_pico, api_key_id, user_id, thread_id, agent,
        duration_us, error, error_type, error_message, metadata) VALUES (${Array(29).fill('?').join(', ')})`,
    );
    v5.transaction(() => {
      for (const [i, x] of records.entries())
        insert.run(
          ...[x.timestamp * 1024 + i, sid(x.provider), sid(x.serviceType), sid(x.model), sid(x.requestModel), sid(x.operation)],
          ...[x.inputTokens, x.outputTokens, x.cachedInputTokens, x.cacheWriteTokens, x.cacheWrite1hTokens, x.inputAudioTokens],
          ...[x.cachedAudioTokens, x.outputAudioTokens, x.outputImageTokens, x.reasoningTokens, x.totalTokens, x.searchUnits],
          ...[x.webSearches, x.costPicoUsd, sid(x.apiKeyId), sid(x.userId), sid(x.threadId), sid(x.agent)],
          ...[x.durationMs === null ? null : x.durationMs * 1000, x.error ? 1 : 0, sid(x.errorType), x.errorMessage],
          x.metadata === null ? null : JSON.stringify(x.metadata),
        );
    })();
    v5.close();
    // Rows from before schema 7 kept no split of their cost: unknown, never 0.
    const want = records.map((x) => ({
      ...x,
      costUsd: x.costPicoUsd === null ? null : x.costPicoUsd / 1e12,
      inputCostUsd: null,
      outputCostUsd: null,
    }));
    const strip = (xs: (UsageRecord & { id: number })[]) => xs.map(({ id, ...x }) => x);
    // Read without migrating (a read-only CLI command on a ledger no writer has opened since the upgrade).
    const readonly = new SqliteStore(file, { readonly: true });
    expect(strip(readonly.recordsSync({ order: 'asc' }))).toEqual(want);
    readonly.closeSync();
    const s = store(file);
    expect(strip(s.recordsSync({ order: 'asc' }))).toEqual(want);
    expect(s.aggregateSync({ runId: 'r1' }, [])[0]?.requests).toBe(6);
    const db = new Database(file, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    const columns = (db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all('records') as string[]).filter((c) =>
      /audio|image|1h|search|web/.test(c),
    );
    expect(columns).toEqual([]);
    // The rare column holds only the counts a record has (and, from schema 9, its other fields most
    // records leave empty); a record with none holds NULL.
    const rare = db.prepare('SELECT rare FROM records ORDER BY id').pluck().all() as (string | null)[];
    rare.forEach((json, i) => {
      const x = records[i] as UsageRecord;
      const present = Object.fromEntries(RARE_COUNTS.filter((f) => x[f] !== null).map((f) => [fieldSpec(f).column, x[f]]));
      const counts = Object.fromEntries(Object.entries(json === null ? {} : JSON.parse(json)).filter(([k]) => !IN_RARE.has(k)));
      expect(counts).toEqual(present);
      const others = x.requestModel !== null || x.errorType !== null || x.errorMessage !== null || x.metadata !== null;
      if (Object.keys(present).length === 0 && !others) expect(json).toBeNull();
    });
    expect(rare.filter((x) => x === null).length).toBeGreaterThan(50);
    // A thread's rows and sums, those of before the migration included, through the minutes it had calls in.
    for (const threadId of ['t1', 't3']) {
      const mine = records.filter((x) => x.threadId === threadId);
      expect(strip(s.recordsSync({ threadId, order: 'asc' }))).toEqual(want.filter((x) => x.threadId === threadId));
      const since = start + 3 * HOUR_MS + 17;
      expect(await s.count({ threadId, since })).toBe(mine.filter((x) => x.timestamp >= since).length);
      const [sum] = s.aggregateSync({ threadId, since }, []);
      expect(sum?.inputTokens).toBe(mine.filter((x) => x.timestamp >= since).reduce((a, x) => a + (x.inputTokens ?? 0), 0));
    }
    const plan = (sql: string) =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(1, 1) as { detail: string }[]).map((r) => r.detail).join('; ');
    // Read by ids, a seek of thread_minutes and a minute of rows at a time: never a scan of the range.
    const threadPlan = plan(`SELECT * FROM records WHERE +id >= 0 AND +id < 1e18 AND id IN (${THREAD_IDS_SQL}) ORDER BY id DESC LIMIT 5`);
    expect(threadPlan).toMatch(/SEARCH m USING PRIMARY KEY \(thread_id=\?\)/);
    expect(threadPlan).toMatch(/SEARCH t USING INTEGER PRIMARY KEY \(rowid>\? AND rowid<\?\)/);
    expect(threadPlan).toMatch(/SEARCH records USING INTEGER PRIMARY KEY \(rowid=\?\)/);
    expect(threadPlan).not.toMatch(/SCAN/);
    // The view gives the same rare counts back by their names.
    const view = db.prepare(`SELECT ${RARE_COUNTS.map((f) => fieldSpec(f).column).join(', ')} FROM usage_records ORDER BY id`).all();
    expect(view).toEqual(records.map((x) => Object.fromEntries(RARE_COUNTS.map((f) => [fieldSpec(f).column, x[f]]))));
    db.close();
  });

  it('migrates a ledger of the sixth schema in place: old rows have no cost split (never 0), and their unknown counts are counted from the rows', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tm-ledger-')), 'ledger.db');
    const start = Date.UTC(2026, 9, 1);
    // Records as schema 6 kept them: no split of their cost.
    const old = randomRecords(800, 21, start, 2 * 86_400_000).map((x) => ({ ...x, inputCostUsd: null, outputCostUsd: null }));
    const v6 = new Database(file);
    for (const m of MIGRATIONS.slice(0, 6)) v6.exec(m);
    v6.pragma('user_version = 6');
    const ids = new Map<string, number>();
    const sid = (v: string | null) => {
      if (v === null) return null;
      if (!ids.has(v)) ids.set(v, (v6.prepare('INSERT INTO strings (value) VALUES (?) RETURNING id').get(v) as { id: number }).id);
      return ids.get(v) as number;
    };
    const insert = v6.prepare(
      `INSERT INTO records (id, provider, service_type, model, operation, input_tokens, output_tokens, cached_input_tokens,
        total_tokens, cost_pico, api_key_id, user_id, thread_id, agent, error) VALUES (${Array(15).fill('?').join(', ')})`,
    );
    // Its rollups as its writer kept them: the sums of the rows, with no count of the unknown ones.
    const sums = `COUNT(*), SUM(error), IFNULL(SUM(input_tokens), 0), IFNULL(SUM(output_tokens), 0), IFNULL(SUM(cached_input_tokens), 0),
      IFNULL(SUM(cache_write_tokens), 0), IFNULL(SUM(reasoning_tokens), 0), IFNULL(SUM(total_tokens), 0), IFNULL(SUM(cost_pico), 0),
      SUM(cost_pico IS NULL)`;
    v6.transaction(() => {
      for (const [i, x] of [...old].sort((a, b) => a.timestamp - b.timestamp).entries())
        insert.run(
          ...[x.timestamp * 1024 + i, sid(x.provider), sid(x.serviceType), sid(x.model), sid(x.operation)],
          ...[x.inputTokens, x.outputTokens, x.cachedInputTokens, x.totalTokens, x.costPicoUsd],
          ...[sid(x.apiKeyId), sid(x.userId), sid(x.threadId), sid(x.agent), x.error ? 1 : 0],
        );
      v6.exec(`INSERT INTO rollup_hour SELECT (id >> 10) / 3600000, provider, service_type, model, operation, IFNULL(agent, 0),
        IFNULL(api_key_id, 0), ${sums} FROM records GROUP BY 1, 2, 3, 4, 5, 6, 7`);
      v6.exec(`INSERT INTO rollup_user_day SELECT user_id, (id >> 10) / 86400000, provider, service_type, model, IFNULL(agent, 0),
        ${sums} FROM records WHERE user_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6`);
      v6.exec(`INSERT INTO rollup_user_hour SELECT (id >> 10) / 3600000, user_id, provider, service_type, model, IFNULL(agent, 0),
        ${sums} FROM records WHERE user_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6`);
    })();
    v6.close();
    const cases: [Parameters<typeof expected>[1], Parameters<typeof expected>[2]][] = [
      [{}, []],
      [{}, ['model']],
      [{ userId: 'u2' }, ['agent']],
      [{ since: start + 5 * HOUR_MS + 17, until: start + 86_400_000 + 3 * HOUR_MS }, ['userId']],
    ];
    const check = (s: SqliteStore, records: UsageRecord[]) => {
      for (const [filter, by] of cases) {
        const want = expected(records, filter, by);
        const got = s.aggregateSync(filter, by);
        expect(got.length).toBe(want.size);
        for (const row of got)
          expect({
            requests: row.requests,
            costPicoUsd: row.costPicoUsd,
            inputCostPicoUsd: row.inputCostPicoUsd,
            outputCostPicoUsd: row.outputCostPicoUsd,
            outputUnknown: row.unknownCounts.outputTokens,
          }).toEqual(
            (({ requests, costPicoUsd, inputCostPicoUsd, outputCostPicoUsd, outputUnknown }) => ({
              requests,
              costPicoUsd,
              inputCostPicoUsd,
              outputCostPicoUsd,
              outputUnknown,
            }))(
              want.get(JSON.stringify(by.map((d) => row.key[d] ?? null))) as ReturnType<typeof expected> extends Map<string, infer V>
                ? V
                : never,
            ),
          );
      }
    };
    expect(old.some((x) => x.outputTokens === null)).toBe(true);
    // Read without migrating (a read-only CLI command): the same answers, from the rows.
    const readonly = new SqliteStore(file, { readonly: true });
    open.push(readonly);
    check(readonly, old);
    expect(readonly.recordsSync({ limit: 1 })[0]?.outputCostUsd).toBeNull();
    readonly.closeSync();
    const s = store(file);
    check(s, old);
    const [all] = s.aggregateSync({}, []);
    // None of the old cost is split: neither side is a made-up 0 of something known, the whole is "not split".
    expect(all?.inputCostPicoUsd).toBe(0n);
    expect(all?.outputCostPicoUsd).toBe(0n);
    expect(all?.costPicoUsd).toBeGreaterThan(0n);
    // New records split their cost; old and new add up.
    const fresh = randomRecords(400, 22, start, 2 * 86_400_000);
    await s.write(fresh);
    check(s, [...old, ...fresh]);
    const db = new Database(file, { readonly: true });
    expect(db.prepare('SELECT COUNT(*) FROM usage_records WHERE output_cost_usd IS NULL AND input_cost_usd IS NULL').pluck().get()).toBe(
      old.length + fresh.filter((x) => x.outputCostUsd === null).length,
    );
    db.close();
  });

  it('migrates a ledger of the eighth schema in place: every record and every figure reads the same, the split to the nanodollar', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tm-ledger-')), 'ledger.db');
    const start = Date.UTC(2026, 9, 1);
    // Records as schema 8 kept them, with what schema 9 keeps differently: totals that are the input
    // plus the output, that are not, and that are unknown beside both known; costs of whole
    // nanodollars and not; splits in picodollars; request models, errors, metadata and rare counts.
    const old = randomRecords(900, 31, start, 2 * 86_400_000).map((x, i): UsageRecord => {
      const cost = x.costPicoUsd === null ? null : i % 3 === 0 ? x.costPicoUsd - (x.costPicoUsd % 1000) : x.costPicoUsd;
      const out = x.outputCostUsd === null || cost === null ? null : Math.min(Math.round(x.outputCostUsd * 1e12), cost);
      return {
        ...x,
        costPicoUsd: cost,
        inputCostUsd: out === null ? null : ((cost as number) - out) / 1e12,
        outputCostUsd: out === null ? null : out / 1e12,
        totalTokens: i % 7 === 0 ? null : i % 11 === 0 ? (x.totalTokens ?? 0) + 5 : x.totalTokens,
        ...(i % 13 === 0
          ? {
              requestModel: 'gpt-4o-2024-08-06',
              errorType: 'rate_limit',
              errorMessage: 'said "slow down"',
              metadata: { run_id: `run-${i % 2}`, step: i, none: null },
              webSearches: 2,
            }
          : {}),
      };
    });
    expect(old.some((x) => x.totalTokens === null && x.inputTokens !== null && x.outputTokens !== null)).toBe(true);
    const v8 = new Database(file);
    for (const m of MIGRATIONS.slice(0, 8)) v8.exec(m);
    v8.pragma('user_version = 8');
    const ids = new Map<string, number>();
    const sid = (v: string | null) => {
      if (v === null) return null;
      if (!ids.has(v)) ids.set(v, (v8.prepare('INSERT INTO strings (value) VALUES (?) RETURNING id').get(v) as { id: number }).id);
      return ids.get(v) as number;
    };
    const insert = v8.prepare(
      `INSERT INTO records (id, provider, service_type, model, request_model, operation, input_tokens, output_tokens, cached_input_tokens,
        total_tokens, cost_pico, api_key_id, user_id, thread_id, agent, duration_us, error, error_type, error_message, metadata, rare,
        output_cost_pico) VALUES (${Array(22).fill('?').join(', ')})`,
    );
    // Its rollups as its writer kept them: the sums of the rows.
    const sums = `COUNT(*), SUM(error), IFNULL(SUM(input_tokens), 0), IFNULL(SUM(output_tokens), 0), IFNULL(SUM(cached_input_tokens), 0),
      IFNULL(SUM(cache_write_tokens), 0), IFNULL(SUM(reasoning_tokens), 0), IFNULL(SUM(total_tokens), 0), IFNULL(SUM(cost_pico), 0),
      SUM(cost_pico IS NULL), IFNULL(SUM(CASE WHEN output_cost_pico IS NULL THEN cost_pico END), 0), IFNULL(SUM(output_cost_pico), 0),
      SUM(input_tokens IS NULL), SUM(output_tokens IS NULL), SUM(cached_input_tokens IS NULL), SUM(cache_write_tokens IS NULL),
      SUM(reasoning_tokens IS NULL), SUM(total_tokens IS NULL)`;
    const cols = `requests, errors, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, total_tokens,
      cost_pico, unpriced, unsplit_cost_pico, output_cost_pico, input_tokens_unknown, output_tokens_unknown, cached_input_tokens_unknown,
      cache_write_tokens_unknown, reasoning_tokens_unknown, total_tokens_unknown`;
    const sorted = [...old].sort((a, b) => a.timestamp - b.timestamp);
    v8.transaction(() => {
      for (const [i, x] of sorted.entries())
        insert.run(
          ...[x.timestamp * 1024 + i, sid(x.provider), sid(x.serviceType), sid(x.model), sid(x.requestModel), sid(x.operation)],
          ...[x.inputTokens, x.outputTokens, x.cachedInputTokens, x.totalTokens, x.costPicoUsd],
          ...[
            sid(x.apiKeyId),
            sid(x.userId),
            sid(x.threadId),
            sid(x.agent),
            x.durationMs === null ? null : Math.round(x.durationMs * 1000),
          ],
          ...[x.error ? 1 : 0, sid(x.errorType), x.errorMessage, x.metadata === null ? null : JSON.stringify(x.metadata)],
          ...[x.webSearches === null ? null : JSON.stringify({ web_searches: x.webSearches })],
          x.outputCostUsd === null ? null : Math.round(x.outputCostUsd * 1e12),
        );
      v8.exec(`INSERT INTO rollup_hour (hour, provider, service_type, model, operation, agent, api_key_id, ${cols})
        SELECT (id >> 10) / 3600000, provider, service_type, model, operation, IFNULL(agent, 0), IFNULL(api_key_id, 0), ${sums}
        FROM records GROUP BY 1, 2, 3, 4, 5, 6, 7`);
      v8.exec(`INSERT INTO rollup_user_day (user_id, day, provider, service_type, model, agent, ${cols})
        SELECT user_id, (id >> 10) / 86400000, provider, service_type, model, IFNULL(agent, 0), ${sums}
        FROM records WHERE user_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6`);
      v8.exec(`INSERT INTO rollup_user_hour (hour, user_id, provider, service_type, model, agent, ${cols})
        SELECT (id >> 10) / 3600000, user_id, provider, service_type, model, IFNULL(agent, 0), ${sums}
        FROM records WHERE user_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6`);
    })();
    v8.close();
    // What a reader sees: every figure of every group, over ranges with ragged ends (rollups and rows).
    const figures = (s: SqliteStore) =>
      [
        [{}, []],
        [{}, ['model']],
        [{ userId: 'u2' }, ['agent']],
        [{ since: start + 5 * HOUR_MS + 17, until: start + 86_400_000 + 3 * HOUR_MS }, ['userId']],
        [{ since: start + 2 * HOUR_MS + 1, until: start + 30 * HOUR_MS - 1 }, ['provider', 'day']],
        [{ userId: 'u1', since: start + 3 * HOUR_MS + 7, until: start + 40 * HOUR_MS + 11 }, ['model']],
        [{ runId: 'run-1' }, []],
      ].map(([filter, by]) =>
        s
          .aggregateSync(filter as LedgerFilter, by as Dimension[])
          .sort((a, b) => JSON.stringify(a.key).localeCompare(JSON.stringify(b.key))),
      );
    // And in plain JavaScript from the records, the split to the nanodollar (as migration 9 keeps it).
    const nano = (x: UsageRecord) =>
      x.costPicoUsd === null || x.outputCostUsd === null ? null : Math.floor((Math.round(x.outputCostUsd * 1e12) + 500) / 1000);
    const want = expected(old, {}, ['model']);
    const readonly = new SqliteStore(file, { readonly: true });
    open.push(readonly);
    const before = figures(readonly);
    const recordsBefore = readonly.recordsSync({ order: 'asc' });
    readonly.closeSync();
    const s = store(file);
    expect(figures(s)).toEqual(before);
    const after = s.recordsSync({ order: 'asc' });
    expect(after).toEqual(recordsBefore);
    // The rows are the records written, their split taken to the nanodollar.
    const strip = ({ id: _id, ...r }: UsageRecord & { id: number }) => r;
    expect(after.map(strip)).toEqual(
      sorted.map((x) => {
        const n = nano(x);
        return {
          ...x,
          costUsd: x.costPicoUsd === null ? null : x.costPicoUsd / 1e12,
          inputCostUsd: n === null ? null : ((x.costPicoUsd as number) - n * 1000) / 1e12,
          outputCostUsd: n === null ? null : (n * 1000) / 1e12,
        };
      }),
    );
    for (const row of figures(s)[1] ?? []) {
      const w = want.get(JSON.stringify([row.key.model])) as NonNullable<ReturnType<typeof want.get>>;
      expect([row.requests, row.costPicoUsd, row.inputCostPicoUsd, row.outputCostPicoUsd]).toEqual([
        w.requests,
        w.costPicoUsd,
        w.inputCostPicoUsd,
        w.outputCostPicoUsd,
      ]);
      const mine = old.filter((x) => x.model === row.key.model);
      expect(row.totalTokens).toBe(mine.reduce((a, x) => a + (x.totalTokens ?? 0), 0));
      expect(row.unknownCounts.totalTokens).toBe(mine.filter((x) => x.totalTokens === null).length);
    }
    // A run's rows through the index, as before.
    const db = new Database(file, { readonly: true });
    const runSql =
      "SELECT id FROM records WHERE json_extract(rare, '$.metadata.run_id') IS NOT NULL AND json_extract(rare, '$.metadata.run_id') = 'run-1'";
    expect((db.prepare(`EXPLAIN QUERY PLAN ${runSql}`).all() as { detail: string }[]).map((r) => r.detail).join()).toMatch(/records_run/);
    expect(db.prepare('SELECT COUNT(*) FROM records WHERE total_tokens IS NULL').pluck().get()).toBeGreaterThan(old.length / 2);
    db.close();
    // New records add to the migrated buckets.
    const fresh = randomRecords(300, 32, start, 2 * 86_400_000);
    await s.write(fresh);
    for (const row of s.aggregateSync({ since: start + 5 * HOUR_MS + 17, until: start + 40 * HOUR_MS }, ['model'])) {
      const w = expected([...old, ...fresh], { since: start + 5 * HOUR_MS + 17, until: start + 40 * HOUR_MS }, ['model']).get(
        JSON.stringify([row.key.model]),
      );
      expect([row.requests, row.costPicoUsd, row.inputCostPicoUsd, row.outputCostPicoUsd]).toEqual([
        w?.requests,
        w?.costPicoUsd,
        w?.inputCostPicoUsd,
        w?.outputCostPicoUsd,
      ]);
    }
  });

  it('refuses a ledger written by a newer tokenmeter', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tm-ledger-')), 'ledger.db');
    const db = new Database(file);
    db.pragma('user_version = 99');
    db.close();
    expect(() => new SqliteStore(file)).toThrow(/schema version 99 is newer/);
  });
});
