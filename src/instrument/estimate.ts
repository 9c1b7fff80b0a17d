import { arr, obj, str } from '../providers/read.ts';
import type { Usage } from '../providers/types.ts';
import { type StreamText, TEXT_CAP } from './stainless.ts';
import { type CountTokens, threadCounter } from './tokenizer-thread.ts';
import type { Encoding } from './tokenizer-worker.ts';

/**
 * Token estimates for instrumented streams that end without usage (a chat stream whose request did
 * not get `stream_options.include_usage` through, a gateway that drops the usage chunk): the
 * request's prompt and the streamed text are counted with js-tiktoken, and the call is recorded
 * with `usageSource: 'estimated'` instead of unknown counts. js-tiktoken is an optional peer
 * dependency, loaded when a first estimate is needed, and run on a thread of its own
 * (tokenizer-thread.ts): without it the call stays `missing`.
 *
 * What is counted: the prompt's text (messages, system prompt, tool definitions, prior tool calls
 * and results) and the generated text (content, reasoning text the stream shows, tool-call
 * arguments). Images, audio and files are not counted, nor are hidden reasoning tokens (o-series),
 * so an estimate is low for such calls. Only streams that ended normally are estimated: the text
 * of a stream the caller abandoned or that failed midway is not what the provider billed.
 */

export type { CountTokens, Encoding };

/** Loads a tokenizer; resolves undefined when none can be loaded. */
export type TokenizerLoader = (encoding: Encoding) => Promise<CountTokens | undefined>;

/**
 * The encoding of a model: o200k_base for GPT-4o, 4.1, 4.5, 5, the o-series and gpt-oss;
 * cl100k_base for GPT-4 (turbo included) and GPT-3.5. Other providers' models (Llama, Mistral,
 * Claude, Gemini) have tokenizers of their own that js-tiktoken does not ship: o200k_base counts
 * them as an approximation (typically within 10 to 20% for English text).
 */
export function encodingFor(model: string | undefined): Encoding {
  const m = (model ?? '').toLowerCase().replace(/^.*\//, '');
  return /^(gpt-4(?![o.])|gpt-3\.5|gpt-35|text-embedding-(ada|3)|davinci-002|babbage-002)/.test(m) ? 'cl100k_base' : 'o200k_base';
}

/**
 * js-tiktoken's counter for an encoding, on the tokenizer thread (building o200k_base's takes
 * 0.5-3 s there, once per process; counts asked for meanwhile wait for it); undefined when
 * js-tiktoken is not installed.
 */
export const loadTiktoken: TokenizerLoader = (encoding) => threadCounter(encoding);

/** A prompt as counted: texts to tokenize, plus tokens known without tokenizing (message framing, token-id prompts). */
interface Prompt {
  texts: string[];
  tokens: number;
  /** False when the request had none of the fields a prompt is read from. */
  found: boolean;
}

/**
 * Message framing of OpenAI chat models, as OpenAI's cookbook counts it ("How to count tokens with
 * tiktoken", `num_tokens_from_messages` and `num_tokens_for_tools`,
 * https://cookbook.openai.com/examples/how_to_count_tokens_with_tiktoken): 3 tokens per message,
 * 1 more for a `name`, 3 priming the reply; each tool adds 7 (10 on cl100k_base models), 3 for its
 * properties and 3 per property, -3 per enum and 3 per enum value, and 12 closes the tools.
 */
const PER_MESSAGE = 3;
const PER_NAME = 1;
const REPLY_PRIMING = 3;
const TOOLS = { funcInitO200k: 7, funcInitCl100k: 10, propInit: 3, propKey: 3, enumInit: -3, enumItem: 3, funcEnd: 12 } as const;

/** Collects the text of a content value: a string, or blocks/parts (OpenAI, Anthropic, Gemini, Responses items). */
function blocks(v: unknown, out: string[], depth = 0): void {
  if (typeof v === 'string') {
    if (v !== '') out.push(v);
    return;
  }
  if (depth > 8) return;
  if (Array.isArray(v)) {
    for (const x of v) blocks(x, out, depth + 1);
    return;
  }
  const b = obj(v);
  if (b === undefined) return;
  for (const key of ['text', 'thinking', 'arguments', 'output'] as const) {
    const s = str(b[key]);
    if (s !== undefined) out.push(s);
  }
  // Anthropic tool_use input; Gemini function calls and responses.
  if (obj(b.input) !== undefined) out.push(JSON.stringify(b.input));
  for (const key of ['functionCall', 'function_call', 'functionResponse', 'function_response'] as const) {
    const f = obj(b[key]);
    if (f === undefined) continue;
    const name = str(f.name);
    if (name !== undefined) out.push(name);
    const args = f.args ?? f.response;
    if (args !== undefined) out.push(JSON.stringify(args));
  }
  if (b.content !== undefined) blocks(b.content, out, depth + 1);
  if (b.parts !== undefined) blocks(b.parts, out, depth + 1);
}

/** OpenAI chat messages, framed as the cookbook counts them: every string value of a message (role, content, name...) is text. */
function openaiMessages(messages: readonly unknown[], p: Prompt): void {
  for (const m of messages) {
    p.tokens += PER_MESSAGE;
    const msg = obj(m);
    if (msg === undefined) continue;
    for (const [key, value] of Object.entries(msg)) {
      if (typeof value === 'string') {
        if (value !== '') p.texts.push(value);
        if (key === 'name') p.tokens += PER_NAME;
      } else if (key === 'content') {
        blocks(value, p.texts);
      } else if (key === 'tool_calls' || key === 'toolCalls') {
        for (const call of arr(value) ?? []) {
          const f = obj(obj(call)?.function);
          const name = str(f?.name);
          if (name !== undefined) p.texts.push(name);
          const args = f?.arguments;
          if (typeof args === 'string') p.texts.push(args);
          else if (args !== undefined && args !== null) p.texts.push(JSON.stringify(args));
        }
      }
    }
  }
  p.tokens += REPLY_PRIMING;
}

function trimDot(s: string): string {
  return s.endsWith('.') ? s.slice(0, -1) : s;
}

/** OpenAI tool (or legacy `functions`) definitions, as the cookbook counts them. */
function openaiTools(tools: readonly unknown[], encoding: Encoding, p: Prompt): void {
  let any = false;
  for (const t of tools) {
    const f = obj(obj(t)?.function) ?? obj(t);
    const name = str(f?.name);
    if (f === undefined || name === undefined) continue;
    any = true;
    p.tokens += encoding === 'o200k_base' ? TOOLS.funcInitO200k : TOOLS.funcInitCl100k;
    p.texts.push(`${name}:${trimDot(str(f.description) ?? '')}`);
    const properties = Object.entries(obj(obj(f.parameters)?.properties) ?? {});
    if (properties.length === 0) continue;
    p.tokens += TOOLS.propInit;
    for (const [key, value] of properties) {
      p.tokens += TOOLS.propKey;
      const prop = obj(value);
      const values = arr(prop?.enum);
      if (values !== undefined) {
        p.tokens += TOOLS.enumInit;
        for (const item of values) {
          p.tokens += TOOLS.enumItem;
          p.texts.push(String(item));
        }
      }
      p.texts.push(`${key}:${str(prop?.type) ?? ''}:${trimDot(str(prop?.description) ?? '')}`);
    }
  }
  if (any) p.tokens += TOOLS.funcEnd;
}

/** Any other tool definitions (Anthropic's, Gemini's): their JSON, an approximation. */
function otherTools(tools: readonly unknown[], p: Prompt): void {
  for (const t of tools) if (t !== undefined && t !== null) p.texts.push(JSON.stringify(t));
}

/**
 * The prompt of a request: OpenAI-compatible chat (with the cookbook's framing), legacy completions
 * (`prompt`, token ids counted as they are), the Responses API (`instructions`, `input`), Anthropic
 * Messages (`system`, `messages`) and Gemini (`contents`, `systemInstruction`), read as the SDKs take them.
 */
export function promptOf(request: unknown, provider: string, encoding: Encoding): Prompt {
  const p: Prompt = { texts: [], tokens: 0, found: false };
  const req = obj(request);
  if (req === undefined) return p;
  const config = obj(req.config);
  const messages = arr(req.messages);
  // Only OpenAI-compatible chat is framed as the cookbook counts it; Anthropic's framing is not published.
  const openaiChat = messages !== undefined && provider !== 'anthropic';
  if (messages !== undefined) {
    p.found = true;
    if (openaiChat) openaiMessages(messages, p);
    else for (const m of messages) blocks(obj(m)?.content, p.texts);
  }
  for (const key of ['system', 'instructions', 'systemInstruction', 'system_instruction', 'contents', 'input'] as const) {
    if (req[key] === undefined || req[key] === null) continue;
    p.found = true;
    blocks(req[key], p.texts);
  }
  if (config?.systemInstruction !== undefined) blocks(config.systemInstruction, p.texts);
  const prompt = req.prompt;
  if (prompt !== undefined && prompt !== null) {
    p.found = true;
    // A prompt of token ids (number[] or number[][]) counts one token per id.
    const items = Array.isArray(prompt) && prompt.some((x) => typeof x !== 'number') ? prompt : [prompt];
    for (const item of items) {
      if (typeof item === 'string') p.texts.push(item);
      else if (Array.isArray(item)) p.tokens += item.length;
    }
  }
  const tools = arr(req.tools) ?? arr(req.functions) ?? arr(config?.tools);
  if (tools !== undefined) {
    if (openaiChat) openaiTools(tools, encoding, p);
    else otherTools(tools, p);
  }
  return p;
}

/** Texts as sent to the tokenizer: at most TEXT_CAP characters in all, the rest extrapolated (see `tokensOf`). */
interface Kept {
  texts: string[];
  /** Characters kept. */
  counted: number;
  /** Characters in all, those not kept included. */
  chars: number;
}

/** The first TEXT_CAP characters of `texts` (`chars` in all, counting any not kept), cut between code points. */
function keep(texts: readonly string[], chars: number): Kept {
  const kept: Kept = { texts: [], counted: 0, chars };
  for (const text of texts) {
    const room = TEXT_CAP - kept.counted;
    if (room <= 0) break;
    let t = text;
    if (t.length > room) {
      const high = t.charCodeAt(room - 1);
      t = t.slice(0, high >= 0xd800 && high <= 0xdbff ? room - 1 : room);
    }
    kept.texts.push(t);
    kept.counted += t.length;
  }
  return kept;
}

/** The tokens of kept texts from their counts: past the kept characters, extrapolated at the same tokens per character. */
function tokensOf(kept: Kept, counts: readonly number[]): number {
  let tokens = 0;
  for (const n of counts) tokens += n;
  return kept.counted > 0 && kept.counted < kept.chars ? Math.round((tokens * kept.chars) / kept.counted) : tokens;
}

/**
 * The usage of a stream that reported none, estimated from its request and streamed text:
 * `usageSource: 'estimated'` with inputTokens (when the request's prompt could be read),
 * outputTokens and totalTokens. Returns `usage` itself when no tokenizer can be loaded. Never rejects.
 */
export async function estimateUsage(
  usage: Usage,
  request: unknown,
  output: StreamText,
  load: TokenizerLoader = loadTiktoken,
): Promise<Usage> {
  try {
    const encoding = encodingFor(usage.model ?? usage.requestModel);
    const count = await load(encoding);
    if (count === undefined) return usage;
    const prompt = promptOf(request, usage.provider, encoding);
    const input = prompt.found
      ? keep(
          prompt.texts,
          prompt.texts.reduce((n, t) => n + t.length, 0),
        )
      : undefined;
    // One text: the pieces of a streamed word or number are tokenized together, as the model generated them.
    const generated = keep([output.parts.join('')], output.chars);
    // Prompt and output in one message to the tokenizer thread.
    const counts = await count([...(input?.texts ?? []), ...generated.texts]);
    if (counts === undefined) return usage;
    const split = input?.texts.length ?? 0;
    const estimated: Usage = { ...usage, usageSource: 'estimated' };
    if (input !== undefined) estimated.inputTokens = prompt.tokens + tokensOf(input, counts.slice(0, split));
    estimated.outputTokens = tokensOf(generated, counts.slice(split));
    if (estimated.inputTokens !== undefined) estimated.totalTokens = estimated.inputTokens + estimated.outputTokens;
    return estimated;
  } catch {
    return usage;
  }
}

/**
 * The tokens of an embedding request's texts, counted with js-tiktoken (the encoding of `model`);
 * undefined when no tokenizer can be loaded. Never rejects.
 */
export async function estimateTextTokens(
  texts: readonly string[],
  model: string | undefined,
  load: TokenizerLoader = loadTiktoken,
): Promise<number | undefined> {
  try {
    const count = await load(encodingFor(model));
    if (count === undefined) return undefined;
    const kept = keep(
      texts,
      texts.reduce((n, t) => n + t.length, 0),
    );
    const counts = await count(kept.texts);
    return counts === undefined ? undefined : tokensOf(kept, counts);
  } catch {
    return undefined;
  }
}
