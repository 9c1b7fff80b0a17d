import { formatPico } from '../pricing/money.ts';
import { DAY_MS, HOUR_MS } from '../time.ts';
import type { UsageRecord } from '../usage.ts';
import type { AggregateRow, Dimension, Totals, UnknownCounts } from './types.ts';

export { DAY_MS, HOUR_MS };

/** One rollup bucket's sums, accumulated over a batch before it is added to the table once. */
export interface RollupSums {
  key: number[];
  /** The next bucket whose key hashes alike (RollupBuckets' chain). */
  next: RollupSums | undefined;
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
  /** The cost of the records whose split is unknown, and the output side of the others' (the input side is the cost less both). */
  unsplitCost: number;
  outputCost: number;
  /** Per count (in the rollup tables' order: input, output, cached, cache write, reasoning, total), the records that did not report it. */
  inputUnknown: number;
  outputUnknown: number;
  cachedUnknown: number;
  cacheWriteUnknown: number;
  reasoningUnknown: number;
  totalUnknown: number;
}

/** One record's counts as the rollups sum them: null or NaN when unknown; a null or NaN cost is unpriced. */
export interface RowCounts {
  /** 1 for a failed call, else 0. */
  error: number;
  input: number | null;
  output: number | null;
  cached: number | null;
  cacheWrite: number | null;
  reasoning: number | null;
  total: number | null;
  cost: number | null;
  /** The cost's output side (the input side is the cost less it); null or NaN when the split is unknown. */
  outputCost: number | null;
}

/** 1 when a count is unknown (null, or NaN in an encoded batch), else 0. */
const unknown = (x: number | null): number => (x === null || Number.isNaN(x) ? 1 : 0);

/**
 * A batch's rollup buckets, keyed by the rollup's key columns (dictionary ids and a time bucket).
 * Keyed by a hash of the integers, colliding keys chained and compared whole: a string key built
 * per record cost 3.6 µs a record for the three rollups, this 0.3 µs (200k records in batches of
 * 10,000, one process), which is most of what the writer thread spends outside SQLite.
 */
export class RollupBuckets {
  readonly #map = new Map<number, RollupSums>();
  #size = 0;

  /**
   * Adds one record's counts to the bucket of `key` (the caller's array is kept when the bucket is
   * new; `row` is read, not kept, so one object can carry every record of a batch in turn).
   */
  add(key: number[], row: RowCounts): void {
    let h = 0;
    for (let i = 0; i < key.length; i++) h = (Math.imul(h, 0x9e3779b1) + (key[i] as number)) | 0;
    const head = this.#map.get(h);
    let s = head;
    while (s !== undefined && !sameKey(s.key, key)) s = s.next;
    if (s === undefined) {
      s = {
        key,
        next: head,
        requests: 0,
        errors: 0,
        input: 0,
        output: 0,
        cached: 0,
        cacheWrite: 0,
        reasoning: 0,
        total: 0,
        costPico: 0,
        unpriced: 0,
        unsplitCost: 0,
        outputCost: 0,
        inputUnknown: 0,
        outputUnknown: 0,
        cachedUnknown: 0,
        cacheWriteUnknown: 0,
        reasoningUnknown: 0,
        totalUnknown: 0,
      };
      this.#map.set(h, s);
      this.#size++;
    }
    // `x || 0`: null and NaN (unknown) add nothing.
    s.requests++;
    s.errors += row.error;
    s.input += row.input || 0;
    s.output += row.output || 0;
    s.cached += row.cached || 0;
    s.cacheWrite += row.cacheWrite || 0;
    s.reasoning += row.reasoning || 0;
    s.total += row.total || 0;
    s.inputUnknown += unknown(row.input);
    s.outputUnknown += unknown(row.output);
    s.cachedUnknown += unknown(row.cached);
    s.cacheWriteUnknown += unknown(row.cacheWrite);
    s.reasoningUnknown += unknown(row.reasoning);
    s.totalUnknown += unknown(row.total);
    if (row.cost === null || Number.isNaN(row.cost)) s.unpriced++;
    else {
      s.costPico += row.cost;
      const out = row.outputCost;
      if (out === null || Number.isNaN(out)) s.unsplitCost += row.cost;
      else s.outputCost += out;
    }
  }

  /** How many buckets it holds. */
  get size(): number {
    return this.#size;
  }

  /** Every bucket, once. */
  *[Symbol.iterator](): IterableIterator<RollupSums> {
    for (const head of this.#map.values()) {
      for (let s: RollupSums | undefined = head; s !== undefined; s = s.next) yield s;
    }
  }
}

function sameKey(a: number[], b: number[]): boolean {
  for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A bucket's sums in the rollup tables' column order (PostgreSQL's, and SQLite's but rollup_user_hour: schema.ts's ROLLUP_LAYOUT). */
export function rollupSums(s: RollupSums): number[] {
  return [
    s.requests,
    s.errors,
    s.input,
    s.output,
    s.cached,
    s.cacheWrite,
    s.reasoning,
    s.total,
    s.costPico,
    s.unpriced,
    s.unsplitCost,
    s.outputCost,
    s.inputUnknown,
    s.outputUnknown,
    s.cachedUnknown,
    s.cacheWriteUnknown,
    s.reasoningUnknown,
    s.totalUnknown,
  ];
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
  unsplit_cost_pico: bigint | null;
  /** The output side: in picodollars from PostgreSQL, in nanodollars from SQLite (schema 9); the one absent is undefined. */
  output_cost_pico?: bigint | null;
  output_cost_nano?: bigint | null;
  input_tokens_unknown: bigint | null;
  output_tokens_unknown: bigint | null;
  cached_input_tokens_unknown: bigint | null;
  cache_write_tokens_unknown: bigint | null;
  reasoning_tokens_unknown: bigint | null;
  total_tokens_unknown: bigint | null;
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
    inputCostUsd: 0,
    inputCostPicoUsd: 0n,
    outputCostUsd: 0,
    outputCostPicoUsd: 0n,
    unknownCounts: emptyUnknown(),
  };
}

/** No count unknown. */
export function emptyUnknown(): UnknownCounts {
  return { inputTokens: 0, outputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, totalTokens: 0 };
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
  const out = (s.output_cost_pico ?? 0n) + (s.output_cost_nano ?? 0n) * 1000n;
  t.inputCostPicoUsd += BigInt(sign) * ((s.cost_pico ?? 0n) - (s.unsplit_cost_pico ?? 0n) - out);
  t.inputCostUsd = bigPicoToUsd(t.inputCostPicoUsd);
  t.outputCostPicoUsd += BigInt(sign) * out;
  t.outputCostUsd = bigPicoToUsd(t.outputCostPicoUsd);
  const u = t.unknownCounts;
  u.inputTokens += sign * n(s.input_tokens_unknown);
  u.outputTokens += sign * n(s.output_tokens_unknown);
  u.cachedInputTokens += sign * n(s.cached_input_tokens_unknown);
  u.cacheWriteTokens += sign * n(s.cache_write_tokens_unknown);
  u.reasoningTokens += sign * n(s.reasoning_tokens_unknown);
  u.totalTokens += sign * n(s.total_tokens_unknown);
  return t;
}

/** Adds one group's SQL sums (taken away with `sign` -1) into the row of its key in `into`, made on first use. */
export function addToGroup(
  into: Map<string, AggregateRow>,
  by: readonly Dimension[],
  key: AggregateRow['key'],
  sums: RowSums,
  sign: 1 | -1,
): void {
  const k = JSON.stringify(by.map((d) => key[d] ?? null));
  let row = into.get(k);
  if (row === undefined) {
    row = { key, ...emptyTotals() };
    into.set(k, row);
  }
  totalsOf(row, sums, sign);
}

/**
 * A record's cost's output side as both ledgers keep it: whole nanodollars (3 or 4 bytes in a
 * SQLite row where picodollars took 6), never more than the cost, so that the input side (the cost
 * less it, in picodollars) is never below 0; null when the cost or its split is unknown. The cost
 * itself stays exact to the picodollar; its split is exact to the nanodollar.
 */
export function outputCostNano(costPico: number | null, outputUsd: number | null | undefined): number | null {
  if (costPico === null || Number.isNaN(costPico) || outputUsd === null || outputUsd === undefined || Number.isNaN(outputUsd)) return null;
  const nano = Math.round(outputUsd * 1e9);
  return nano * 1000 > costPico ? Math.floor(costPico / 1000) : nano;
}

/** outputCostNano of an output side kept in picodollars (schema 7 and 8 of the SQLite ledger), in integers as migration 9 rounds it. */
export function nanoOfPico(costPico: number | null, outputPico: number | null): number | null {
  if (costPico === null || outputPico === null) return null;
  const nano = Math.floor((outputPico + 500) / 1000);
  return nano * 1000 > costPico ? Math.floor(costPico / 1000) : nano;
}

/** One record's totals (its unknown counts add nothing, and are counted as unknown). */
export function recordTotals(r: UsageRecord): Totals {
  const pico = r.costPicoUsd;
  // The split as the ledger keeps it: the output side to the nanodollar, and the cost less it.
  const nano = outputCostNano(pico, r.outputCostUsd);
  const out = nano === null ? null : nano * 1000;
  return {
    requests: 1,
    errors: r.error ? 1 : 0,
    inputTokens: r.inputTokens ?? 0,
    outputTokens: r.outputTokens ?? 0,
    cachedInputTokens: r.cachedInputTokens ?? 0,
    cacheWriteTokens: r.cacheWriteTokens ?? 0,
    reasoningTokens: r.reasoningTokens ?? 0,
    totalTokens: r.totalTokens ?? 0,
    costUsd: 0,
    costPicoUsd: BigInt(pico ?? 0),
    unpricedRequests: pico === null ? 1 : 0,
    inputCostUsd: 0,
    inputCostPicoUsd: out === null ? 0n : BigInt((pico as number) - out),
    outputCostUsd: 0,
    outputCostPicoUsd: out === null ? 0n : BigInt(out),
    unknownCounts: {
      inputTokens: r.inputTokens === null ? 1 : 0,
      outputTokens: r.outputTokens === null ? 1 : 0,
      cachedInputTokens: r.cachedInputTokens === null ? 1 : 0,
      cacheWriteTokens: r.cacheWriteTokens === null ? 1 : 0,
      reasoningTokens: r.reasoningTokens === null ? 1 : 0,
      totalTokens: r.totalTokens === null ? 1 : 0,
    },
  };
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
  a.inputCostPicoUsd += b.inputCostPicoUsd;
  a.inputCostUsd = bigPicoToUsd(a.inputCostPicoUsd);
  a.outputCostPicoUsd += b.outputCostPicoUsd;
  a.outputCostUsd = bigPicoToUsd(a.outputCostPicoUsd);
  for (const k of UNKNOWN_KEYS) a.unknownCounts[k] += b.unknownCounts[k];
  return a;
}

/** The counts whose unknown records the totals count. */
export const UNKNOWN_KEYS: readonly (keyof UnknownCounts)[] = [
  'inputTokens',
  'outputTokens',
  'cachedInputTokens',
  'cacheWriteTokens',
  'reasoningTokens',
  'totalTokens',
];

/** USD from an exact picodollar sum: the double nearest the exact decimal (no float noise in JSON). */
export function bigPicoToUsd(pico: bigint): number {
  // Below 2^53 picodollars ($9,007) the integer is exact as a double, and one division rounds to
  // the nearest: no string needed (totals add up thousands of rows a report).
  if (pico <= MAX_EXACT && pico >= -MAX_EXACT) return Number(pico) / 1e12;
  return Number(formatPico(pico));
}
const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);

/** Filter and group-by fields, and their column (the same names in `records` and the rollups, in both stores). */
export const COLUMN: Record<Exclude<Dimension, 'day' | 'hour'>, string> = {
  provider: 'provider',
  model: 'model',
  serviceType: 'service_type',
  operation: 'operation',
  agent: 'agent',
  userId: 'user_id',
  threadId: 'thread_id',
  apiKeyId: 'api_key_id',
};

/** A rollup table: its time column and bucket size, and the dimensions it keys on. */
export interface Rollup {
  table: string;
  time: string;
  unitMs: number;
  dims: ReadonlySet<string>;
}
export const ROLLUP_HOUR: Rollup = {
  table: 'rollup_hour',
  time: 'hour',
  unitMs: HOUR_MS,
  dims: new Set(['provider', 'serviceType', 'model', 'operation', 'agent', 'apiKeyId', 'day', 'hour']),
};
export const ROLLUP_USER_DAY: Rollup = {
  table: 'rollup_user_day',
  time: 'day',
  unitMs: DAY_MS,
  dims: new Set(['userId', 'provider', 'serviceType', 'model', 'agent', 'day']),
};
/** The same sums as rollup_user_day by hour, keyed hour first: the ragged ends of a user's range. */
export const ROLLUP_USER_HOUR: Rollup = { ...ROLLUP_USER_DAY, table: 'rollup_user_hour', time: 'hour', unitMs: HOUR_MS };
