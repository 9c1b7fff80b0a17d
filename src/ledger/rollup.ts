import { picoToUsd } from '../pricing/money.ts';
import type { UsageRecord } from '../usage.ts';
import type { Totals } from './types.ts';

export { DAY_MS, HOUR_MS } from '../time.ts';

/** One rollup bucket's sums, accumulated over a batch before it is added to the table once. */
export interface RollupSums {
  key: number[];
  requests: number;
  errors: number;
  input: number;
  output: number;
  cached: number;
  cacheWrite: number;
  reasoning: number;
  total: number;
  costPico: number;
  unpriced: number;
}

/** Adds one record to the bucket of `key` (the rollup's key columns, as dictionary ids). */
export function addRow(buckets: Map<string, RollupSums>, key: number[], r: UsageRecord): void {
  // Keys are small integers: a string of them is the cheapest Map key.
  let k = '';
  for (const part of key) k += `${part},`;
  let s = buckets.get(k);
  if (s === undefined) {
    s = { key, requests: 0, errors: 0, input: 0, output: 0, cached: 0, cacheWrite: 0, reasoning: 0, total: 0, costPico: 0, unpriced: 0 };
    buckets.set(k, s);
  }
  s.requests++;
  if (r.error) s.errors++;
  s.input += r.inputTokens ?? 0;
  s.output += r.outputTokens ?? 0;
  s.cached += r.cachedInputTokens ?? 0;
  s.cacheWrite += r.cacheWriteTokens ?? 0;
  s.reasoning += r.reasoningTokens ?? 0;
  s.total += r.totalTokens ?? 0;
  if (r.costPicoUsd === null) s.unpriced++;
  else s.costPico += r.costPicoUsd;
}

/** A bucket's sums in the rollup tables' column order. */
export function rollupSums(s: RollupSums): number[] {
  return [s.requests, s.errors, s.input, s.output, s.cached, s.cacheWrite, s.reasoning, s.total, s.costPico, s.unpriced];
}

/** Sums as SQL returns them (64-bit integers, null over no rows). */
export interface RowSums {
  requests: bigint | null;
  errors: bigint | null;
  input_tokens: bigint | null;
  output_tokens: bigint | null;
  cached_input_tokens: bigint | null;
  cache_write_tokens: bigint | null;
  reasoning_tokens: bigint | null;
  total_tokens: bigint | null;
  cost_pico: bigint | null;
  unpriced: bigint | null;
}

export function emptyTotals(): Totals {
  return {
    requests: 0,
    errors: 0,
    inputTokens: 0,
    outputTokens: 0,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens: 0,
    totalTokens: 0,
    costUsd: 0,
    costPicoUsd: 0n,
    unpricedRequests: 0,
  };
}

const n = (v: bigint | null | undefined): number => (v === null || v === undefined ? 0 : Number(v));

/** Adds SQL sums into `t` (takes them away with `sign` -1), keeping the cost exact in picodollars. */
export function totalsOf(t: Totals, s: RowSums, sign: 1 | -1 = 1): Totals {
  t.requests += sign * n(s.requests);
  t.errors += sign * n(s.errors);
  t.inputTokens += sign * n(s.input_tokens);
  t.outputTokens += sign * n(s.output_tokens);
  t.cachedInputTokens += sign * n(s.cached_input_tokens);
  t.cacheWriteTokens += sign * n(s.cache_write_tokens);
  t.reasoningTokens += sign * n(s.reasoning_tokens);
  t.totalTokens += sign * n(s.total_tokens);
  t.costPicoUsd += BigInt(sign) * (s.cost_pico ?? 0n);
  t.costUsd = bigPicoToUsd(t.costPicoUsd);
  t.unpricedRequests += sign * n(s.unpriced);
  return t;
}

/** Adds `b` into `a`. */
export function addTotals(a: Totals, b: Totals): Totals {
  a.requests += b.requests;
  a.errors += b.errors;
  a.inputTokens += b.inputTokens;
  a.outputTokens += b.outputTokens;
  a.cachedInputTokens += b.cachedInputTokens;
  a.cacheWriteTokens += b.cacheWriteTokens;
  a.reasoningTokens += b.reasoningTokens;
  a.totalTokens += b.totalTokens;
  a.costPicoUsd += b.costPicoUsd;
  a.costUsd = bigPicoToUsd(a.costPicoUsd);
  a.unpricedRequests += b.unpricedRequests;
  return a;
}

/** USD from an exact picodollar sum (whole dollars and the fraction apart, so no precision is lost below $9e3). */
export function bigPicoToUsd(pico: bigint): number {
  const whole = pico / 1_000_000_000_000n;
  return Number(whole) + picoToUsd(Number(pico - whole * 1_000_000_000_000n));
}
