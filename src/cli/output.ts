import Table from 'cli-table3';
import type { Totals } from '../ledger/types.ts';
import { countText, num, shareBar, usd } from '../reports/format.ts';

/**
 * A text table: `right` lists the right-aligned (numeric) columns. No colours, so that the text
 * is the same in a terminal, a pipe and a test.
 */
export function table(head: readonly string[], rows: readonly (readonly string[])[], right: readonly number[] = []): string {
  const t = new Table({
    head: [...head],
    style: { head: [], border: [] },
    // No rule between rows: a breakdown reads as one block.
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
    colAligns: head.map((_, i) => (right.includes(i) ? 'right' : 'left')),
  });
  for (const r of rows) t.push([...r]);
  return t.toString();
}

/** JSON for `--json`: exact picodollar sums (bigint) as strings, infinite ratios as null. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2);
}

/** A group's label: `(none)` for records without a value. */
export function label(key: string | null | undefined): string {
  return key === null || key === undefined || key === '' ? '(none)' : key;
}

/** `part`'s share of `whole`, by cost when anything is priced, else by tokens (as reports.ts does). */
export function shareOf(part: Totals, whole: Totals): number {
  if (whole.costPicoUsd > 0n) return Number((part.costPicoUsd * 1_000_000n) / whole.costPicoUsd) / 1e6;
  return whole.totalTokens > 0 ? part.totalTokens / whole.totalTokens : 0;
}

/** The header of a share column: what the share is of. */
export function shareHead(whole: Totals): string {
  return whole.costPicoUsd > 0n ? 'Share of cost' : 'Share of tokens';
}

/**
 * A summed token count as a cell: `?` when no record of the group reported it, `≥1,234` when some
 * did not (the sum is of those that did, so the true count is at least that), else the sum.
 */
export function countCell(sum: number, unknown: number, requests: number): string {
  return countText(sum, unknown, requests);
}

/** The cost not split into input and output sides (rows kept before the split, costs the caller gave), in picodollars. */
function unsplitPico(t: Totals): bigint {
  return t.costPicoUsd - t.inputCostPicoUsd - t.outputCostPicoUsd;
}

/** One side of the cost as a cell: `?` when none of the cost is split, `≥$x` when part of it is not, `unpriced` as the cost. */
function sideCell(t: Totals, side: number, cost: string): string {
  if (cost === 'unpriced') return cost;
  const unsplit = unsplitPico(t);
  if (unsplit === 0n) return usd(side);
  return t.inputCostPicoUsd + t.outputCostPicoUsd === 0n ? '?' : `≥${usd(side)}`;
}

/** The cells of a breakdown row: requests, input, output and total tokens, cost, its input and output sides, share bar. */
export function totalsCells(t: Totals, share: number): string[] {
  const cost = t.requests > 0 && t.unpricedRequests === t.requests ? 'unpriced' : usd(t.costUsd);
  const u = t.unknownCounts;
  return [
    num(t.requests),
    countCell(t.inputTokens, u.inputTokens, t.requests),
    countCell(t.outputTokens, u.outputTokens, t.requests),
    countCell(t.totalTokens, u.totalTokens, t.requests),
    cost,
    sideCell(t, t.inputCostUsd, cost),
    sideCell(t, t.outputCostUsd, cost),
    shareBar(share),
  ];
}

export const TOTALS_HEAD = ['Requests', 'Input tokens', 'Output tokens', 'Total tokens', 'Cost', 'Input cost', 'Output cost'] as const;
/** The right-aligned (numeric) columns of a table whose first column is a label and then TOTALS_HEAD's. */
export const TOTALS_RIGHT = [1, 2, 3, 4, 5, 6, 7] as const;

/** Notes for the counts some records did not report and the cost not split, or nothing. */
export function unknownNotes(t: Totals): string[] {
  const lines: string[] = [];
  const u = t.unknownCounts;
  const names: [number, string][] = [
    [u.inputTokens, 'input tokens'],
    [u.outputTokens, 'output tokens'],
    [u.totalTokens, 'total tokens'],
  ];
  const missing = names.filter(([n]) => n > 0).map(([n, name]) => `${name} by ${num(n)}`);
  if (missing.length > 0) {
    lines.push(
      `Of the ${num(t.requests)} requests, some did not report their counts (${missing.join(', ')}): ≥ sums those reported, ? means none was; no unknown count is taken for 0.`,
    );
  }
  const unsplit = unsplitPico(t);
  if (unsplit > 0n) {
    lines.push(
      `${usd(Number(unsplit) / 1e12)} of the cost has no input/output split (records kept before tokenmeter split costs, or costs given by the caller): ≥ shows the split part, ? none.`,
    );
  }
  return lines;
}

/** A note for calls whose cost is unknown, or nothing. */
export function unpricedNote(t: Totals): string[] {
  if (t.unpricedRequests === 0) return [];
  return [
    `${num(t.unpricedRequests)} of ${num(t.requests)} requests have no known price and are not in the cost (set one in config.json "pricing").`,
  ];
}
