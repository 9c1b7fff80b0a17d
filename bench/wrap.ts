/**
 * The time `monitor.instrument()` adds to an OpenAI call: the same client with and without the
 * wrapper, both against an in-process fetch that answers at once, so the network is out of the
 * figure. Results are the added time per call (instrumented minus bare), beside the bare call.
 */
import OpenAI from 'openai';
import { TokenMonitor } from '../src/index.ts';
import { type Result, round } from './harness.ts';

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
  const monitor = new TokenMonitor({ loadConfig: false, ledger: false, metrics: { prometheus: false } });
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
  const chatOnce = (c: OpenAI) => async (n: number) => {
    for (let i = 0; i < n; i++) await c.chat.completions.create(body);
  };
  const streamOnce = (c: OpenAI) => async (n: number) => {
    for (let i = 0; i < n; i++) await drain(c);
  };
  const results = [
    ...(await paired('wrap-openai-chat', 'bare-chat', chatOnce(bare), chatOnce(wrapped))),
    ...(await paired('wrap-openai-chat-stream', 'bare-chat-stream', streamOnce(bareStream), streamOnce(wrappedStream))),
  ];
  await monitor.close();
  return results;
}

/**
 * The time a wrapper adds, measured in pairs: each round times a batch of bare calls and a batch of
 * wrapped calls back to back (order alternating), and the figure is the median of the per-round
 * differences, so a busy moment on the machine falls on both sides of a pair.
 *
 * The warm-up is long on purpose: code run once per call (all of the wrapper's) reaches V8's top
 * tier (TurboFan) only after some 10,000 to 25,000 calls, while the SDK's own code, run many times
 * per call, gets there far sooner. With a warm-up of 500 calls the rounds measured the wrapper
 * mostly in its middle tier (Maglev), a state a long-running process soon leaves behind: this
 * measures the steady state, both sides warmed alike (interleaved).
 */
async function paired(
  name: string,
  baseline: string,
  bare: (n: number) => Promise<void>,
  wrapped: (n: number) => Promise<void>,
): Promise<Result[]> {
  const batch = 100;
  const rounds = 120;
  const warmupBatches = 300;
  for (let r = 0; r < warmupBatches; r++) {
    await bare(batch);
    await wrapped(batch);
  }
  const time = async (run: (n: number) => Promise<void>) => {
    const t0 = process.hrtime.bigint();
    await run(batch);
    return Number(process.hrtime.bigint() - t0) / batch;
  };
  const diffs: number[] = [];
  const bares: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let b: number;
    let w: number;
    if (r % 2 === 0) {
      b = await time(bare);
      w = await time(wrapped);
    } else {
      w = await time(wrapped);
      b = await time(bare);
    }
    diffs.push(w - b);
    bares.push(b);
  }
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1] as number;
  const added = med(diffs);
  const b = med(bares);
  return [
    { name, value: round(added), unit: 'ns/call added', baseline, baselineValue: round(b), ratio: Math.round((added / b) * 10000) / 10000 },
    { name: baseline, value: round(b), unit: 'ns/op' },
  ];
}
