import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { everyCount, rec } from '../test/helpers/ledger-records.ts';
import { countLines } from './cli/inspect.ts';
import { configPrices } from './config.ts';
import { parseConfig } from './config-schema.ts';
import { isValidationError, ValidationError } from './errors.ts';
import { apiKeyId } from './key-id.ts';
import { cleanup, readArchive } from './ledger/archive.ts';
import { SqliteStore } from './ledger/sqlite.ts';
import { inputOfUsage } from './pipeline/usage-input.ts';
import { costPico, PriceBook, validatePriceOverride } from './pricing/price-book.ts';
import type { PriceOverride } from './pricing/types.ts';
import type { Usage } from './providers/types.ts';
import { exportRecords } from './reports/export.ts';
import { USAGE_FIELDS, usageRecordSchema } from './server/usage-schema.ts';
import { USAGE_INPUT_KEYS, type UsageInput, type UsageRecord, validateBuilt, validateUsage } from './usage.ts';
import { COUNT_FIELDS, FIELD_LIST, fieldSpec, PART_RULES, PRICE_KEYS, RARE_COUNTS, snakeCase } from './usage-fields.ts';

/**
 * The table of record fields drives the record's types and what they are at run time: validation
 * and its part-of checks, the copy of a provider's counts into a call's input, the REST API's
 * schema, the SQLite view, the exports, the archive, inspect, the price keys and the cost (the store
 * suite, store.test.ts, checks both stores and their view). A count added to the table alone is
 * carried everywhere: one left out of any of them fails here.
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

  it("is every count a provider's usage carries into a call's record", () => {
    const input = everyCountInput();
    const usage = { provider: 'openai', model: 'm', serviceType: 'llm', operation: 'chat', usageSource: 'reported' } as Usage;
    for (const f of COUNT_FIELDS) usage[f] = input[f] as number;
    const r = validateBuilt(inputOfUsage(usage, {}), usage, apiKeyId);
    for (const f of COUNT_FIELDS) expect(r[f], f).toBe(input[f]);
  });

  it("is checked from a provider's usage as from a caller's input: each count, by name", () => {
    for (const f of COUNT_FIELDS) {
      const usage = { provider: 'openai', model: 'm', serviceType: 'llm', operation: 'chat', usageSource: 'reported' } as Usage;
      usage[f] = -1;
      expect(() => validateBuilt(inputOfUsage(usage, {}), usage, apiKeyId), f).toThrow(ValidationError);
      expect(() => validateBuilt(inputOfUsage(usage, {}), usage, apiKeyId), f).toThrow(f);
      usage[f] = 1.5;
      expect(() => validateBuilt(inputOfUsage(usage, {}), usage, apiKeyId), f).toThrow(f);
    }
  });

  it("is every count of the REST API's schema, by its name and its snake_case one, each checked", () => {
    for (const f of COUNT_FIELDS) {
      expect(Object.keys(USAGE_FIELDS), f).toContain(f);
      const column = fieldSpec(f).column;
      expect(usageRecordSchema.safeParse({ provider: 'openai', model: 'm', [f]: 7 }).success, f).toBe(true);
      expect(usageRecordSchema.safeParse({ provider: 'openai', model: 'm', [column]: 7 }).success, column).toBe(true);
      const bad = usageRecordSchema.safeParse({ provider: 'openai', model: 'm', [f]: -1 });
      expect(
        bad.error?.issues.map((i) => i.path.join('.')),
        f,
      ).toEqual([f]);
    }
  });

  it('prices each priced count at its own price key', () => {
    const record = validateUsage(everyCountInput());
    const costWith = (prices: PriceOverride) => {
      const price = new PriceBook({ prices: { m: prices } }).resolve('openai', 'm');
      return costPico(price as NonNullable<typeof price>, record);
    };
    const ones = Object.fromEntries(PRICE_KEYS.map(([k]) => [k, 1])) as PriceOverride;
    const base = costWith(ones) as number;
    expect(base).toBeGreaterThan(0);
    // Each key's price dearer: the call costs more, by what that key's count (or its share of it) bills.
    for (const [k, f] of PRICE_KEYS) expect(costWith({ ...ones, [k]: 1001 }), `${k} (${f})`).toBeGreaterThan(base);
  });

  it('is every column of the CSV and JSON exports and of the usage_records view, each count with its value', async () => {
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
    store.closeSync();
    const db = new Database(join(dir, 'ledger.db'), { readonly: true });
    const view = db.prepare('SELECT * FROM usage_records ORDER BY id').all()[0] as Record<string, unknown>;
    db.close();
    for (const f of COUNT_FIELDS) {
      const column = fieldSpec(f).column;
      expect(csv[column], column).toBe(String(full[f]));
      expect(json[column], column).toBe(full[f]);
      expect(view[column], column).toBe(full[f]);
    }
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
