import type { UsageInput, UsageRecord } from '../../src/usage.ts';
import { UNKNOWN_COUNTS } from './ledger-records.ts';

/**
 * A month of traffic as a team of agents makes it: two providers, three models, three agents,
 * 200 users, threads of eight calls, one call every 2.6 s on average (1M records in 30 days).
 * Deterministic, so sizes and timings compare across runs.
 */
export function* workload(n: number, start: number, stepMs = 2_592): Generator<UsageRecord> {
  for (let i = 0; i < n; i++) {
    const input = 500 + ((i * 7919) % 3000);
    const output = 200 + (i % 700);
    const cached = i % 4 === 0 ? 256 : 0;
    const model = (['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4'] as const)[i % 3] as string;
    yield {
      ...UNKNOWN_COUNTS,
      timestamp: Math.floor(start + i * stepMs) + (i % 997),
      provider: model.startsWith('claude') ? 'anthropic' : 'openai',
      serviceType: 'llm',
      model,
      requestModel: null,
      operation: (['chat', 'extract_nodes', 'plan'] as const)[(i >> 2) % 3] as string,
      inputTokens: input,
      outputTokens: output,
      cachedInputTokens: cached,
      totalTokens: input + output,
      costUsd: null,
      costPicoUsd: (input - cached) * 2_500_000 + cached * 1_250_000 + output * 10_000_000,
      inputCostUsd: ((input - cached) * 2_500_000 + cached * 1_250_000) / 1e12,
      outputCostUsd: (output * 10_000_000) / 1e12,
      apiKeyId: i % 5 === 0 ? 'k2-bbbb-1a2b3c4d' : 'k1-aaaa-0f4a5b3d',
      userId: `user-${i % 200}`,
      threadId: `thread-${Math.floor(i / 8)}`,
      agent: (['planner', 'writer', 'critic'] as const)[(i >> 1) % 3] as string,
      durationMs: 300 + ((i * 13) % 2000) + 0.125,
      error: i % 50 === 0,
      errorMessage: i % 50 === 0 ? '429 Too Many Requests' : null,
      errorType: i % 50 === 0 ? 'rate_limit' : null,
      metadata: null,
    };
  }
}

/** A workload record as a caller hands it to record(): its counts and labels, no cost. */
export function asInput(r: UsageRecord): UsageInput {
  return {
    provider: r.provider,
    model: r.model,
    operation: r.operation,
    inputTokens: r.inputTokens,
    outputTokens: r.outputTokens,
    cachedInputTokens: r.cachedInputTokens,
    apiKeyId: r.apiKeyId ?? undefined,
    userId: r.userId ?? undefined,
    threadId: r.threadId ?? undefined,
    agent: r.agent ?? undefined,
    durationMs: r.durationMs,
    timestamp: r.timestamp,
  };
}
