/** The answers of the wrap benchmarks' in-process fetch: one chat completion, and one chat stream (SSE) ending with its usage. */

export const completion = JSON.stringify({
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

export const sse = [
  chunk({ role: 'assistant', content: '' }, null),
  ...['Hel', 'lo', ' there', '!'].map((t) => chunk({ content: t }, null)),
  chunk({}, 'stop'),
  chunk({}, null, { prompt_tokens: 12, completion_tokens: 4, total_tokens: 16 }),
  'data: [DONE]\n\n',
].join('');
