import { type CountTokens, loadTiktoken, type TokenizerLoader } from './estimate.ts';

// js-tiktoken on the tokenizer thread; exact counts of texts seen before (see hold-estimate.ts).

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

/**
 * The exact count of `text` when it was counted before; otherwise undefined, and a text long
 * enough to be worth it is queued for counting on the tokenizer thread.
 */
export function exactCount(text: string): number | undefined {
  if (text.length < MEMO_MIN) return undefined;
  const known = memo.get(text);
  if (known === undefined) enqueue(text);
  return known;
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
