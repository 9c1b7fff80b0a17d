/**
 * The time `monitor.instrument()` adds to an OpenAI call: the same client with and without the
 * wrapper, both against an in-process fetch that answers at once, so the network is out of the
 * figure. Results are the added time per call (instrumented minus bare), beside the bare call.
 */
import OpenAI from 'openai';
import { TokenMonitor } from '../src/index.ts';
import { measureAsyncNs, type Result, round } from './harness.ts';

const completion = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1730000000,
  model: 'gpt-4o-mini-2024-07-18',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello!' }, finish_reason: 'stop', logprobs: null }],
  usage: {
    prompt_tokens: 12,
    completion_tokens: 3,
    total_tokens: 15,
    prompt_tokens_details: { cached_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0 },
  },
});

function chunk(delta: object, finish: string | null, usage?: object): string {
  const c: Record<string, unknown> = {
    id: 'chatcmpl-bench',
    object: 'chat.completion.chunk',
    created: 1730000000,
    model: 'gpt-4o-mini-2024-07-18',
    choices: [{ index: 0, delta, finish_reason: finish }],
  };
  if (usage !== undefined) {
    c.choices = [];
    c.usage = usage;
  }
  return `data: ${JSON.stringify(c)}\n\n`;
}
const sse = [
  chunk({ role: 'assistant', content: '' }, null),
  ...['Hel', 'lo', ' there', '!'].map((t) => chunk({ content: t }, null)),
  chunk({}, 'stop'),
  chunk({}, null, { prompt_tokens: 12, completion_tokens: 4, total_tokens: 16 }),
  'data: [DONE]\n\n',
].join('');

const fetchJson: typeof fetch = async () => new Response(completion, { headers: { 'content-type': 'application/json' } });
const fetchSse: typeof fetch = async () => new Response(sse, { headers: { 'content-type': 'text/event-stream' } });

function client(f: typeof fetch): OpenAI {
  return new OpenAI({ apiKey: 'sk-bench-not-a-real-key-0000', baseURL: 'http://bench.invalid/v1', fetch: f, maxRetries: 0 });
}

export async function benchWrap(): Promise<Result[]> {
  const monitor = new TokenMonitor({ loadConfig: false, metrics: { prometheus: false } });
  const bare = client(fetchJson);
  const wrapped = monitor.instrument(client(fetchJson));
  const bareStream = client(fetchSse);
  const wrappedStream = monitor.instrument(client(fetchSse));
  const body = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Hi' }] };
  const drain = async (c: OpenAI) => {
    const s = await c.chat.completions.create({ ...body, stream: true });
    for await (const _ of s) {
      // read every chunk, as a caller would
    }
  };
  const times = await measureAsyncNs([
    {
      name: 'bare-chat',
      run: async (n) => {
        for (let i = 0; i < n; i++) await bare.chat.completions.create(body);
      },
    },
    {
      name: 'wrapped-chat',
      run: async (n) => {
        for (let i = 0; i < n; i++) await wrapped.chat.completions.create(body);
      },
    },
    {
      name: 'bare-chat-stream',
      run: async (n) => {
        for (let i = 0; i < n; i++) await drain(bareStream);
      },
    },
    {
      name: 'wrapped-chat-stream',
      run: async (n) => {
        for (let i = 0; i < n; i++) await drain(wrappedStream);
      },
    },
  ]);
  await monitor.close();
  const v = new Map(times.map((t) => [t.name, t.value]));
  const added = (wrappedName: string, bareName: string, name: string): Result => {
    const b = v.get(bareName) ?? 0;
    const w = v.get(wrappedName) ?? 0;
    return {
      name,
      value: round(w - b),
      unit: 'ns/call added',
      baseline: bareName,
      baselineValue: b,
      ratio: Math.round(((w - b) / b) * 10000) / 10000,
    };
  };
  return [
    added('wrapped-chat', 'bare-chat', 'wrap-openai-chat'),
    added('wrapped-chat-stream', 'bare-chat-stream', 'wrap-openai-chat-stream'),
    ...times,
  ];
}
