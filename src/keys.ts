import { ValidationError } from './errors.ts';

/**
 * Unknown keys are errors, not silent defaults: a misspelt option or field (`input_tokens` for
 * `inputTokens`) would otherwise record nothing of what the caller meant. These helpers name the
 * key and, where one is close, the key that was meant.
 */

/**
 * The keys of `T` as a set. The argument lists each key once (`{ a: true, b: true }`), and the
 * compiler checks it is complete and has no extra key, so the set follows the type.
 */
export function keySet<T>(keys: { [K in keyof Required<T>]: true }): ReadonlySet<string> {
  return new Set(Object.keys(keys));
}

/** A key as compared for suggestions: case, `_`, `-` and spaces ignored (`input_tokens` is `inputTokens`). */
function fold(key: string): string {
  return key.toLowerCase().replace(/[_\-\s]/g, '');
}

/** Edit distance (insertions, deletions, substitutions, adjacent swaps), or `max + 1` once it is past `max`. */
function distance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (prev2[j - 2] as number) + 1);
      row.push(d);
      if (d < best) best = d;
    }
    if (best > max) return max + 1;
    prev2 = prev;
    prev = row;
  }
  return prev[b.length] as number;
}

/**
 * The known key `key` was probably meant to be: the same but for case and `_` (`user_id` for
 * `userId`), a name the earlier tools used (`hints`, by folded name: `prompt_tokens` for
 * `inputTokens`), or one within a typo or two (`inputToken`). Undefined when none is close.
 */
export function closestKey(key: string, known: Iterable<string>, hints?: Readonly<Record<string, string>>): string | undefined {
  const k = fold(key);
  const hinted = hints?.[k];
  if (hinted !== undefined) return hinted;
  // At most two edits, and fewer than a third of the key: `ab` is not a typo of `cd`.
  const max = Math.min(2, Math.floor(k.length / 3));
  let best: string | undefined;
  let bestDistance = max + 1;
  for (const candidate of known) {
    const c = fold(candidate);
    if (c === k) return candidate;
    const d = distance(k, c, max);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Where an unknown key was found: `what` for the message, `path` before the key in `field`, `hints` and `note` for the suggestion. */
export interface KeyPlace {
  /** What the object is, for the message: `a usage record`, `TokenMonitor options`. */
  what: string;
  /** Where the object is, prefixed to the key in the error's `field` (`metrics`, `config.json alerts`). */
  path?: string;
  /** Names used elsewhere for a known key, by folded name (see closestKey). */
  hints?: Readonly<Record<string, string>>;
  /** Said when no key is close. */
  note?: string;
}

/**
 * The error of an unknown key: `field` is the key, after where it was found (`input_tokens`,
 * `config.json alerts.warn_at_pct`), `value` its value; the message names `meant`, the key that
 * was probably meant, when there is one.
 */
export function unknownKeyError(key: string, value: unknown, meant: string | undefined, where: KeyPlace): ValidationError {
  const field = where.path === undefined ? key : `${where.path}${where.path.endsWith(' ') ? '' : '.'}${key}`;
  const tail = meant !== undefined ? `: did you mean ${meant}?` : where.note !== undefined ? ` (${where.note})` : '';
  return new ValidationError(field, value, `Unknown key ${field} in ${where.what}${tail}`, { message: true });
}

/**
 * Throws an {@link unknownKeyError} for the first key of `value` (own or inherited, as `for...in`
 * walks them) that is not in `known`. A loop over the keys and a set lookup each: cheap enough
 * for every call. Nothing to check when `value` is not an object.
 */
export function checkKeys(value: unknown, known: ReadonlySet<string>, where: KeyPlace): void {
  if (typeof value !== 'object' || value === null) return;
  for (const key in value) {
    if (!known.has(key)) {
      throw unknownKeyError(key, (value as Record<string, unknown>)[key], closestKey(key, known, where.hints), where);
    }
  }
}
