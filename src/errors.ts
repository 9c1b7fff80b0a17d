/**
 * tokenmeter's errors: one small named family. Each sets `name`, carries structured fields and
 * passes `cause` on. The guards check a registry-wide symbol rather than `instanceof`, so they
 * also work when two copies of the package are loaded.
 */
const BRAND = Symbol.for('tokenmeter.error');

/** Base class of every error tokenmeter throws. */
export class TokenmeterError extends Error {
  override name = 'TokenmeterError';
  readonly [BRAND] = true;
}

/** Shows a value in an error message: strings quoted, long ones cut, objects by type only. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return String(value);
  }
  if (value === null || value === undefined) return String(value);
  return Array.isArray(value) ? 'an array' : `a value of type ${typeof value}`;
}

/** Bad input to `record()`, a price override or the config file. Nothing of it was recorded. */
export class ValidationError extends TokenmeterError {
  override name = 'ValidationError';
  /** The field that was wrong, e.g. `inputTokens` or `pricing.gpt-4o.input`. */
  readonly field: string;
  /** The value given (omitted for secrets). */
  readonly value: unknown;

  /** `options.message`: `reason` is the whole message (an unknown key's, which has no bad value to show). */
  constructor(field: string, value: unknown, reason: string, options?: { secret?: boolean; cause?: unknown; message?: boolean }) {
    const shown = options?.secret ? '(redacted)' : describeValue(value);
    super(
      options?.message ? reason : `Invalid ${field}: ${shown} (${reason})`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.field = field;
    this.value = options?.secret ? undefined : value;
  }
}

/** A price that could not be read or applied; `source` names the price data it came from, if any. */
export class PricingError extends TokenmeterError {
  override name = 'PricingError';
  /** The URL or file of refreshed price data that was refused. */
  readonly source: string | undefined;

  constructor(message: string, options?: { source?: string | undefined; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.source = options?.source;
  }
}

/** True for a {@link PricingError}, from any copy of the package. */
export function isPricingError(error: unknown): error is PricingError {
  return hasBrand(error) && error.name === 'PricingError';
}

function hasBrand(error: unknown): error is TokenmeterError {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[BRAND] === true;
}

/** True for any tokenmeter error, from any copy of the package. */
export function isTokenmeterError(error: unknown): error is TokenmeterError {
  return hasBrand(error);
}

/** True for a {@link ValidationError}, from any copy of the package. */
export function isValidationError(error: unknown): error is ValidationError {
  return hasBrand(error) && error.name === 'ValidationError';
}

/** The ledger could not be opened, read or written; `location` names the file (or database). */
export class LedgerError extends TokenmeterError {
  override name = 'LedgerError';
  readonly location: string;
  /** SQLite's or the driver's error code, e.g. SQLITE_READONLY or SQLITE_FULL. */
  readonly code: string | undefined;

  constructor(location: string, message: string, options?: { cause?: unknown; code?: string | undefined }) {
    super(`${message} (ledger ${location})`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.location = location;
    this.code = options?.code;
  }
}

/** True for a {@link LedgerError}, from any copy of the package. */
export function isLedgerError(error: unknown): error is LedgerError {
  return hasBrand(error) && error.name === 'LedgerError';
}

/**
 * An instrumented call was stopped before it left the process because an enforced budget is
 * spent (or has no room for the call's estimate beside the calls in flight).
 */
export class BudgetExceededError extends TokenmeterError {
  override name = 'BudgetExceededError';
  /** The budget: scope, scope id, window and unit. */
  readonly budget: { scope: string; scopeId: string; window: string; unit: string };
  /** Used so far in the window, in the budget's unit (USD or tokens). */
  readonly used: number;
  /** Held by calls in flight, in the budget's unit. */
  readonly reserved: number;
  readonly limit: number;
  /** What the refused call was estimated to use, in the budget's unit; null when it could not be told (an unpriced model). */
  readonly estimate: number | null;
  readonly provider: string;
  readonly model: string;

  constructor(fields: {
    budget: BudgetExceededError['budget'];
    used: number;
    reserved: number;
    limit: number;
    /** @default null */
    estimate?: number | null;
    provider: string;
    model: string;
  }) {
    const b = fields.budget;
    const fmt = (v: number) => (b.unit === 'usd' ? `$${v.toFixed(4)}` : `${Math.round(v)} tokens`);
    const estimate = fields.estimate ?? null;
    const held = fields.reserved > 0 ? ` and ${fmt(fields.reserved)} held by calls in flight` : '';
    const name = `${b.window} ${b.unit} budget of ${b.scope} ${b.scopeId}`;
    const call = `the ${fields.provider} ${fields.model} call`;
    // "Spent" only when it is: a budget at 90% refuses a call because that call would not fit.
    const why =
      fields.used >= fields.limit
        ? `${name} is spent: ${fmt(fields.used)} used of ${fmt(fields.limit)}`
        : fields.used + fields.reserved >= fields.limit || estimate === null
          ? `${name} is taken: ${fmt(fields.used)} used${held} of ${fmt(fields.limit)}`
          : `${name} has no room for ${call}: ${fmt(fields.used)} used${held}, plus its estimate of ${fmt(estimate)}, would take it past its limit of ${fmt(fields.limit)}`;
    super(`${why}; ${call} was not sent`);
    this.budget = b;
    this.used = fields.used;
    this.reserved = fields.reserved;
    this.limit = fields.limit;
    this.estimate = estimate;
    this.provider = fields.provider;
    this.model = fields.model;
  }
}

/** True for a {@link BudgetExceededError}, from any copy of the package. */
export function isBudgetExceededError(error: unknown): error is BudgetExceededError {
  return hasBrand(error) && error.name === 'BudgetExceededError';
}
