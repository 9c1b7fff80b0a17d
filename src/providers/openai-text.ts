import { arr, obj, str } from './read.ts';

/** Appends `b` to `a`, either may be absent. */
function join(a: string | undefined, b: string | undefined): string | undefined {
  return a === undefined ? b : b === undefined ? a : a + b;
}

/** Text of a delta's `content`: a string, or (Mistral) text and thinking chunks. */
function contentText(content: unknown): string | undefined {
  if (typeof content === 'string') return content === '' ? undefined : content;
  let out: string | undefined;
  for (const chunk of arr(content) ?? []) {
    const c = obj(chunk);
    out = join(out, str(c?.text));
    if (c?.thinking !== undefined) out = join(out, contentText(c.thinking));
  }
  return out;
}

/** The generated text of one stream choice: content, visible reasoning, refusal, tool-call names and arguments (legacy completions: `text`). */
function choiceText(choice: unknown): string | undefined {
  const c = obj(choice);
  if (c === undefined) return undefined;
  if (typeof c.text === 'string') return c.text === '' ? undefined : c.text;
  const d = obj(c.delta);
  if (d === undefined) return undefined;
  let out = contentText(d.content);
  // Reasoning text as vLLM and DeepSeek (reasoning_content), Groq and OpenRouter (reasoning) stream it.
  out = join(out, str(d.reasoning_content) ?? str(d.reasoning));
  out = join(out, str(d.refusal));
  const calls = d.tool_calls ?? d.toolCalls;
  if (calls !== undefined && calls !== null) {
    for (const call of arr(calls) ?? []) {
      const f = obj(obj(call)?.function);
      out = join(out, str(f?.name));
      const args = f?.arguments;
      out = join(out, typeof args === 'string' ? str(args) : args === undefined || args === null ? undefined : JSON.stringify(args));
    }
  }
  return out;
}

/**
 * The generated text one stream event carries (see ProviderConverter.textOf): chat chunks (every
 * choice), legacy completion chunks, and the Responses API's text and tool-argument deltas.
 */
export function openaiTextOf(event: unknown): string | undefined {
  const e = obj(event);
  if (e === undefined) return undefined;
  const choices = e.choices;
  if (Array.isArray(choices)) {
    if (choices.length === 1) return choiceText(choices[0]);
    let out: string | undefined;
    for (const c of choices) out = join(out, choiceText(c));
    return out;
  }
  const type = e.type;
  if (type === 'response.output_text.delta' || type === 'response.function_call_arguments.delta' || type === 'response.refusal.delta')
    return str(e.delta);
  // Speakeasy-generated SDKs (Mistral's) hand each chunk over wrapped as `{ data: chunk }`.
  const data = obj(e.data);
  return data === undefined ? undefined : openaiTextOf(data);
}
