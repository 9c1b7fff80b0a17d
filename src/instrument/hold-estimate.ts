import { obj, str } from '../providers/read.ts';
import { modelFamily, providerEntry } from '../providers/registry.ts';
import { encodingFor } from './estimate.ts';
import { exactCount, holdTokenizerLoaded } from './exact-counts.ts';
import { type ImageRule, imageRuleFor, imageSizeOfBase64, imageSizeOfBytes } from './image-tokens.ts';
import { scriptTokens } from './script-tokens.ts';

/**
 * The input tokens of a request, estimated before it is sent, for the hold an enforced budget takes
 * (synchronous, on the caller's path). Meant to be rarely below the provider's count:
 *
 * - Text by script (`scriptTokens`), with rates that cover the 99th percentile of o200k_base's
 *   tokens per character over samples of English, code, 17 other languages and random ids.
 * - Images by the providers' published rules (image-tokens.ts), sized from their inline headers.
 * - For OpenAI's o200k_base models, once js-tiktoken is loaded (on the tokenizer thread, see
 *   `preloadHoldTokenizer`), the exact count of a text seen before: system prompts, tool
 *   definitions and a conversation's earlier turns come back on every call, and are counted on
 *   that thread after their first sighting. Waiting for a count on the caller's path is too slow:
 *   js-tiktoken takes about 0.4-0.7 µs a character of English and 20-30 µs a character of
 *   Chinese (bench/budgets.ts, `enforce-tiktoken-*`), against a few ns for the script estimate.
 */

/** Tokens a message, part or block adds beside its text (OpenAI's cookbook counts 3 a message). */
const PER_OBJECT = 3;
/** Deepest nesting walked (Bedrock's image bytes sit at messages[].content[].image.source.bytes: 6). */
const MAX_DEPTH = 12;
/**
 * What a key of a request object is: skipped (names the model, or numbers and switches, not prompt
 * text), a schema (tools, structured output: counted as its JSON, keys included), or one of the
 * keys an image part is told by (its shape is read then). Any other key's value is walked.
 */
const SKIP = 1;
const SCHEMA = 2;
const IMAGE = 3;
const KEYS = new Map<string, number>([
  ...['model', 'modelId', 'stream', 'stream_options', 'service_tier', 'metadata', 'user', 'store'].map((k) => [k, SKIP] as const),
  ...['tools', 'functions', 'toolConfig', 'tool_config', 'response_format', 'responseSchema', 'responseJsonSchema'].map(
    (k) => [k, SCHEMA] as const,
  ),
  ...['type', 'image_url', 'imageUrl', 'inlineData', 'inline_data', 'fileData', 'file_data', 'image'].map((k) => [k, IMAGE] as const),
]);

/**
 * Inline binary data rather than text: a `data:` URL, or a long string of base64 characters only
 * (long CJK text has no spaces either, so the characters decide, not the absence of spaces).
 */
function isBlob(s: string): boolean {
  if (s.startsWith('data:')) return true;
  if (s.length < 1024) return false;
  for (let i = 0; i < 256; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 43 || c === 47 || c === 45 || c === 95))
      return false;
  }
  return true;
}

interface Walk {
  provider: string;
  model: string;
  /** The model's image rule, looked up at the first image (most requests have none). */
  rule: ImageRule | undefined;
  /** Whether texts seen before are held at their exact count: the model's tokenizer is o200k_base, and it is loaded. */
  exact: boolean;
  tokens: number;
}

/** A text's tokens: its exact count when the tokenizer counted it before, else the script estimate. */
function textTokens(s: string, w: Walk): number {
  if (w.exact) {
    const known = exactCount(s);
    if (known !== undefined) return known;
  }
  return scriptTokens(s);
}

/** An image given as base64 or a data: URL (size read from its header), a URL or file (size unknown). */
function image(w: Walk, data: unknown, detail: unknown): void {
  const size = typeof data === 'string' ? imageSizeOfBase64(data) : data instanceof Uint8Array ? imageSizeOfBytes(data) : undefined;
  w.rule ??= imageRuleFor(w.provider, w.model);
  w.tokens += w.rule(size, typeof detail === 'string' ? detail : undefined);
}

/** Reads one of the providers' image shapes; false when `o` is none. */
function imagePart(o: Record<string, unknown>, w: Walk): boolean {
  // OpenAI chat and Cohere `image_url` parts, Mistral's `imageUrl`, the Responses API's `input_image`.
  const url = o.image_url ?? o.imageUrl;
  if (url !== undefined || o.type === 'input_image') {
    const u = obj(url);
    image(w, u?.url ?? url, o.detail ?? u?.detail);
    return true;
  }
  // Anthropic: { type: 'image', source: { type: 'base64', data } | { type: 'url' } | { type: 'file' } }.
  const source = obj(o.source);
  if (o.type === 'image' && source !== undefined) {
    image(w, source.type === 'base64' ? source.data : undefined, undefined);
    return true;
  }
  // Gemini: inlineData { mimeType, data } and fileData { mimeType, fileUri } (REST: snake_case).
  const inline = obj(o.inlineData ?? o.inline_data);
  const file = obj(o.fileData ?? o.file_data);
  const mime = str(inline?.mimeType ?? inline?.mime_type ?? file?.mimeType ?? file?.mime_type);
  if (mime?.startsWith('image/')) {
    image(w, inline?.data, undefined);
    return true;
  }
  // Bedrock Converse: { image: { format, source: { bytes } | { s3Location } } }.
  const bedrock = obj(obj(o.image)?.source);
  if (bedrock !== undefined) {
    image(w, bedrock.bytes, undefined);
    return true;
  }
  return false;
}

function walk(v: unknown, key: string, depth: number, w: Walk): void {
  if (typeof v === 'string') {
    if (v === '') return;
    if (v.startsWith('data:image/')) image(w, v, undefined);
    else if (!isBlob(v)) w.tokens += textTokens(v, w);
    return;
  }
  if (depth > MAX_DEPTH || typeof v !== 'object' || v === null) return;
  if (Array.isArray(v)) {
    // Ollama: `images` of base64 strings beside a message's content (or a generate request's prompt).
    if (key === 'images') for (const x of v) image(w, x, undefined);
    else for (const x of v) walk(x, '', depth + 1, w);
    return;
  }
  if (v instanceof Uint8Array) return;
  const o = v as Record<string, unknown>;
  w.tokens += PER_OBJECT;
  let probed = false;
  for (const k in o) {
    const kind = KEYS.get(k);
    if (kind === SKIP) continue;
    // Only an object with one of an image part's keys is read as one (once).
    if (kind === IMAGE && !probed) {
      probed = true;
      if (imagePart(o, w)) return;
    }
    const x = o[k];
    if (kind === SCHEMA && typeof x === 'object' && x !== null) {
      try {
        w.tokens += scriptTokens(JSON.stringify(x));
      } catch {
        // A circular or unserializable schema: the SDK will refuse it anyway.
      }
    } else walk(x, k, depth + 1, w);
  }
}

/**
 * Bedrock InvokeModel's body is the model's own JSON, as bytes or text: read, so that its prompt
 * and images count (and its max tokens, see `bodyOf`).
 */
export function bodyOf(provider: string, request: unknown): unknown {
  const read = providerEntry(provider)?.requestBody;
  return read === undefined ? request : read(request);
}

/** Models whose tokenizer js-tiktoken ships exactly (OpenAI's on o200k_base): others only approximate it. */
function countsExactly(provider: string, model: string): boolean {
  // Calls mostly repeat the model of the call before.
  if (provider === last.provider && model === last.model) return last.exact;
  const key = `${provider}\u0000${model}`;
  let exact = exactModels.get(key);
  if (exact === undefined) {
    const m = model.toLowerCase().replace(/^.*\//, '');
    exact = (modelFamily(provider) === 'openai' || /^(gpt-|o\d|chatgpt)/.test(m)) && !/^gpt-oss/.test(m) && encodingFor(m) === 'o200k_base';
    if (exactModels.size >= 1000) exactModels.clear();
    exactModels.set(key, exact);
  }
  last = { provider, model, exact };
  return exact;
}
const exactModels = new Map<string, boolean>();
let last = { provider: '', model: '', exact: false };

/**
 * The input tokens of `request` (the body an SDK method was called with) for `provider`'s `model`:
 * text, framing, tool schemas and images, rounded up. Never throws on odd input.
 */
export function estimateInputTokens(provider: string, model: string, request: unknown): number {
  const exact = holdTokenizerLoaded() && countsExactly(provider, model);
  const w: Walk = { provider, model, rule: undefined, exact, tokens: 0 };
  walk(bodyOf(provider, request), '', 0, w);
  return Math.ceil(w.tokens);
}
