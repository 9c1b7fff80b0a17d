import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TokenMonitor, type UsageRecord } from '../src/index.ts';
import { FIELD_LIST } from '../src/usage-fields.ts';

const DAY = 86_400_000;

function monitor(): TokenMonitor {
  return new TokenMonitor({ dir: mkdtempSync(join(tmpdir(), 'tm-export-')), metrics: false, loadConfig: false });
}

/** A minimal RFC 4180 reader, to check what a spreadsheet would see. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  return rows;
}

describe('exports', () => {
  it('writes CSV with snake_case headers, quoting, and formula cells neutralised', async () => {
    const m = monitor();
    const dir = m.dir;
    const a = m.record({
      provider: 'openai',
      model: 'gpt-4o',
      inputTokens: 1200,
      outputTokens: 300,
      userId: '=HYPERLINK("http://evil.example","click")',
      threadId: '+1-555-0100',
      agent: '@planner',
      errorMessage: 'bad, "quoted"\nline',
      metadata: { note: '-2+3' },
    });
    m.record({ provider: 'anthropic', model: 'claude-sonnet-4-20250514', inputTokens: 10, outputTokens: 5, userId: 'plain' });
    const file = join(dir, 'out.csv');
    const result = await m.exportRecords(file, { days: 1 });
    expect(result).toEqual({ path: file, format: 'csv', records: 2 });
    const rows = parseCsv(readFileSync(file, 'utf8'));
    const [header, first, second] = rows;
    // These columns in this order (a count added to the table of record fields comes in among them).
    const columns = [
      'timestamp',
      'provider',
      'service_type',
      'model',
      'request_model',
      'operation',
      'input_tokens',
      'output_tokens',
      'cached_input_tokens',
      'cache_write_tokens',
      'cache_write_1h_tokens',
      'input_audio_tokens',
      'cached_audio_tokens',
      'output_audio_tokens',
      'output_image_tokens',
      'reasoning_tokens',
      'total_tokens',
      'search_units',
      'web_searches',
      'cost_usd',
      'input_cost_usd',
      'output_cost_usd',
      'api_key_id',
      'user_id',
      'thread_id',
      'agent',
      'duration_ms',
      'error',
      'error_type',
      'error_message',
      'metadata',
    ];
    expect(header?.filter((h) => columns.includes(h))).toEqual(columns);
    expect(header).toEqual(FIELD_LIST.map(([, f]) => f.column));
    const col = (row: string[] | undefined, name: string) => row?.[header?.indexOf(name) ?? -1];
    expect(col(first, 'user_id')).toBe(`'=HYPERLINK("http://evil.example","click")`);
    expect(col(first, 'thread_id')).toBe("'+1-555-0100");
    expect(col(first, 'agent')).toBe("'@planner");
    expect(col(first, 'error_message')).toBe('bad, "quoted"\nline');
    expect(col(first, 'input_tokens')).toBe('1200');
    expect(Number(col(first, 'cost_usd'))).toBe(a.costUsd);
    expect(col(first, 'timestamp')).toBe(new Date(a.record?.timestamp ?? 0).toISOString());
    expect(col(second, 'provider')).toBe('anthropic');
    for (const row of rows.slice(1)) {
      for (const cell of row) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
    }
    await m.close();
  });

  it('exports each record’s input and output cost, an empty cell where the split is unknown, and their sums in the statistics', async () => {
    const m = monitor();
    // gpt-4o: 1,200 in × $2.50 = $0.003, 300 out × $10 = $0.003.
    m.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 1200, outputTokens: 300, agent: 'a' });
    // A cost the caller gave has no split: unknown, not 0.
    m.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 10, outputTokens: 5, costUsd: 0.5, agent: 'a' });
    const csv = join(m.dir, 'split.csv');
    await m.exportRecords(csv, { days: 1 });
    const [header, ...rows] = parseCsv(readFileSync(csv, 'utf8'));
    const cells = rows.map((r) => ['cost_usd', 'input_cost_usd', 'output_cost_usd'].map((c) => r[header?.indexOf(c) ?? -1]));
    expect(cells).toEqual([
      ['0.006', '0.003', '0.003'],
      ['0.5', '', ''],
    ]);
    const json = join(m.dir, 'split.json');
    await m.exportRecords(json, { days: 1 });
    const doc = JSON.parse(readFileSync(json, 'utf8')) as {
      statistics: Record<string, unknown> & { by_agent: Record<string, Record<string, unknown>> };
      records: Record<string, unknown>[];
    };
    expect(doc.records.map((r) => [r.input_cost_usd, r.output_cost_usd])).toEqual([
      [0.003, 0.003],
      [null, null],
    ]);
    expect(doc.statistics).toMatchObject({
      total_cost_usd: 0.506,
      total_input_cost_usd: 0.003,
      total_output_cost_usd: 0.003,
      cost_not_split_usd: 0.5,
    });
    expect(doc.statistics.by_agent.a).toMatchObject({ input_cost_usd: 0.003, output_cost_usd: 0.003, cost_not_split_usd: 0.5 });
    await m.close();
  });

  it('writes JSON with the statistics and the usage history', async () => {
    const m = monitor();
    const r1 = m.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 100, outputTokens: 10, userId: 'u1' });
    const r2 = m.record({ provider: 'openai', model: 'gpt-4o-mini', inputTokens: 100, outputTokens: 10, userId: 'u2' });
    const file = join(m.dir, 'out.json');
    expect((await m.exportRecords(file)).format).toBe('json');
    const doc = JSON.parse(readFileSync(file, 'utf8')) as {
      period: { since: string | null };
      statistics: { by_provider: { provider: string; requests: number; cost_usd: number; by_model: Record<string, unknown> }[] };
      records: Record<string, unknown>[];
    };
    expect(doc.statistics.by_provider).toHaveLength(1);
    expect(doc.statistics.by_provider[0]).toMatchObject({ provider: 'openai', requests: 2 });
    expect(doc.statistics.by_provider[0]?.cost_usd).toBeCloseTo((r1.costUsd ?? 0) + (r2.costUsd ?? 0), 12);
    expect(Object.keys(doc.statistics.by_provider[0]?.by_model ?? {}).sort()).toEqual(['gpt-4o', 'gpt-4o-mini']);
    expect(doc.records.map((r) => [r.user_id, r.model, r.input_tokens])).toEqual([
      ['u1', 'gpt-4o', 100],
      ['u2', 'gpt-4o-mini', 100],
    ]);
    await m.close();
  });

  it('gives statistics in the research tracker’s shape: totals, averages, by agent and by model', async () => {
    const m = monitor();
    const calls = [
      m.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 1000, outputTokens: 200, agent: 'planner' }),
      m.record({ provider: 'openai', model: 'gpt-4o-mini', inputTokens: 3000, outputTokens: 500, agent: 'researcher' }),
      m.record({ provider: 'openai', model: 'gpt-4o-mini', inputTokens: 2000, outputTokens: 100, agent: 'researcher' }),
      m.record({ provider: 'openai', model: 'gpt-4o', inputTokens: 10, outputTokens: 1 }),
    ];
    const cost = (xs: typeof calls) => xs.reduce((a, r) => a + (r.costUsd ?? 0), 0);
    const file = join(m.dir, 'stats.json');
    await m.exportRecords(file);
    type Group = { calls: number; tokens: number; cost_usd: number };
    const { statistics: s } = JSON.parse(readFileSync(file, 'utf8')) as {
      statistics: {
        total_cost_usd: number;
        average_cost_per_call: number;
        by_agent: Record<string, Group>;
        by_model: Record<string, Group>;
        by_provider: Record<string, unknown>[];
      };
    };
    expect(s).toMatchObject({ total_calls: 4, total_tokens: 6811, average_tokens_per_call: 6811 / 4 });
    expect(s.total_cost_usd).toBeCloseTo(cost(calls), 12);
    expect(s.average_cost_per_call).toBeCloseTo(cost(calls) / 4, 12);
    expect(s.by_agent.researcher).toMatchObject({ calls: 2, tokens: 5600 });
    expect(s.by_agent.researcher?.cost_usd).toBeCloseTo(cost(calls.slice(1, 3)), 12);
    expect(s.by_agent['(none)']).toMatchObject({ calls: 1, tokens: 11 });
    expect(s.by_model['gpt-4o']).toMatchObject({ calls: 2, tokens: 1211 });
    expect(s.by_provider[0]).toMatchObject({ provider: 'openai', requests: 4 });
    await m.close();
  });

  it('streams a large export, reporting progress', async () => {
    const m = monitor();
    const t0 = Date.now() - DAY;
    for (let i = 0; i < 30_000; i++)
      m.record({ provider: 'openai', model: 'gpt-4o-mini', inputTokens: i, outputTokens: 1, timestamp: t0 + i });
    const progress: [number, number][] = [];
    const file = join(m.dir, 'big.csv');
    await m.exportRecords(file, { days: 2, onProgress: (done, total) => progress.push([done, total]) });
    const lines = readFileSync(file, 'utf8').split('\r\n');
    expect(lines).toHaveLength(30_002); // header, rows, and the empty string after the last CRLF
    expect(progress.length).toBeGreaterThan(25);
    expect(progress.at(-1)).toEqual([30_000, 30_000]);
    expect(progress.every(([d], i) => i === 0 || d >= (progress[i - 1]?.[0] ?? 0))).toBe(true);
    await expect(m.exportRecords(file, { format: 'xml' as never })).rejects.toThrow(/Invalid format: "xml"/);
    await m.close();
  });
});

describe('retention', () => {
  it('archives records older than N days by month, deletes them, and reads them back', async () => {
    const m = monitor();
    const now = Date.now();
    const old: UsageRecord[] = [];
    for (const [age, model] of [
      [100, 'gpt-4o'],
      [70, 'gpt-4o-mini'],
      [40, 'gpt-4o'],
      [5, 'gpt-4o'],
      [0, 'gpt-4o-mini'],
    ] as const) {
      const r = m.record({
        provider: 'openai',
        model,
        inputTokens: 1000 + age,
        outputTokens: 10,
        userId: `u${age}`,
        timestamp: now - age * DAY,
      });
      if (age > 30 && r.record !== null) old.push(r.record);
    }
    const result = await m.cleanup({ days: 30 });
    expect(result.deleted).toBe(3);
    const months = [...new Set(old.map((r) => new Date(r.timestamp).toISOString().slice(0, 7)))].sort();
    expect(result.archives.map((a) => a.month)).toEqual(months);
    expect(m.archives().map((a) => a.file)).toEqual(months.map((mo) => `ledger-${mo}.ndjson.gz`));

    // The ledger, its rollups and its reports hold only what is left.
    expect((await m.summary({ days: 365 })).total.requests).toBe(2);
    expect(await m.records({ days: 365 })).toHaveLength(2);

    const back: UsageRecord[] = [];
    for (const a of m.archives()) for await (const r of m.readArchive(a.month)) back.push(r);
    expect(back.map((r) => ({ ...r }))).toEqual(old.map((r) => ({ ...r })));

    // A second run finds nothing more; an archive appended twice (a cleanup cut short) reads back once.
    expect((await m.cleanup({ days: 30 })).deleted).toBe(0);
    const first = m.archives()[0];
    if (first === undefined) throw new Error('no archive');
    appendFileSync(first.path, readFileSync(first.path));
    const again: UsageRecord[] = [];
    for await (const r of m.readArchive(first.month)) again.push(r);
    expect(again).toHaveLength(old.filter((r) => new Date(r.timestamp).toISOString().startsWith(first.month)).length);
    await expect(m.cleanup({ days: -1 })).rejects.toThrow(/Invalid days: -1/);
    await m.close();
  });
});
