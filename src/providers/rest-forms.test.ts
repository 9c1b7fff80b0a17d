import { afterEach, describe, expect, it } from 'vitest';
import { fixture, fixtureJson } from '../../test/helpers/replay-server.ts';
import { inspectFile } from '../cli/inspect.ts';
import { TokenMonitor } from '../monitor.ts';
import { extractUsage } from './index.ts';
import type { ExtractInput, Usage } from './types.ts';

// Users save raw REST responses as well as what the SDKs hand back, whose field names differ where
// an SDK renames them. Each provider's REST form must give the counts of its SDK form, and a
// count a payload lacks is unknown, never 0. Fixtures: test/fixtures/SOURCES.md and *.sources.md.

/** Keys renamed as the Fern-generated SDKs (cohere-ai, voyageai) and @mistralai/mistralai do: snake_case to camelCase, at every depth. */
function camelKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(camelKeys);
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => [k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()), camelKeys(x)]),
  );
}

/** Keys renamed as Google's Python SDK (google-genai) dumps a response (`to_json_dict()`): camelCase to snake_case. */
function snakeKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(snakeKeys);
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), snakeKeys(x)]));
}

/** The counts of a usage, for comparing two forms of one call. */
function counts(u: Usage) {
  const { provider: _p, unread: _u, ...rest } = u;
  return rest;
}

type Pair = { name: string; rest: ExtractInput; sdk: ExtractInput; inputTokens: number };

const vertexPredict = fixtureJson<{
  predictions: { embeddings: { values: number[]; statistics: { truncated: boolean; token_count: number } } }[];
}>('vertex-embed-predict.json');
const embedRequest = { model: 'text-embedding-005', contents: ['What is the capital of France?', 'Paris is the capital of France.'] };

const pairs: Pair[] = [
  {
    name: 'Gemini generateContent: REST camelCase, Python SDK snake_case',
    rest: { provider: 'gemini', response: fixtureJson('gemini-thinking.json') },
    sdk: { provider: 'gemini', response: snakeKeys(fixtureJson('gemini-thinking.json')) },
    inputTokens: fixtureJson<{ usageMetadata: { promptTokenCount: number } }>('gemini-thinking.json').usageMetadata.promptTokenCount,
  },
  {
    name: 'Gemini cached audio: REST camelCase, Python SDK snake_case',
    rest: { provider: 'gemini', response: fixtureJson('gemini-audio-cached.json') },
    sdk: { provider: 'gemini', response: snakeKeys(fixtureJson('gemini-audio-cached.json')) },
    inputTokens: fixtureJson<{ usageMetadata: { promptTokenCount: number } }>('gemini-audio-cached.json').usageMetadata.promptTokenCount,
  },
  {
    name: 'Vertex AI embeddings: REST predict (predictions[].embeddings.statistics.token_count), @google/genai (embeddings[].statistics.tokenCount)',
    rest: { provider: 'vertex_ai', request: embedRequest, response: vertexPredict },
    sdk: {
      provider: 'vertex_ai',
      request: embedRequest,
      response: {
        embeddings: vertexPredict.predictions.map((p) => ({
          values: p.embeddings.values,
          statistics: { truncated: p.embeddings.statistics.truncated, tokenCount: p.embeddings.statistics.token_count },
        })),
      },
    },
    inputTokens: vertexPredict.predictions.reduce((n, p) => n + p.embeddings.statistics.token_count, 0),
  },
  {
    name: 'Gemini streamGenerateContent: a JSON array without alt=sse, SSE with it',
    rest: { provider: 'gemini', response: fixtureJson('gemini-stream-array.json') },
    sdk: { provider: 'gemini', stream: fixture('gemini-stream.sse') },
    inputTokens: 8,
  },
  {
    name: 'Mistral chat: REST snake_case, @mistralai/mistralai camelCase',
    rest: { provider: 'mistral', response: fixtureJson('mistral-chat-cached.json') },
    sdk: { provider: 'mistral', response: fixtureJson('mistral-sdk-chat-cached.json') },
    inputTokens: fixtureJson<{ usage: { prompt_tokens: number } }>('mistral-chat-cached.json').usage.prompt_tokens,
  },
  {
    name: 'Mistral stream: REST SSE, the SDK’s { data: chunk } events',
    rest: { provider: 'mistral', stream: fixture('mistral-stream.sse') },
    sdk: { provider: 'mistral', response: fixtureJson('mistral-sdk-stream.json') },
    inputTokens: 19,
  },
  ...(['cohere-chat-v2.json', 'cohere-chat-v1.json', 'cohere-embed.json'] as const).map((file) => ({
    name: `Cohere ${file}: REST billed_units, cohere-ai billedUnits`,
    rest: { provider: 'cohere', response: fixtureJson(file) },
    sdk: { provider: 'cohere', response: camelKeys(fixtureJson(file)) },
    inputTokens: Number(JSON.stringify(fixtureJson(file)).match(/"billed_units":\{"input_tokens":(\d+)/)?.[1]),
  })),
  {
    name: 'Voyage embeddings: REST total_tokens, voyageai totalTokens',
    rest: { provider: 'voyage', response: fixtureJson('voyage-embed.json') },
    sdk: { provider: 'voyage', response: camelKeys(fixtureJson('voyage-embed.json')) },
    inputTokens: fixtureJson<{ usage: { total_tokens: number } }>('voyage-embed.json').usage.total_tokens,
  },
];

describe('REST forms read as the SDK forms', () => {
  it.each(pairs)('$name', ({ rest, sdk, inputTokens }) => {
    const a = extractUsage(rest);
    const b = extractUsage(sdk);
    expect(a.usageSource).toBe('reported');
    expect(a.inputTokens).toBe(inputTokens);
    expect(counts(a)).toEqual(counts(b));
  });

  it('Cohere rerank: REST search_units, cohere-ai searchUnits', () => {
    const request = { model: 'rerank-v3.5', query: 'q', documents: ['a', 'b'] };
    const a = extractUsage({ provider: 'cohere', request, response: fixtureJson('cohere-rerank.json') });
    expect(a.searchUnits).toBe(1);
    expect(counts(a)).toEqual(
      counts(extractUsage({ provider: 'cohere', request, response: camelKeys(fixtureJson('cohere-rerank.json')) })),
    );
  });

  it('Bedrock InvokeModel: an OpenAI-shaped body (AI21 Jamba) as Converse counts it', () => {
    const request = { modelId: 'ai21.jamba-1-5-mini-v1:0' };
    const u = extractUsage({ provider: 'aws_bedrock', request, response: fixtureJson('aws-bedrock-invoke-jamba.json') });
    expect(u).toMatchObject({
      provider: 'aws_bedrock',
      model: 'ai21.jamba-1-5-mini-v1:0',
      inputTokens: 42,
      outputTokens: 11,
      totalTokens: 53,
    });
    const converse = extractUsage({
      provider: 'aws_bedrock',
      request,
      response: {
        output: { message: { role: 'assistant', content: [{ text: 'x' }] } },
        usage: { inputTokens: 42, outputTokens: 11, totalTokens: 53 },
      },
    });
    expect(converse).toMatchObject({ inputTokens: 42, outputTokens: 11, totalTokens: 53 });
  });

  it('tokenmeter inspect reads a saved non-SSE Gemini stream (a JSON array) as its SSE form', () => {
    const dir = new URL('../../test/fixtures/', import.meta.url).pathname;
    const array = inspectFile({ file: `${dir}gemini-stream-array.json`, provider: 'gemini', dir: '/nonexistent-tokenmeter-dir' });
    const sse = inspectFile({ file: `${dir}gemini-stream.sse`, provider: 'gemini', dir: '/nonexistent-tokenmeter-dir' });
    expect(array.usage).toMatchObject({ inputTokens: 8, outputTokens: 23, totalTokens: 31, usageSource: 'reported' });
    expect(array.costUsd).toBe(sse.costUsd);
  });
});

describe('a count the payload lacks is unknown, never 0', () => {
  const monitors: TokenMonitor[] = [];
  afterEach(async () => {
    await Promise.all(monitors.splice(0).map((m) => m.close()));
  });
  /** What the ledger would hold for the call. */
  function recorded(input: ExtractInput) {
    const m = new TokenMonitor({ loadConfig: false, ledger: false, metrics: false });
    monitors.push(m);
    return m.recordUsage(extractUsage(input), { model: 'some-model' })?.record;
  }
  /** A copy of `v` without the keys named (at any depth). */
  function without(v: unknown, ...keys: string[]): unknown {
    return JSON.parse(JSON.stringify(v), (k, x) => (keys.includes(k) ? undefined : x));
  }

  const cases: [string, ExtractInput, 'inputTokens' | 'outputTokens'][] = [
    [
      'Gemini, no candidatesTokenCount or thoughts',
      {
        provider: 'gemini',
        response: without(fixtureJson('gemini-thinking.json'), 'candidatesTokenCount', 'thoughtsTokenCount', 'totalTokenCount'),
      },
      'outputTokens',
    ],
    [
      'Gemini Python form, no candidates_token_count or thoughts',
      {
        provider: 'gemini',
        response: without(
          snakeKeys(fixtureJson('gemini-thinking.json')),
          'candidates_token_count',
          'thoughts_token_count',
          'total_token_count',
        ),
      },
      'outputTokens',
    ],
    [
      'Vertex predict, no token_count',
      { provider: 'vertex_ai', request: embedRequest, response: without(vertexPredict, 'token_count') },
      'inputTokens',
    ],
    [
      'Mistral REST, no completion_tokens',
      { provider: 'mistral', response: without(fixtureJson('mistral-chat-cached.json'), 'completion_tokens', 'total_tokens') },
      'outputTokens',
    ],
    [
      'Mistral SDK, no completionTokens',
      { provider: 'mistral', response: without(fixtureJson('mistral-sdk-chat-cached.json'), 'completionTokens', 'totalTokens') },
      'outputTokens',
    ],
    [
      'Cohere REST, no output_tokens',
      { provider: 'cohere', response: without(fixtureJson('cohere-chat-v2.json'), 'output_tokens') },
      'outputTokens',
    ],
    [
      'Cohere SDK, no outputTokens',
      { provider: 'cohere', response: without(camelKeys(fixtureJson('cohere-chat-v2.json')), 'outputTokens') },
      'outputTokens',
    ],
    [
      'Voyage SDK, no totalTokens',
      { provider: 'voyage', response: without(camelKeys(fixtureJson('voyage-embed.json')), 'totalTokens') },
      'inputTokens',
    ],
    [
      'Bedrock Jamba, no completion_tokens',
      {
        provider: 'aws_bedrock',
        request: { modelId: 'ai21.jamba-1-5-mini-v1:0' },
        response: without(fixtureJson('aws-bedrock-invoke-jamba.json'), 'completion_tokens', 'total_tokens'),
      },
      'outputTokens',
    ],
    [
      'Bedrock Titan text, no results tokenCount',
      {
        provider: 'aws_bedrock',
        request: { modelId: 'amazon.titan-text-express-v1' },
        response: without(fixtureJson('aws-bedrock-invoke-titan.json'), 'tokenCount'),
      },
      'outputTokens',
    ],
    ['Ollama, no eval_count', { provider: 'ollama', response: without(fixtureJson('ollama-chat.json'), 'eval_count') }, 'outputTokens'],
  ];
  it.each(cases)('%s', (_name, input, missing) => {
    const u = extractUsage(input);
    expect(u).not.toHaveProperty(missing);
    const r = recorded(input);
    expect(r?.[missing]).toBeNull();
    // Nor is a total made up from the count that is known: it is unknown too, unless reported.
    if (missing === 'outputTokens' && u.inputTokens !== undefined) expect(r?.totalTokens === u.inputTokens).toBe(false);
  });
});
