/**
 * Reading untrusted JSON without throwing: each reader returns undefined for anything that is not
 * what it expects, and notes the path in `unread` when a value was present but of the wrong type.
 */
export type Json = Record<string, unknown>;

export function obj(v: unknown): Json | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
}

export function arr(v: unknown): unknown[] | undefined {
  return Array.isArray(v) ? v : undefined;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** A count: a finite non-negative integer (floats the provider rounds are rounded), else undefined. */
export function num(v: unknown): number | undefined {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) return undefined;
  return Math.round(v);
}

/** Reads `path` from `root` as a count; a present value of the wrong type goes into `unread`. */
export function count(root: unknown, path: readonly string[], unread: string[]): number | undefined {
  let v: unknown = root;
  for (const k of path) {
    const o = obj(v);
    if (o === undefined) return undefined;
    v = o[k];
  }
  if (v === undefined || v === null) return undefined;
  const n = num(v);
  if (n === undefined) unread.push(path.join('.'));
  return n;
}

/** Adds counts where either may be unknown: unknown only when both are. */
export function plus(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined && b === undefined ? undefined : (a ?? 0) + (b ?? 0);
}
