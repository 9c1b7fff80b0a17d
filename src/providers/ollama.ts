import { openaiShapedConverter } from './openai.ts';
import { count, obj, str } from './read.ts';
import type { ProviderConverter, Usage } from './types.ts';

/**
 * Ollama's native API (https://github.com/ollama/ollama/blob/main/docs/api.md): /api/chat and
 * /api/generate report `prompt_eval_count` (input) and `eval_count` (output) on the final object
 * (`done: true`) of a response or NDJSON stream. `prompt_eval_count` is left out when the prompt
 * was fully cached: input is then unknown, not 0. /api/embed reports `prompt_eval_count`. Bodies
 * from Ollama's OpenAI-compatible /v1 endpoints are read as OpenAI's.
 */
const compatible = openaiShapedConverter('ollama');

function isOpenAIShape(body: Record<string, unknown> | undefined): boolean {
  return body !== undefined && (body.object !== undefined || body.choices !== undefined);
}

function native(body: Record<string, unknown> | undefined, request: unknown, unread: string[]): Usage {
  const req = obj(request);
  const embedding =
    body?.embeddings !== undefined ||
    body?.embedding !== undefined ||
    (req?.input !== undefined && req.messages === undefined && req.prompt === undefined);
  const u: Usage = embedding
    ? { provider: 'ollama', serviceType: 'embedding', operation: 'embeddings', usageSource: 'missing' }
    : { provider: 'ollama', serviceType: 'llm', operation: req?.prompt !== undefined ? 'text_completion' : 'chat', usageSource: 'missing' };
  const model = str(body?.model) ?? str(req?.model);
  if (model !== undefined) u.model = model;
  if (str(req?.model) !== undefined) u.requestModel = str(req?.model);
  const input = count(body, ['prompt_eval_count'], unread);
  const output = count(body, ['eval_count'], unread);
  if (input !== undefined) u.inputTokens = input;
  if (output !== undefined) u.outputTokens = output;
  if (input !== undefined || output !== undefined) {
    u.usageSource = 'reported';
    if (input !== undefined && (output !== undefined || embedding)) u.totalTokens = input + (output ?? 0);
  }
  if (unread.length > 0) u.unread = unread;
  return u;
}

export const ollamaConverter: ProviderConverter = {
  fromResponse(response, request) {
    const body = obj(response);
    return isOpenAIShape(body) ? compatible.fromResponse(response, request) : native(body, request, []);
  },
  fromStream(events, request) {
    const objects = events.map(obj).filter((e): e is Record<string, unknown> => e !== undefined);
    if (objects.some(isOpenAIShape)) return compatible.fromStream(events, request);
    const last = objects.findLast((e) => e.done === true);
    // Only the final object (done: true) carries counts; without it the usage is missing.
    const u = native(last ?? objects.at(-1), request, []);
    if (last === undefined) u.partial = true;
    return u;
  },
};
