/**
 * A Chat Completions response of gpt-4o for 1,000 prompt and 200 completion tokens (nothing
 * cached), in the shape OpenAI sends it: the reply of the replay server in tests whose budget
 * arithmetic counts on that cost per call. `id` tells the tests' replies apart in a log.
 */
export function chatCompletion(id: string): Record<string, unknown> {
  return {
    id,
    object: 'chat.completion',
    created: 1_764_000_000,
    model: 'gpt-4o-2024-08-06',
    choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 1000, completion_tokens: 200, total_tokens: 1200 },
  };
}
