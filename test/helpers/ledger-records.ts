import type { Dimension, LedgerFilter } from '../../src/ledger/types.ts';
import type { UsageRecord } from '../../src/usage.ts';
import { COUNT_FIELDS, type RecordCounts } from '../../src/usage-fields.ts';

/** Records, random but replayable, and the sums a ledger must give for them: shared by the store suites. */

/** Every count of the table of record fields, unknown: the start of a record literal, so that a count added to the table needs no line here. */
export const UNKNOWN_COUNTS: Readonly<RecordCounts> = Object.freeze(Object.fromEntries(COUNT_FIELDS.map((f) => [f, null])) as RecordCounts);

/** A record of November 2026 with every common field set; `over` changes any. */
export function rec(over: Partial<UsageRecord> = {}): UsageRecord {
  return {
    ...UNKNOWN_COUNTS,
    timestamp: Date.UTC(2026, 10, 1, 10, 30),
    provider: 'openai',
    serviceType: 'llm',
    model: 'gpt-4o',
    requestModel: null,
    operation: 'chat',
    inputTokens: 1000,
    outputTokens: 500,
    cachedInputTokens: 200,
    totalTokens: 1500,
    costUsd: 0.00725,
    costPicoUsd: 7_250_000_000,
    inputCostUsd: 0.00225,
    outputCostUsd: 0.005,
    apiKeyId: 'wxyz-0f4a5b3d',
    userId: 'u1',
    threadId: 't1',
    agent: 'planner',
    durationMs: 840.5,
    error: false,
    errorMessage: null,
    errorType: null,
    metadata: null,
    ...over,
  };
}

/** A seeded pseudo-random generator, so a failure can be replayed. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export function randomRecords(n: number, seed: number, start: number, spanMs: number): UsageRecord[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const out: UsageRecord[] = [];
  for (let i = 0; i < n; i++) {
    const input = Math.floor(r() * 5000);
    const output = r() < 0.1 ? null : Math.floor(r() * 2000);
    const priced = r() > 0.05;
    const cost = priced ? Math.floor(r() * 1e10) : null;
    // Four in five priced records split their cost (the output side a share of it), the rest not (as rows from before the split).
    const outputPico = cost === null || i % 5 === 0 ? null : Math.floor((cost * ((i * 37) % 100)) / 100);
    out.push(
      rec({
        timestamp: start + Math.floor(r() * spanMs),
        provider: pick(['openai', 'anthropic', 'gemini']),
        serviceType: pick(['llm', 'llm', 'embedding'] as const),
        model: pick(['m-a', 'm-b', 'm-c', 'm-d']),
        operation: pick(['chat', 'extract', 'plan']),
        inputTokens: input,
        outputTokens: output,
        cachedInputTokens: Math.floor(input * r() * 0.5),
        totalTokens: input + (output ?? 0),
        costPicoUsd: cost,
        costUsd: null,
        inputCostUsd: outputPico === null ? null : ((cost as number) - outputPico) / 1e12,
        outputCostUsd: outputPico === null ? null : outputPico / 1e12,
        apiKeyId: pick([null, 'k1-aaaa', 'k2-bbbb']),
        userId: pick([null, 'u1', 'u2', 'u3']),
        threadId: pick([null, 't1', 't2', 't3', 't4']),
        agent: pick([null, 'planner', 'writer']),
        error: r() < 0.05,
        errorType: null,
      }),
    );
  }
  return out;
}

/** The same sums, computed from the records in plain JavaScript. */
export function expected(records: UsageRecord[], f: LedgerFilter, by: Dimension[]) {
  const groups = new Map<
    string,
    {
      requests: number;
      inputTokens: number;
      outputTokens: number;
      costPicoUsd: bigint;
      unpricedRequests: number;
      errors: number;
      inputCostPicoUsd: bigint;
      outputCostPicoUsd: bigint;
      outputUnknown: number;
    }
  >();
  for (const r of records) {
    if (f.since !== undefined && r.timestamp < f.since) continue;
    if (f.until !== undefined && r.timestamp >= f.until) continue;
    if (f.provider !== undefined && r.provider !== f.provider) continue;
    if (f.userId !== undefined && r.userId !== f.userId) continue;
    if (f.threadId !== undefined && r.threadId !== f.threadId) continue;
    if (f.model !== undefined && r.model !== f.model) continue;
    const k = JSON.stringify(
      by.map((d) =>
        d === 'day'
          ? new Date(r.timestamp).toISOString().slice(0, 10)
          : d === 'hour'
            ? new Date(r.timestamp).toISOString().slice(0, 13)
            : r[d],
      ),
    );
    const g = groups.get(k) ?? {
      requests: 0,
      inputTokens: 0,
      outputTokens: 0,
      costPicoUsd: 0n,
      unpricedRequests: 0,
      errors: 0,
      inputCostPicoUsd: 0n,
      outputCostPicoUsd: 0n,
      outputUnknown: 0,
    };
    g.requests++;
    g.inputTokens += r.inputTokens ?? 0;
    g.outputTokens += r.outputTokens ?? 0;
    if (r.outputTokens === null) g.outputUnknown++;
    if (r.costPicoUsd === null) g.unpricedRequests++;
    else g.costPicoUsd += BigInt(r.costPicoUsd);
    if (r.costPicoUsd !== null && r.outputCostUsd !== null) {
      // The ledger keeps the output side to the nanodollar, never above the cost.
      const out = Math.min(Math.round(r.outputCostUsd * 1e9), Math.floor(r.costPicoUsd / 1000)) * 1000;
      g.outputCostPicoUsd += BigInt(out);
      g.inputCostPicoUsd += BigInt(r.costPicoUsd - out);
    }
    if (r.error) g.errors++;
    groups.set(k, g);
  }
  return groups;
}

/**
 * A record with every count of the table of record fields set, each to its own value (2^20 for
 * the first, halving down the table: a part, which comes after its whole, is less than it, and
 * two parts together too), so that a count dropped or swapped on the way cannot pass.
 */
export function everyCount(over: Partial<UsageRecord> = {}): UsageRecord {
  const counts = Object.fromEntries(COUNT_FIELDS.map((f, i) => [f, 2 ** (20 - i)]));
  return rec({ requestModel: 'gpt-4o-latest', errorType: 'rate_limit', errorMessage: 'boom', error: true, ...counts, ...over });
}
