import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { everyCount, rec } from '../test/helpers/ledger-records.ts';
import { countLines } from './cli/inspect.ts';
import { configPrices, parseConfig } from './config.ts';
import { isValidationError } from './errors.ts';
import { cleanup, readArchive } from './ledger/archive.ts';
import { SqliteStore } from './ledger/sqlite.ts';
import { validatePriceOverride } from './pricing/price-book.ts';
import type { Usage } from './providers/types.ts';
import { exportRecords } from './reports/export.ts';
import { USAGE_INPUT_KEYS, type UsageInput, type UsageRecord, validateUsage } from './usage.ts';
import { COUNT_FIELDS, FIELD_LIST, fieldSpec, PART_RULES, PRICE_KEYS, RARE_COUNTS, snakeCase } from './usage-fields.ts';

/**
 * The table of record fields drives the exports, the archive, inspect, the price keys and
 * validation's part-of checks (the store suite, store.test.ts, checks both stores and their
 * view): a field added to the table and left out of any of them fails here.
 */

const DAY = 86_400_000;

/** A validated call with every count of the table, each its own value. */
function everyCountInput(): UsageInput {
  const r = everyCount();
  return { provider: r.provider, model: r.model, ...Object.fromEntries(COUNT_FIELDS.map((f) => [f, r[f]])) };
}

describe('the table of record fields', () => {
  it('names each field once, in snake_case, and refers only to counts before it in its part-of rules and inspect lines', () => {
    const columns = FIELD_LIST.map(([, f]) => f.column);
    expect(new Set(columns).size).toBe(columns.length);
    for (const [name, f] of FIELD_LIST) expect(f.column, name).toBe(snakeCase(name));
    const index = (f: string) => COUNT_FIELDS.indexOf(f as (typeof COUNT_FIELDS)[number]);
    for (const r of PART_RULES) {
      // A part comes after its whole (so that everyCount's halving values keep every rule).
      expect(index(r.of), `${r.part} of ${r.of}`).toBeGreaterThanOrEqual(0);
      expect(index(r.of)).toBeLessThan(index(r.part));
      if (r.plus !== undefined) expect(index(r.plus), `${r.part} plus ${r.plus}`).toBeGreaterThanOrEqual(0);
    }
    for (const f of COUNT_FIELDS) {
      const under = fieldSpec(f).inspect?.under;
      if (under !== undefined) expect(index(under), `${f} under ${under}`).toBeGreaterThanOrEqual(0);
    }
    expect(RARE_COUNTS.every((f) => fieldSpec(f).kind === 'count')).toBe(true);
  });

  it('is what validation takes: every count comes back as given', () => {
    for (const f of COUNT_FIELDS) expect(USAGE_INPUT_KEYS.has(f), f).toBe(true);
    const input = everyCountInput();
    const r = validateUsage(input);
    for (const f of COUNT_FIELDS) expect(r[f], f).toBe(input[f]);
  });

  it.each(PART_RULES.map((r) => [`${r.part} of ${r.of}${r.plus ? ` with ${r.plus}` : ''}`, r] as const))(
    'checks the part-of rule %s: a part above its whole is a ValidationError naming the part',
    (_name, rule) => {
      const input = everyCountInput() as unknown as Record<string, unknown>;
      // The part one more than the whole allows (less the other part's share).
      const whole = input[rule.of] as number;
      const plus = rule.plus === undefined ? 0 : (input[rule.plus] as number);
      input[rule.part] = whole - plus + 1;
      let error: unknown;
      try {
        validateUsage(input as unknown as UsageInput);
      } catch (e) {
        error = e;
      }
      expect(isValidationError(error)).toBe(true);
      expect((error as { field: string }).field).toBe(rule.part);
      expect((error as Error).message).toContain(rule.of);
      // At the limit it passes (shown with only the counts of this rule: the part's other rules, and
      // those of the counts that include it, have their own cases).
      if (PART_RULES.filter((r) => r.part === rule.part).length === 1) {
        const alone: Record<string, unknown> = { provider: 'openai', model: 'm', [rule.of]: whole, [rule.part]: whole - plus };
        if (rule.plus !== undefined) alone[rule.plus] = plus;
        expect(() => validateUsage(alone as unknown as UsageInput)).not.toThrow();
      }
    },
  );

  it('is every column of the CSV and JSON exports, each count with its value', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-fields-'));
    const store = new SqliteStore(join(dir, 'ledger.db'));
    const now = Date.UTC(2026, 10, 2);
    const full = everyCount({ timestamp: now - DAY });
    await store.write([full, rec({ timestamp: now - DAY + 1 })]);
    await exportRecords(store, join(dir, 'out.csv'), { days: 7 }, now);
    await exportRecords(store, join(dir, 'out.json'), { days: 7 }, now);
    const [header, row] = readFileSync(join(dir, 'out.csv'), 'utf8').split('\r\n');
    const csv = Object.fromEntries((header as string).split(',').map((h, i) => [h, (row as string).split(',')[i]]));
    const json = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')).records[0];
    expect(Object.keys(csv)).toEqual(FIELD_LIST.map(([, f]) => f.column));
    expect(Object.keys(json)).toEqual(FIELD_LIST.map(([, f]) => f.column));
    for (const f of COUNT_FIELDS) {
      const column = fieldSpec(f).column;
      expect(csv[column], column).toBe(String(full[f]));
      expect(json[column], column).toBe(full[f]);
    }
    store.closeSync();
  });

  it('is every field of an archive, read back as it was', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-fields-'));
    const store = new SqliteStore(join(dir, 'ledger.db'));
    const now = Date.UTC(2026, 10, 20);
    const old: UsageRecord[] = [everyCount({ timestamp: now - 10 * DAY }), rec({ timestamp: now - 10 * DAY + 1 })];
    await store.write(old);
    const { archives } = await cleanup(store, join(dir, 'archive'), 5, now);
    const back: UsageRecord[] = [];
    for await (const r of readArchive(archives[0]?.path as string)) back.push(r);
    expect(back).toEqual(old);
    store.closeSync();
  });

  it("is every count of inspect's output, each under the count that includes it", () => {
    const usage = { provider: 'openai', serviceType: 'llm', operation: 'chat', usageSource: 'reported' } as Usage;
    const counts = usage as unknown as Record<string, number>;
    COUNT_FIELDS.forEach((f, i) => {
      counts[f] = 1000 + i;
    });
    const text = countLines(usage).join('\n');
    for (const [i, f] of COUNT_FIELDS.entries()) {
      const line = fieldSpec(f).inspect;
      if (line === undefined) continue;
      const shown = (1000 + i).toLocaleString('en-US');
      expect(text, f).toMatch(line.inside ? `(${shown} ${line.label})` : new RegExp(`^ *${line.label} +${shown}`, 'm'));
    }
    // Every count the table shows, and none it does not.
    expect(countLines(usage)).toHaveLength(COUNT_FIELDS.filter((f) => fieldSpec(f).inspect?.inside !== true).length);
  });

  it('is every price key of config.json (snake_case) and of code overrides', () => {
    const given = Object.fromEntries(PRICE_KEYS.map(([k], i) => [snakeCase(k), i + 1]));
    const prices = configPrices(parseConfig({ pricing: { 'my-model': given } }));
    expect(prices['my-model']).toEqual(Object.fromEntries(PRICE_KEYS.map(([k], i) => [k, i + 1])));
    expect(validatePriceOverride('p', prices['my-model'])).toEqual(prices['my-model']);
    expect(() => parseConfig({ pricing: { m: { video_input: 1 } } })).toThrow(/video_input/);
  });
});
