/**
 * The tokenizer thread (started by tokenizer-thread.ts): loads js-tiktoken's encodings when first
 * asked for one and counts the texts the main thread sends, answering each message once. Building
 * an encoding (o200k_base: 0.5-3 s) and counting (0.4 µs a character of English, 25 of Chinese)
 * happen here, so the app's event loop never waits for them.
 */
import { parentPort } from 'node:worker_threads';
import { pieces } from './token-pieces.ts';

/** An encoding js-tiktoken ships (estimate.ts `encodingFor` picks one per model). */
export type Encoding = 'o200k_base' | 'cl100k_base';

/** Count `texts` with `encoding` (an empty list only loads it). */
export interface CountRequest {
  id: number;
  encoding: Encoding;
  texts: string[];
}

/**
 * The answer to a request: each text's tokens; or `missing` when js-tiktoken cannot be imported
 * here; or `error` when loading or counting failed otherwise.
 */
export type CountAnswer = { id: number; counts: number[] } | { id: number; missing: true } | { id: number; error: string };

interface Encoder {
  encode(text: string, allowedSpecial: string[], disallowedSpecial: string[]): number[];
}

const encoders = new Map<Encoding, Promise<Encoder | undefined>>();

async function importEncoder(encoding: Encoding): Promise<Encoder | undefined> {
  try {
    // Only the lite entry and one encoding's ranks: the full entry would load every encoding.
    const [{ Tiktoken }, ranks] = await Promise.all([
      import('js-tiktoken/lite'),
      encoding === 'cl100k_base' ? import('js-tiktoken/ranks/cl100k_base') : import('js-tiktoken/ranks/o200k_base'),
    ]);
    return new Tiktoken(ranks.default);
  } catch (e) {
    if ((e as { code?: unknown })?.code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw e;
  }
}

function countOne(encoder: Encoder, text: string): number {
  let tokens = 0;
  // Special-token text typed into a prompt (`<|endoftext|>`) is counted as the text it is, not refused.
  for (const piece of pieces(text)) tokens += encoder.encode(piece, [], []).length;
  return tokens;
}

async function answer(m: CountRequest): Promise<CountAnswer> {
  try {
    let p = encoders.get(m.encoding);
    if (p === undefined) {
      p = importEncoder(m.encoding);
      encoders.set(m.encoding, p);
    }
    const encoder = await p;
    if (encoder === undefined) return { id: m.id, missing: true };
    return { id: m.id, counts: m.texts.map((t) => countOne(encoder, t)) };
  } catch (e) {
    return { id: m.id, error: (e as Error)?.message ?? String(e) };
  }
}

parentPort?.on('message', (m: CountRequest) => {
  void answer(m).then((a) => parentPort?.postMessage(a));
});
