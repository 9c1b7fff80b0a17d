import { ValidationError } from './errors.ts';
import { apiKeyId } from './key-id.ts';
import { checkKeys } from './keys.ts';
import { redactSecrets, redactValues } from './logger.ts';
import { compileLiteral, FIELD_LIST, type InputCounts, identifier, PART_RULES, type PartRule } from './usage-fields.ts';
import { SERVICE_TYPES, type ServiceType, USAGE_INPUT_KEYS, USAGE_KEY_HINTS, type UsageInput, type ValidUsage } from './usage-shape.ts';

// The shapes of a call and a record are usage-shape.ts's; they are re-exported here, the module
// the rest of src/ (the ledger and the pipeline among them) takes the record from.
export type { ServiceType, UsageInput, UsageRecord, ValidUsage } from './usage-shape.ts';
export { SERVICE_TYPES, USAGE_INPUT_KEYS, USAGE_KEY_HINTS } from './usage-shape.ts';

/** The most tokens one call may report; more is taken for a bug in the caller. */
export const MAX_TOKENS_PER_CALL = 100_000_000;
/** The largest cost one call may report, in USD. */
export const MAX_COST_USD_PER_CALL = 100_000;
/** The largest metadata object, as JSON, that one record may carry. */
export const MAX_METADATA_BYTES = 8 * 1024;
/** The longest label value (user, thread, agent, operation, model...). */
export const MAX_LABEL_LENGTH = 256;
/** Error messages are cut to this length. */
export const MAX_ERROR_MESSAGE_LENGTH = 1000;
/** The latest timestamp a record may carry (2200-01-01): the ledger keeps times as integers with room to spare. */
export const MAX_TIMESTAMP_MS = Date.UTC(2200, 0, 1);
/** A call longer than a day is taken for a bug in the caller. */
export const MAX_DURATION_MS = 86_400_000;

function count(value: unknown, field: string): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number') throw new ValidationError(field, value, 'must be a number');
  if (!Number.isInteger(value) || value < 0) {
    throw new ValidationError(field, value, 'must be a non-negative integer');
  }
  if (value > MAX_TOKENS_PER_CALL) {
    throw new ValidationError(field, value, `more than ${MAX_TOKENS_PER_CALL} in one call`);
  }
  return value;
}

/** A USD amount of one call, or null when not given. */
function usdOf(value: unknown, field: string): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_COST_USD_PER_CALL) {
    throw new ValidationError(field, value, `must be a finite number of USD from 0 to ${MAX_COST_USD_PER_CALL}`);
  }
  return value;
}

function label(value: unknown, field: string): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') throw new ValidationError(field, value, 'must be a string');
  if (value.length > MAX_LABEL_LENGTH) {
    throw new ValidationError(field, value, `longer than ${MAX_LABEL_LENGTH} characters`);
  }
  return value;
}

function required(value: unknown, field: string): string {
  const v = label(value, field);
  if (v === null) throw new ValidationError(field, value, 'is required');
  return v;
}

function timestampOf(value: unknown): number {
  if (value === undefined) return Date.now();
  const ms =
    typeof value === 'number'
      ? value
      : value instanceof Date
        ? value.getTime()
        : typeof value === 'string'
          ? Date.parse(value)
          : Number.NaN;
  if (!Number.isFinite(ms)) throw new ValidationError('timestamp', value, 'must be a Date, epoch milliseconds or an ISO 8601 string');
  if (ms < 0 || ms > MAX_TIMESTAMP_MS) throw new ValidationError('timestamp', value, 'must be between 1970 and 2200');
  return Math.floor(ms);
}

/**
 * Checks metadata and returns a copy the caller cannot change afterwards. A flat object of strings,
 * numbers and booleans (the common case) is measured by an upper bound on its JSON size, which is
 * cheaper than writing the JSON; anything else is written and read back (a deep copy).
 */
function metadataOf(value: unknown): Record<string, unknown> | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ValidationError('metadata', value, 'must be a plain object');
  }
  const obj = value as Record<string, unknown>;
  // A UTF-16 unit takes at most 6 bytes of JSON (an escape such as \u0001); numbers at most 24.
  let bound = 2;
  let keys = 0;
  let flat = true;
  for (const k in obj) {
    const v = obj[k];
    const t = typeof v;
    keys++;
    if (t === 'string') bound += (k.length + (v as string).length) * 6 + 6;
    else if (t === 'number' || t === 'boolean' || v === null || v === undefined) bound += k.length * 6 + 30;
    else flat = false;
    if (!flat || bound > MAX_METADATA_BYTES) {
      flat = false;
      break;
    }
  }
  if (flat) return keys === 0 ? null : { ...obj };
  let json: string;
  try {
    json = JSON.stringify(obj);
  } catch (cause) {
    throw new ValidationError('metadata', value, `cannot be written as JSON: ${(cause as Error).message}`, { cause });
  }
  const bytes = Buffer.byteLength(json);
  if (bytes > MAX_METADATA_BYTES) {
    throw new ValidationError('metadata', value, `${bytes} bytes as JSON, more than ${MAX_METADATA_BYTES}`);
  }
  return json === '{}' ? null : (JSON.parse(json) as Record<string, unknown>);
}

const USAGE_WHERE = { what: 'a usage record', hints: USAGE_KEY_HINTS };

/**
 * How many of the {@link USAGE_INPUT_KEYS} fields are present as keys, set or undefined: the fast
 * path of the unknown-key check (as many keys as this means every key is known). Undefined fields count: instrumented
 * calls hand over one object literal with every field, most of them undefined, and counting only
 * the set ones sent each of those calls down the slow path (a set lookup per key). Written out from
 * USAGE_INPUT_KEYS at load: one `in` per field, by name, as fast as written by hand. A known field
 * readable but not enumerated by `for...in` (a getter on a class's prototype) beside an unknown
 * key could hide it; plain objects, which callers pass, have neither.
 */
export const knownFieldsPresent: (u: UsageInput) => number = new Function(
  `'use strict'; return function knownFieldsPresent(u) { return ${[...USAGE_INPUT_KEYS].map((k) => `+('${identifier(k)}' in u)`).join(' + ')}; };`,
)();

/**
 * A record with its counts read from a call and checked (`count`, field by field), the other
 * fields blank (null) for validateUsage to fill: written out from the table at load (see
 * compileLiteral), its fields in export order.
 */
const recordWithCounts = compileLiteral<InputCounts, ValidUsage>(
  [...FIELD_LIST.map(([name]) => name), 'costPicoUsd'],
  (f) => `count(s.${f}, '${f}')`,
  'null',
  { count },
);

const DEFAULT_OPERATION: Record<ServiceType, string> = { llm: 'chat', embedding: 'embeddings', reranking: 'rerank' };

/**
 * Checks one call and returns it normalised, or throws a {@link ValidationError} naming the field
 * and the value. Pure: nothing is recorded until every field has passed.
 */
export function validateUsage(input: UsageInput, keyIdOf: (apiKey: string) => string = apiKeyId): ValidUsage {
  if (typeof input !== 'object' || input === null) throw new ValidationError('usage', input, 'must be an object');
  // Fast path: as many keys as known fields set means every key is known (a set lookup per key
  // costs several times more); otherwise each key is looked up, and an unknown one named.
  let keys = 0;
  for (const _ in input) keys++;
  if (keys !== knownFieldsPresent(input)) checkKeys(input, USAGE_INPUT_KEYS, USAGE_WHERE);
  return validated(input, input, keyIdOf);
}

/**
 * As validateUsage, for a call whose input tokenmeter built itself (an instrumented call's: see
 * inputOfUsage), so its keys are known: its counts are read and checked from `counts` (the
 * provider's Usage, which names them as UsageInput does) instead of being copied into the input
 * first. Every value is checked as validateUsage checks it.
 */
export function validateBuilt(input: UsageInput, counts: InputCounts, keyIdOf: (apiKey: string) => string): ValidUsage {
  return validated(input, counts, keyIdOf);
}

function validated(input: UsageInput, counts: InputCounts, keyIdOf: (apiKey: string) => string): ValidUsage {
  const provider = required(input.provider, 'provider');
  const model = required(input.model, 'model');
  const st = input.serviceType ?? 'llm';
  if (st !== 'llm' && st !== 'embedding' && st !== 'reranking') {
    throw new ValidationError('serviceType', st, `must be one of ${SERVICE_TYPES.join(', ')}`);
  }
  // The counts first, each checked; the other fields are filled below as they pass.
  const record = recordWithCounts(counts);
  // An unknown count is not 0 in the total either: an LLM call whose output (or any call whose
  // input) is unknown has an unknown total. Embeddings and reranks have no output.
  const inputTokens = record.inputTokens;
  if (record.totalTokens === null && inputTokens !== null && (record.outputTokens !== null || st !== 'llm')) {
    record.totalTokens = inputTokens + (record.outputTokens ?? 0);
  }

  let durationMs: number | null = null;
  if (input.durationMs !== undefined && input.durationMs !== null) {
    const d = input.durationMs;
    if (typeof d !== 'number' || !Number.isFinite(d) || d < 0 || d > MAX_DURATION_MS) {
      throw new ValidationError('durationMs', d, `must be a finite number of milliseconds from 0 to ${MAX_DURATION_MS}`);
    }
    durationMs = d;
  }

  let costUsd: number | null = null;
  if (input.costUsd !== undefined && input.costUsd !== null) {
    const c = input.costUsd;
    if (typeof c !== 'number' || !Number.isFinite(c) || c < 0 || c > MAX_COST_USD_PER_CALL) {
      throw new ValidationError('costUsd', c, `must be a finite number of USD from 0 to ${MAX_COST_USD_PER_CALL}`);
    }
    costUsd = c;
  }

  let inputCostUsd: number | null = null;
  let outputCostUsd: number | null = null;
  if (input.inputCostUsd != null || input.outputCostUsd != null) {
    inputCostUsd = usdOf(input.inputCostUsd, 'inputCostUsd');
    outputCostUsd = usdOf(input.outputCostUsd, 'outputCostUsd');
    if (inputCostUsd === null) throw new ValidationError('inputCostUsd', input.inputCostUsd, 'is required with outputCostUsd');
    if (outputCostUsd === null) throw new ValidationError('outputCostUsd', input.outputCostUsd, 'is required with inputCostUsd');
    // In picodollars, as the ledger keeps them: exact for any figure it exported.
    const sum = Math.round(inputCostUsd * 1e12) + Math.round(outputCostUsd * 1e12);
    if (costUsd === null) costUsd = sum / 1e12;
    else if (Math.abs(sum - Math.round(costUsd * 1e12)) > 1) {
      throw new ValidationError(
        'inputCostUsd',
        inputCostUsd,
        `with outputCostUsd (${outputCostUsd}) does not add up to costUsd (${costUsd})`,
      );
    }
    if (costUsd > MAX_COST_USD_PER_CALL) throw new ValidationError('costUsd', costUsd, `more than ${MAX_COST_USD_PER_CALL} USD`);
  }

  let apiKeyId: string | null = null;
  if (input.apiKey !== undefined && input.apiKey !== null && input.apiKey !== '') {
    if (typeof input.apiKey !== 'string') throw new ValidationError('apiKey', input.apiKey, 'must be a string', { secret: true });
    apiKeyId = keyIdOf(input.apiKey);
  } else {
    apiKeyId = label(input.apiKeyId, 'apiKeyId');
  }

  const errorMessageRaw = input.errorMessage;
  if (errorMessageRaw !== undefined && errorMessageRaw !== null && typeof errorMessageRaw !== 'string') {
    throw new ValidationError('errorMessage', errorMessageRaw, 'must be a string');
  }
  const errorType = label(input.errorType, 'errorType');
  if (input.error !== undefined && typeof input.error !== 'boolean') {
    throw new ValidationError('error', input.error, 'must be a boolean');
  }
  const error = input.error ?? (errorType !== null || (errorMessageRaw !== undefined && errorMessageRaw !== ''));
  // The call's own key is redacted whatever its shape (a 401 may echo it), before the message is
  // cut: a key across the cut would leave its first part. Twice the length bounds the work.
  const key = typeof input.apiKey === 'string' && input.apiKey !== '' ? input.apiKey : undefined;
  const errorMessage =
    errorMessageRaw === undefined || errorMessageRaw === null || errorMessageRaw === ''
      ? null
      : redactSecrets(errorMessageRaw.slice(0, 2 * MAX_ERROR_MESSAGE_LENGTH), key).slice(0, MAX_ERROR_MESSAGE_LENGTH);
  let metadata = metadataOf(input.metadata);
  if (error && key !== undefined && metadata !== null) metadata = redactValues(metadata, key);

  record.timestamp = timestampOf(input.timestamp);
  record.provider = provider;
  record.serviceType = st;
  record.model = model;
  record.requestModel = label(input.requestModel, 'requestModel');
  record.operation = label(input.operation, 'operation') ?? DEFAULT_OPERATION[st];
  record.costUsd = costUsd;
  record.apiKeyId = apiKeyId;
  record.userId = label(input.userId, 'userId');
  record.threadId = label(input.threadId, 'threadId');
  record.agent = label(input.agent, 'agent');
  record.durationMs = durationMs;
  record.error = error;
  record.errorMessage = errorMessage;
  record.errorType = error ? (errorType ?? 'error') : null;
  record.metadata = metadata;
  record.inputCostUsd = inputCostUsd;
  record.outputCostUsd = outputCostUsd;
  checkParts(record);
  return record;
}

/** The error of the part-of rule `i` broken: `part` above its `whole` (less the other part, `plus`). */
function partError(i: number, part: number, whole: number | null, plus: number | null): ValidationError {
  const rule = PART_RULES[i] as PartRule;
  const reason =
    rule.plus === undefined
      ? `more than ${rule.of} (${whole}), which includes them`
      : `with ${plus} ${rule.plus}, more than ${rule.of} (${whole}), which includes both`;
  return new ValidationError(rule.part, part, reason);
}

/**
 * Each count that is part of another is no more than it (with the other parts it is disjoint
 * from): above, it is a bug in the caller. The rules are the table's (usage-fields.ts). A part
 * whose whole is unknown waits for it, but those that need their whole (the one-hour cache writes,
 * the cached audio) take it as 0.
 *
 * The checks are written out from the table once, at load, as one function reading each field by
 * name: this runs for every call, and a loop over the rules reading `r[rule.part]` (a lookup by a
 * different name each time) made validateUsage about twice as slow (measured; bench/record.ts).
 */
function compilePartChecks(): (r: ValidUsage) => void {
  const name = (f: string) => `r.${identifier(f)}`;
  const body = PART_RULES.map((rule, i) => {
    const whole = name(rule.of);
    const test =
      rule.needsWhole === true
        ? `w = ${whole}; q = ${rule.plus === undefined ? 0 : `${name(rule.plus)} ?? 0`}; if (p + q > (w ?? 0))`
        : `w = ${whole}; q = ${rule.plus === undefined ? 0 : `${name(rule.plus)} ?? 0`}; if (w !== null && p + q > w)`;
    return `p = ${name(rule.part)}; if (p !== null) { ${test} throw fail(${i}, p, w, ${rule.plus === undefined ? 'null' : 'q'}); }`;
  });
  return new Function('fail', `'use strict'; return function checkParts(r) { let p, w, q; ${body.join('\n')} };`)(partError);
}

const checkParts = compilePartChecks();
