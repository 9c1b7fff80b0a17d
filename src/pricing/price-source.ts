import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { redactSecrets } from '../logger.ts';
import { Refused } from './price-data-check.ts';

/** genai-prices' data is about 0.5 MB; far more is not price data. */
const MAX_BYTES = 64 * 1024 * 1024;
const FETCH_TIMEOUT_MS = 30_000;

/** A source as given in config.json or an option: URLs as they are, a relative file path from `base`. */
export function resolveSource(source: string, base: string): string {
  return /^(?:https?|file):/i.test(source) ? source : resolve(base, source);
}

/** A source as it may be shown and kept: a URL without its credentials, a file as given. */
export function displaySource(source: string): string {
  if (!/^https?:\/\//i.test(source)) return source;
  try {
    const url = new URL(source);
    url.username = '';
    url.password = '';
    return redactSecrets(url.href);
  } catch {
    return redactSecrets(source);
  }
}

async function readBody(res: Response): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (declared > MAX_BYTES) throw new Refused(`is ${declared} bytes, far more than price data`);
  if (res.body === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.byteLength;
    if (size > MAX_BYTES) throw new Refused(`is more than ${MAX_BYTES} bytes, far more than price data`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function readSource(source: string): Promise<{ text: string; sourceDate: string | undefined }> {
  if (/^https?:\/\//i.test(source)) {
    let res: Response;
    try {
      res = await fetch(source, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), headers: { accept: 'application/json' } });
    } catch (error) {
      const cause = (error as { cause?: { message?: string; code?: string } }).cause;
      throw new Refused(`could not be fetched: ${(error as Error).message}${cause ? ` (${cause.code ?? cause.message})` : ''}`);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new Refused(`answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
    }
    const text = await readBody(res);
    const modified = Date.parse(res.headers.get('last-modified') ?? '');
    return { text, sourceDate: Number.isNaN(modified) ? undefined : new Date(modified).toISOString() };
  }
  const path = source.startsWith('file:') ? fileURLToPath(source) : source;
  try {
    const stat = statSync(path);
    if (stat.size > MAX_BYTES) throw new Refused(`is ${stat.size} bytes, far more than price data`);
    return { text: readFileSync(path, 'utf8'), sourceDate: stat.mtime.toISOString() };
  } catch (error) {
    if (error instanceof Refused) throw error;
    throw new Refused(`could not be read: ${(error as Error).message}`);
  }
}
