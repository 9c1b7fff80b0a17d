import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { emptyTotals, emptyUnknown } from '../ledger/rollup.ts';
import type { Totals } from '../ledger/types.ts';
import { parseDays, parsePositiveInt, parseSince, parseUntil, parseUsd } from './args.ts';
import { queryOf } from './ledger.ts';
import { label, shareHead, shareOf, table, toJson, totalsCells, unknownNotes } from './output.ts';

const totals = (o: Partial<Totals>): Totals => ({ ...emptyTotals(), ...o });

describe('tables', () => {
  it('draws plain text (no colours), numbers right-aligned, no rule between rows', () => {
    const t = table(
      ['model', 'Cost', 'Share'],
      [
        ['gpt-4o', '$1.2345', '████▎       42.1%'],
        ['mini', '$12.0000', '          0.0%'],
      ],
      [1],
    );
    expect(t).toBe(
      [
        '┌────────┬──────────┬───────────────────┐',
        '│ model  │     Cost │ Share             │',
        '│ gpt-4o │  $1.2345 │ ████▎       42.1% │',
        '│ mini   │ $12.0000 │           0.0%    │',
        '└────────┴──────────┴───────────────────┘',
      ].join('\n'),
    );
    expect(t).not.toContain('\u001b[');
  });

  it('shows a breakdown row: counts with separators, money to 4 decimals, share as a bar; unpriced rows say so', () => {
    const t = totals({
      requests: 1234,
      inputTokens: 1_000_000,
      outputTokens: 2500,
      totalTokens: 1_002_500,
      costUsd: 12.5,
      costPicoUsd: 12_500_000_000_000n,
      inputCostUsd: 2.5,
      inputCostPicoUsd: 2_500_000_000_000n,
      outputCostUsd: 10,
      outputCostPicoUsd: 10_000_000_000_000n,
    });
    expect(totalsCells(t, 0.421)).toEqual([
      '1,234',
      '1,000,000',
      '2,500',
      '1,002,500',
      '$12.5000',
      '$2.5000',
      '$10.0000',
      '████▎       42.1%',
    ]);
    expect(totalsCells(totals({ requests: 2, unpricedRequests: 2 }), 0)[4]).toBe('unpriced');
  });

  it('never shows an unknown count as 0: ? when no record reported it, ≥ the known sum when some did not; the same for an unsplit cost', () => {
    const rerank = totals({
      requests: 3,
      costUsd: 0.006,
      costPicoUsd: 6_000_000_000n,
      unknownCounts: { ...emptyUnknown(), inputTokens: 3, outputTokens: 3, totalTokens: 3 },
    });
    // A rerank reports search units, not tokens; its cost predates the split.
    expect(totalsCells(rerank, 1).slice(0, 7)).toEqual(['3', '?', '?', '?', '$0.0060', '?', '?']);
    const mixed = totals({
      requests: 4,
      inputTokens: 300,
      outputTokens: 40,
      totalTokens: 340,
      costUsd: 0.01,
      costPicoUsd: 10_000_000_000n,
      inputCostUsd: 0.002,
      inputCostPicoUsd: 2_000_000_000n,
      outputCostUsd: 0.003,
      outputCostPicoUsd: 3_000_000_000n,
      unknownCounts: { ...emptyUnknown(), outputTokens: 1, totalTokens: 1 },
    });
    expect(totalsCells(mixed, 1).slice(0, 7)).toEqual(['4', '300', '≥40', '≥340', '$0.0100', '≥$0.0020', '≥$0.0030']);
    expect(unknownNotes(mixed).join('\n')).toMatch(
      /output tokens by 1, total tokens by 1.*\n\$0\.0050 of the cost has no input\/output split/,
    );
    expect(unknownNotes(totals({ requests: 1 }))).toEqual([]);
  });

  it('takes shares by cost, or by tokens when nothing is priced', () => {
    const whole = totals({ costPicoUsd: 4_000_000n, totalTokens: 100 });
    expect(shareOf(totals({ costPicoUsd: 1_000_000n, totalTokens: 90 }), whole)).toBe(0.25);
    expect(shareHead(whole)).toBe('Share of cost');
    const free = totals({ totalTokens: 200 });
    expect(shareOf(totals({ totalTokens: 50 }), free)).toBe(0.25);
    expect(shareHead(free)).toBe('Share of tokens');
    expect(shareOf(totals({}), totals({}))).toBe(0);
  });

  it('prints picodollar sums as exact strings in JSON, and labels missing values', () => {
    expect(JSON.parse(toJson({ costPicoUsd: 12_345_678_901_234_567_890n, ratio: Number.POSITIVE_INFINITY }))).toEqual({
      costPicoUsd: '12345678901234567890',
      ratio: null,
    });
    expect([label(null), label(''), label('alice')]).toEqual(['(none)', '(none)', 'alice']);
  });
});

describe('option parsers', () => {
  it('take positive days (fractions too) and reject the rest with commander’s invalid-argument error', () => {
    expect(parseDays('7')).toBe(7);
    expect(parseDays('0.5')).toBe(0.5);
    for (const bad of ['0', '-3', 'abc', '', 'Infinity']) expect(() => parseDays(bad)).toThrow(InvalidArgumentError);
    expect(parsePositiveInt('20')).toBe(20);
    for (const bad of ['0', '1.5', '-1', 'x']) expect(() => parsePositiveInt(bad)).toThrow(InvalidArgumentError);
    expect(parseUsd('0')).toBe(0);
    expect(parseUsd('12.5')).toBe(12.5);
    expect(() => parseUsd('-1')).toThrow(InvalidArgumentError);
  });

  it('read dates and ISO times as UTC; a date for --until includes that whole day', () => {
    expect(parseSince('2026-05-01')).toBe(Date.UTC(2026, 4, 1));
    expect(parseSince('2026-05-01T10:30')).toBe(Date.UTC(2026, 4, 1, 10, 30));
    expect(parseSince('2026-05-01T10:30:00+02:00')).toBe(Date.UTC(2026, 4, 1, 8, 30));
    expect(parseUntil('2026-05-01')).toBe(Date.UTC(2026, 4, 2));
    expect(parseUntil('2026-05-01T10:00:00Z')).toBe(Date.UTC(2026, 4, 1, 10));
    for (const bad of ['yesterday', '1', '2026-02-30', '2026-13-01', '05/01/2026', '']) {
      expect(() => parseSince(bad), bad).toThrow(InvalidArgumentError);
    }
  });

  it('turn options into a report query: --since wins over --days, which wins over the default', () => {
    expect(queryOf({}, 30)).toEqual({ days: 30 });
    expect(queryOf({})).toEqual({});
    expect(queryOf({ days: 7, provider: 'openai' }, 30)).toEqual({ days: 7, provider: 'openai' });
    expect(queryOf({ days: 7, since: 1000, until: 5000 }, 30)).toEqual({ since: 1000, until: 5000 });
  });
});
