// The demo's traffic: a team's LLM calls as they come in a working day. Several providers and
// models, agents, users and threads, embeddings and reranks, a few errors, and streamed answers read
// from their raw SSE text by the same parsers instrumented clients use. A seeded generator: every
// run records the same calls at the same times of day.
import { extractUsage, type TokenMonitor, type UsageInput } from '../../src/index.ts';

/** A seeded pseudo-random generator (mulberry32): the same demo on every run. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Kind {
  weight: number;
  provider: string;
  model: string;
  serviceType?: 'llm' | 'embedding' | 'reranking';
  operation: string;
  agents: string[];
  input: [number, number];
  output?: [number, number];
  /** Share of the input read from the provider's cache, when it is. */
  cached?: number;
  reasoning?: [number, number];
  /** Streamed in the live phase: recorded from the raw SSE text. */
  stream?: 'openai' | 'anthropic';
}

const KINDS: Kind[] = [
  {
    weight: 10,
    provider: 'openai',
    model: 'gpt-4o',
    operation: 'plan',
    agents: ['planner'],
    input: [2000, 12000],
    output: [200, 1500],
    cached: 0.5,
  },
  {
    weight: 18,
    provider: 'openai',
    model: 'gpt-4o-mini',
    operation: 'answer',
    agents: ['support-bot'],
    input: [500, 4000],
    output: [100, 600],
    stream: 'openai',
  },
  {
    weight: 8,
    provider: 'anthropic',
    model: 'claude-sonnet-4-5',
    operation: 'draft',
    agents: ['writer', 'code-review'],
    input: [3000, 30000],
    output: [500, 4000],
    cached: 0.6,
    stream: 'anthropic',
  },
  {
    weight: 10,
    provider: 'anthropic',
    model: 'claude-haiku-4-5',
    operation: 'classify',
    agents: ['support-bot'],
    input: [1000, 6000],
    output: [50, 400],
  },
  {
    weight: 8,
    provider: 'gemini',
    model: 'gemini-2.5-flash',
    operation: 'research',
    agents: ['researcher'],
    input: [5000, 60000],
    output: [300, 3000],
    reasoning: [100, 1500],
  },
  {
    weight: 2,
    provider: 'gemini',
    model: 'gemini-2.5-pro',
    operation: 'plan',
    agents: ['planner'],
    input: [10000, 80000],
    output: [1000, 6000],
    reasoning: [500, 4000],
  },
  {
    weight: 12,
    provider: 'openai',
    model: 'text-embedding-3-small',
    serviceType: 'embedding',
    operation: 'index',
    agents: ['indexer'],
    input: [2000, 20000],
  },
  {
    weight: 10,
    provider: 'voyage',
    model: 'voyage-3.5',
    serviceType: 'embedding',
    operation: 'embed_query',
    agents: ['researcher', 'support-bot'],
    input: [20, 200],
  },
  {
    weight: 8,
    provider: 'cohere',
    model: 'rerank-v3.5',
    serviceType: 'reranking',
    operation: 'rerank',
    agents: ['researcher', 'support-bot'],
    input: [0, 0],
  },
  {
    weight: 5,
    provider: 'mistral',
    model: 'mistral-small-latest',
    operation: 'extract',
    agents: ['indexer'],
    input: [1000, 8000],
    output: [100, 800],
  },
  {
    weight: 5,
    provider: 'groq',
    model: 'llama-3.3-70b-versatile',
    operation: 'route',
    agents: ['planner'],
    input: [300, 2000],
    output: [20, 200],
  },
  {
    weight: 4,
    provider: 'ollama',
    model: 'llama3.1',
    operation: 'draft',
    agents: ['code-review'],
    input: [500, 4000],
    output: [100, 1200],
  },
];
const TOTAL_WEIGHT = KINDS.reduce((s, k) => s + k.weight, 0);

/** The people calling; dana's research starts with the live traffic (her budget is the one to watch). */
const USERS = ['alice', 'bob', 'carol', 'erin', 'frank', 'grace'];
const ERRORS = [
  ['rate_limit', '429 Too Many Requests: rate limit reached for requests'],
  ['timeout', 'request timed out after 60 s'],
  ['http_500', '500 Internal Server Error'],
] as const;

/** Calls per hour of the day (UTC) at speed 1: quiet at night, busiest in the afternoon. */
export function callsInHour(hour: number): number {
  return Math.round(10 + 110 * Math.max(0, Math.sin(((hour - 6) / 14) * Math.PI)));
}

/** One call of the background traffic, at `timestamp` (undefined: now). */
export function backgroundCall(rnd: () => number, timestamp?: number): UsageInput & { stream?: Kind['stream'] } {
  let pick = rnd() * TOTAL_WEIGHT;
  let kind = KINDS[0] as Kind;
  for (const k of KINDS) {
    kind = k;
    pick -= k.weight;
    if (pick < 0) break;
  }
  const within = ([lo, hi]: [number, number]) => Math.round(lo + (hi - lo) * rnd());
  const user = USERS[Math.floor(rnd() * USERS.length)] as string;
  const input = within(kind.input);
  const call: UsageInput & { stream?: Kind['stream'] } = {
    provider: kind.provider,
    model: kind.model,
    serviceType: kind.serviceType ?? 'llm',
    operation: kind.operation,
    agent: kind.agents[Math.floor(rnd() * kind.agents.length)] as string,
    userId: user,
    threadId: `${user}-t${Math.floor(rnd() * 5) + 1}`,
    durationMs: Math.round(150 + rnd() * (kind.serviceType === undefined ? 6000 : 600)),
  };
  if (timestamp !== undefined) call.timestamp = timestamp;
  if (kind.serviceType === 'reranking') call.searchUnits = 1;
  else call.inputTokens = input;
  if (kind.output !== undefined) call.outputTokens = within(kind.output);
  if (kind.cached !== undefined && rnd() < 0.6) call.cachedInputTokens = Math.round(input * kind.cached);
  if (kind.reasoning !== undefined) {
    call.reasoningTokens = within(kind.reasoning);
    call.outputTokens = (call.outputTokens ?? 0) + call.reasoningTokens;
  }
  if (rnd() < 0.03) {
    const [type, message] = ERRORS[Math.floor(rnd() * ERRORS.length)] as (typeof ERRORS)[number];
    call.errorType = type;
    call.errorMessage = message;
    call.outputTokens = 0;
    delete call.reasoningTokens;
    delete call.cachedInputTokens;
  }
  if (kind.stream !== undefined && call.errorType === undefined && rnd() < 0.5) call.stream = kind.stream;
  return call;
}

/** The raw SSE text a streamed call of this kind ends with, usage included. */
function sse(call: UsageInput, kind: 'openai' | 'anthropic'): string {
  const events: Record<string, unknown>[] =
    kind === 'openai'
      ? [
          { id: 'chatcmpl-demo', object: 'chat.completion.chunk', model: call.model, choices: [{ index: 0, delta: { content: 'Sure' } }] },
          {
            id: 'chatcmpl-demo',
            object: 'chat.completion.chunk',
            model: call.model,
            choices: [],
            usage: {
              prompt_tokens: call.inputTokens,
              completion_tokens: call.outputTokens,
              total_tokens: (call.inputTokens ?? 0) + (call.outputTokens ?? 0),
              prompt_tokens_details: { cached_tokens: call.cachedInputTokens ?? 0 },
            },
          },
        ]
      : [
          {
            type: 'message_start',
            message: {
              id: 'msg_demo',
              type: 'message',
              role: 'assistant',
              model: call.model,
              usage: {
                input_tokens: (call.inputTokens ?? 0) - (call.cachedInputTokens ?? 0),
                cache_read_input_tokens: call.cachedInputTokens ?? 0,
                cache_creation_input_tokens: 0,
                output_tokens: 1,
              },
            },
          },
          { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Here is the draft' } },
          { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: call.outputTokens } },
          { type: 'message_stop' },
        ];
  const lines = events.map((e) =>
    kind === 'anthropic' ? `event: ${String(e.type)}\ndata: ${JSON.stringify(e)}\n\n` : `data: ${JSON.stringify(e)}\n\n`,
  );
  return `${lines.join('')}${kind === 'openai' ? 'data: [DONE]\n\n' : ''}`;
}

/** Records a call now: a streamed one through its SSE text and the stream parsers, the rest as they are. */
export function recordLive(monitor: TokenMonitor, call: ReturnType<typeof backgroundCall>): void {
  const { stream, ...input } = call;
  if (stream === undefined) {
    monitor.record(input);
    return;
  }
  const usage = extractUsage({ provider: input.provider, stream: sse(input, stream) });
  const context: { userId?: string; threadId?: string; agent?: string } = {};
  if (input.userId !== undefined) context.userId = input.userId;
  if (input.threadId !== undefined) context.threadId = input.threadId;
  if (input.agent !== undefined) context.agent = input.agent;
  monitor.recordUsage(usage, {
    ...(input.durationMs == null ? {} : { durationMs: input.durationMs }),
    ...(input.operation === undefined ? {} : { operation: input.operation }),
    context,
    metadata: { stream: true },
  });
}

/**
 * Dana's research session, the live phase's story: shares of her daily budget, each at its second,
 * so that at speed 1 her budget warns (past 80%) at 15 s, turns critical (past 95%) at 30 s and is
 * exceeded at 45 s, then she carries on with small calls.
 */
export const DANA_PLAN: readonly [second: number, share: number][] = [
  [0, 0.156],
  [3, 0.156],
  [6, 0.156],
  [9, 0.156],
  [12, 0.156],
  [15, 0.03],
  [18, 0.03],
  [21, 0.03],
  [24, 0.03],
  [27, 0.03],
  [30, 0.03],
  [33, 0.0075],
  [36, 0.0075],
  [39, 0.0075],
  [42, 0.0075],
  [45, 0.02],
];

/** A call of dana's costing `usd` on claude-sonnet-4-5 (below its long-context tier), from the model's price. */
export function danaCall(monitor: TokenMonitor, usd: number, n: number): UsageInput {
  const price = monitor.price('anthropic', 'claude-sonnet-4-5');
  const inPico = price?.input?.base ?? 3_000_000;
  const outPico = price?.output?.base ?? 15_000_000;
  const outputTokens = 400;
  const inputTokens = Math.max(100, Math.round((usd * 1e12 - outputTokens * outPico) / inPico));
  return {
    provider: 'anthropic',
    model: 'claude-sonnet-4-5',
    operation: 'deep_research',
    agent: 'researcher',
    userId: 'dana',
    threadId: 'dana-t1',
    inputTokens,
    outputTokens,
    durationMs: 4000 + (n % 5) * 900,
  };
}
