import Table from 'cli-table3';
import type { Totals } from '../ledger/types.ts';
import { num, shareBar, usd } from '../reports/format.ts';

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

/** The cells of a breakdown row: requests, input, output and total tokens, cost, share bar. */
export function totalsCells(t: Totals, share: number): string[] {
  const cost = t.requests > 0 && t.unpricedRequests === t.requests ? 'unpriced' : usd(t.costUsd);
  return [num(t.requests), num(t.inputTokens), num(t.outputTokens), num(t.totalTokens), cost, shareBar(share)];
}

export const TOTALS_HEAD = ['Requests', 'Input tokens', 'Output tokens', 'Total tokens', 'Cost'] as const;

/** A note for calls whose cost is unknown, or nothing. */
export function unpricedNote(t: Totals): string[] {
  if (t.unpricedRequests === 0) return [];
  return [
    `${num(t.unpricedRequests)} of ${num(t.requests)} requests have no known price and are not in the cost (set one in config.json "pricing").`,
  ];
}
