import { ValidationError } from '../errors.ts';
import { closestKey, unknownKeyError } from '../keys.ts';
import { RECORD_COLUMNS } from '../ledger/columns.ts';
import { USAGE_INPUT_KEYS, USAGE_KEY_HINTS, type UsageInput } from '../usage.ts';

/**
 * The REST API's field names. Its clients are in other languages, whose habit is snake_case: a
 * record may name each field as the library does (`inputTokens`) or as the exports do
 * (`input_tokens`, the names of CSV headers, JSON exports and the SQL view), mapped here, once,
 * at the boundary. Any other key is a 400 naming it, as in the library.
 */

function snakeOf(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

const EXPORT_NAMES = new Map<string, string>(RECORD_COLUMNS.map(([field, name]) => [field, name]));

/** Each usage field's snake_case name, where it differs: the export's name, else the field's own in snake_case (`api_key`). */
export const SNAKE_USAGE_NAMES: ReadonlyMap<string, string> = new Map(
  [...USAGE_INPUT_KEYS]
    .map((field) => [EXPORT_NAMES.get(field) ?? snakeOf(field), field] as const)
    .filter(([name, field]) => name !== field),
);

const CAMEL_BY_SNAKE = SNAKE_USAGE_NAMES;
const SNAKE_BY_CAMEL = new Map([...SNAKE_USAGE_NAMES].map(([name, field]) => [field, name]));

/** The error of an unknown key, suggesting a name in the spelling the client writes (snake_case when the key has `_`). */
function unknownRestKey(key: string, value: unknown, what: string): ValidationError {
  const snake = key.includes('_');
  const meant = closestKey(key, snake ? [...CAMEL_BY_SNAKE.keys(), ...USAGE_INPUT_KEYS] : USAGE_INPUT_KEYS, USAGE_KEY_HINTS);
  const shown = meant === undefined ? undefined : snake ? (SNAKE_BY_CAMEL.get(meant) ?? meant) : meant;
  return unknownKeyError(key, value, shown, { what });
}

/** A usage record as the REST API takes it, in the library's names, and the names the client used where they differ. */
export interface RestUsage {
  usage: UsageInput;
  /** Field → the snake_case name the client sent it as, to name it that way in an error. */
  spelled: ReadonlyMap<string, string> | undefined;
}

/**
 * One record of `POST /v1/usage`, its snake_case names mapped to the library's: a field given in
 * both spellings, or an unknown key, is a ValidationError naming it. `metadata` is the user's own,
 * its keys left as they are. Anything not an object is passed on for validateUsage to name.
 */
export function restUsage(item: unknown): RestUsage {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return { usage: item as UsageInput, spelled: undefined };
  const given = item as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  let spelled: Map<string, string> | undefined;
  for (const key of Object.keys(given)) {
    if (USAGE_INPUT_KEYS.has(key)) continue;
    const field = CAMEL_BY_SNAKE.get(key);
    if (field === undefined) throw unknownRestKey(key, given[key], 'a usage record');
    if (Object.hasOwn(given, field)) {
      throw new ValidationError(key, given[key], `given twice, as ${field} and as ${key}: send one of them`);
    }
    out ??= { ...given };
    out[field] = given[key];
    delete out[key];
    spelled ??= new Map();
    spelled.set(field, key);
  }
  return { usage: (out ?? given) as unknown as UsageInput, spelled };
}

/** The context fields of `POST /v1/check`, each with its snake_case name. */
const CHECK_CONTEXT = [
  ['userId', 'user_id'],
  ['agent', 'agent'],
  ['apiKeyId', 'api_key_id'],
] as const;

/**
 * The context of a `POST /v1/check` body: `userId`, `agent`, `apiKeyId` (or `user_id`,
 * `api_key_id`). The rest of the body is the provider request to estimate, whose keys are the
 * provider's (`messages`, `max_tokens`, `user`...): only a near miss of a context field
 * (`UserId`, `user-id`, `apiKeyID`) is refused, as it would check against the wrong budget.
 */
export function restCheckContext(body: Record<string, unknown>): { userId?: unknown; agent?: unknown; apiKeyId?: unknown } {
  const out: Record<string, unknown> = {};
  for (const [field, snake] of CHECK_CONTEXT) {
    if (field !== snake && body[field] !== undefined && body[snake] !== undefined) {
      throw new ValidationError(snake, body[snake], `given twice, as ${field} and as ${snake}: send one of them`);
    }
    const v = body[field] ?? body[snake];
    // A context field of the wrong type is an error named as the client spelled it.
    if (v !== undefined && v !== null && typeof v !== 'string') {
      throw new ValidationError(body[field] !== undefined ? field : snake, v, 'must be a string');
    }
    if (v !== undefined) out[field] = v;
  }
  const exact = new Set<string>(CHECK_CONTEXT.flat());
  const folded = new Map<string, string>(CHECK_CONTEXT.map(([field]) => [field.toLowerCase(), field]));
  for (const key of Object.keys(body)) {
    if (exact.has(key)) continue;
    const meant = folded.get(key.toLowerCase().replace(/[_\-\s]/g, ''));
    if (meant !== undefined) {
      const snake = key.includes('_') ? CHECK_CONTEXT.find(([f]) => f === meant)?.[1] : undefined;
      throw unknownKeyError(key, body[key], snake ?? meant, { what: 'a check request' });
    }
  }
  return out;
}
