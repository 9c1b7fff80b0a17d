import { obj, str } from '../providers/read.ts';
import { modelFamily, providerEntry } from '../providers/registry.ts';
import { type CountTokens, encodingFor, loadTiktoken, type TokenizerLoader } from './estimate.ts';
import { type ImageRule, imageRuleFor, imageSizeOfBase64, imageSizeOfBytes } from './image-tokens.ts';

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

/**
 * Tokens per character by script, upper bounds for o200k_base measured by bench/estimate-rates.ts
 * over 200-, 2,000- and 20,000-character segments of Markdown, code, 17 languages' message catalogues,
 * random ids and emoji (the estimate is below the true count in 8 of 6,419 segments, by 4% at
 * most; it is about 2-2.5x the true count for English and code, 1.2-1.7x for Chinese, Japanese and
 * Korean): ASCII in words 0.5 (Markdown's p99 is 0.43); ASCII in a run of more than 16 characters
 * without a space 1 (ids, hashes, base64: random base64 is 0.73, an id whose digits and letters
 * alternate up to 0.95); other BMP letters (Cyrillic,
 * Greek, Arabic, Hebrew, Devanagari, Thai) 0.75; CJK ideographs, kana, Hangul and full-width forms
 * 1.1 (running text: Chinese 0.67, Japanese 0.67, Korean 0.80, traditional Chinese 0.90);
 * astral code points (emoji, rare ideographs, up to about 2.3) 3; and half a token where ASCII and
 * another script meet (neither side's token runs across).
 */
export const SCRIPT_RATES = { ascii: 0.5, asciiRun: 1, other: 0.75, wide: 1.1, astral: 3, boundary: 0.5 } as const;
/** A run of ASCII without whitespace longer than this is taken for an id, hash or blob (SCRIPT_RATES.asciiRun). */
const LONG_RUN = 16;

function isWide(c: number): boolean {
  return (
    (c >= 0x2e80 && c <= 0x9fff) || // CJK radicals, punctuation, kana, Bopomofo, Hangul compatibility, ideographs
    (c >= 0xac00 && c <= 0xd7af) || // Hangul syllables
    (c >= 0x1100 && c <= 0x11ff) || // Hangul jamo
    (c >= 0xf900 && c <= 0xfaff) || // CJK compatibility ideographs
    (c >= 0xff00 && c <= 0xffef) // half- and full-width forms
  );
}

/** Counts of a text's characters by class, for SCRIPT_RATES. */
function scan(text: string, from: number, to: number): number {
  // Integer counts in the loop (a few ns a character), rates applied once at the end.
  let words = 0;
  let runs = 0;
  let spaces = 0;
  let other = 0;
  let wide = 0;
  let astral = 0;
  let boundaries = 0;
  let run = 0;
  let ascii = true;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      if (!ascii) {
        ascii = true;
        boundaries++;
      }
      if (c > 32) run++;
      else {
        if (run > LONG_RUN) runs += run;
        else words += run;
        run = 0;
        spaces++;
      }
      continue;
    }
    if (ascii) {
      ascii = false;
      boundaries++;
    }
    if (isWide(c)) wide++;
    else if (c >= 0xd800 && c <= 0xdbff) {
      astral++;
      i++;
    } else other++;
  }
  if (run > LONG_RUN) runs += run;
  else words += run;
  const r = SCRIPT_RATES;
  // Whitespace mostly joins the next word's token; a quarter token each covers runs of it.
  return (
    words * r.ascii + runs * r.asciiRun + spaces * 0.25 + other * r.other + wide * r.wide + astral * r.astral + boundaries * r.boundary
  );
}

/** Texts longer than this are estimated from SAMPLES windows of WINDOW characters spread over them. */
const SAMPLE_ABOVE = 8192;
const SAMPLES = 32;
const WINDOW = 128;

/**
 * A conservative token count of `text` by script (see SCRIPT_RATES), a few ns a character; a text
 * of more than 8,192 characters from 32 windows of 128 spread over it (4,096 characters read,
 * scaled to its length), so that a long document costs the caller no more than a short one
 * (bench/budgets.ts `enforce-estimate-*`). A window's cut words count a little more than whole
 * ones; a document mixing scripts in unequal stretches is estimated by the mix its windows see.
 */
export function scriptTokens(text: string): number {
  const n = text.length;
  if (n <= SAMPLE_ABOVE) return scan(text, 0, n);
  const step = Math.floor(n / SAMPLES);
  let tokens = 0;
  for (let k = 0; k < SAMPLES; k++) tokens += scan(text, k * step, k * step + WINDOW);
  return (tokens * n) / (SAMPLES * WINDOW);
}

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

function textTokens(s: string, w: Walk): number {
  if (w.exact && s.length >= MEMO_MIN) {
    const known = memo.get(s);
    if (known !== undefined) return known;
    enqueue(s);
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
  const exact = counter !== undefined && countsExactly(provider, model);
  const w: Walk = { provider, model, rule: undefined, exact, tokens: 0 };
  walk(bodyOf(provider, request), '', 0, w);
  return Math.ceil(w.tokens);
}

// --- js-tiktoken on the tokenizer thread; exact counts of texts seen before ---

/** Texts shorter than this are not worth a memo entry: their script estimate is off by a few tokens at most. */
const MEMO_MIN = 64;
/** Memo and queue bounds, in characters (a few MB of strings at most), and texts. */
const MEMO_CHARS = 4_000_000;
const QUEUE_CHARS = 1_000_000;
const QUEUE_TEXTS = 1000;
/**
 * Texts go to the tokenizer thread in batches of about this many characters, one batch at a time:
 * a stream estimate asked for meanwhile waits for one batch at most (16 Ki characters of Chinese:
 * about 0.4 s of the thread's time; of English, 7 ms). A longer text goes alone.
 */
const BATCH_CHARS = 16 * 1024;

let counter: CountTokens | undefined;
let loading: Promise<void> | undefined;
const memo = new Map<string, number>();
let memoChars = 0;
/** Texts waiting to be sent, and those sent and not yet answered (`queued` has both). */
const queue: string[] = [];
const queued = new Set<string>();
let queuedChars = 0;
let inflight = false;
let timer: ReturnType<typeof setTimeout> | undefined;
let idle: (() => void)[] = [];

/**
 * Starts loading js-tiktoken's o200k_base on the tokenizer thread (once; budgets call it when one
 * enforces). Until it is loaded, or when js-tiktoken is not installed or its thread failed, every
 * hold is the script estimate. Resolves when loading ended, either way. Never rejects.
 */
export function preloadHoldTokenizer(load: TokenizerLoader = loadTiktoken): Promise<void> {
  loading ??= (async () => {
    try {
      const count = await load('o200k_base');
      // An empty count answers once the encoding is loaded; it does not keep the process alive.
      if (count !== undefined && (await count([], { background: true })) !== undefined) counter = count;
    } catch {
      // Not loaded: holds keep the script estimate.
    }
  })();
  return loading;
}

/** True once the exact counter is loaded. */
export function holdTokenizerLoaded(): boolean {
  return counter !== undefined;
}

/** Resolves once every text queued for counting is counted. */
export function holdCountsSettled(): Promise<void> {
  if (timer === undefined && !inflight && queue.length === 0) return Promise.resolve();
  return new Promise((resolve) => idle.push(resolve));
}

function enqueue(text: string): void {
  if (queued.has(text) || queued.size >= QUEUE_TEXTS || queuedChars + text.length > QUEUE_CHARS) return;
  queued.add(text);
  queue.push(text);
  queuedChars += text.length;
  schedule();
}

function schedule(): void {
  if (timer !== undefined || inflight) return;
  // Sent from a timer, not on the caller's path (a message copies its texts).
  timer = setTimeout(send, 0);
  // A cache being filled must not keep the process alive.
  timer.unref?.();
}

function remember(text: string, tokens: number): void {
  if (memoChars + text.length > MEMO_CHARS) {
    memo.clear();
    memoChars = 0;
  }
  memo.set(text, tokens);
  memoChars += text.length;
}

function send(): void {
  timer = undefined;
  const count = counter;
  const batch: string[] = [];
  let chars = 0;
  while (count !== undefined && queue.length > 0 && (batch.length === 0 || chars + (queue[0]?.length ?? 0) <= BATCH_CHARS)) {
    const text = queue.shift() as string;
    batch.push(text);
    chars += text.length;
  }
  if (count === undefined || batch.length === 0) {
    settled();
    return;
  }
  inflight = true;
  void (async () => {
    try {
      const counts = await count(batch, { background: true });
      // Undefined: the thread had too much waiting; the texts are queued again when next seen.
      if (counts !== undefined) for (let i = 0; i < batch.length; i++) remember(batch[i] as string, counts[i] as number);
    } catch {
      // The thread failed (reported there): holds keep the script estimate from now on.
      counter = undefined;
    } finally {
      inflight = false;
      for (const text of batch) queued.delete(text);
      queuedChars -= chars;
      schedule();
    }
  })();
}

/** Nothing left to count, or nothing to count it with: whoever waits is told. */
function settled(): void {
  for (const text of queue) queued.delete(text);
  for (const text of queue) queuedChars -= text.length;
  queue.length = 0;
  const done = idle;
  idle = [];
  for (const resolve of done) resolve();
}
