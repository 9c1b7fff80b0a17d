/**
 * The CLI's argument parsers and choices, kept apart from the commands (and free of their imports)
 * so that defining the command line loads nothing a command needs: each command's module loads
 * when it runs.
 */
import { InvalidArgumentError } from 'commander';
import type { Dimension } from '../ledger/types.ts';

/** `--days`: a positive number, fractions allowed. */
export function parseDays(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('It must be a positive number of days.');
  return n;
}

/** A positive whole number (`--limit`). */
export function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1)
    throw new InvalidArgumentError('It must be a positive whole number.');
  return n;
}

/** A non-negative amount of USD (`--budget`). */
export function parseUsd(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('It must be a non-negative amount in USD.');
  return n;
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
/** ISO 8601 as people type it: a date, or a date and time with an optional zone (none means UTC). */
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

function parseTime(value: string): number {
  const m = ISO.exec(value.trim());
  // Date.parse alone takes "1" for 2001 and 2026-02-30 for March 2nd.
  const ms = m === null ? Number.NaN : Date.parse(m[4] === undefined || m[7] !== undefined ? value.trim() : `${value.trim()}Z`);
  const day = m === null ? '' : `${m[1]}-${m[2]}-${m[3]}`;
  if (!Number.isFinite(ms) || (m?.[7] === undefined && new Date(ms).toISOString().slice(0, 10) !== day)) {
    throw new InvalidArgumentError('It must be a date (2026-05-01) or an ISO 8601 time (2026-05-01T10:00:00Z).');
  }
  return ms;
}

/** `--since`: a date (its start, UTC) or an ISO 8601 time, inclusive. */
export function parseSince(value: string): number {
  return parseTime(value);
}

/** `--until`: a date, that whole day included (UTC), or an ISO 8601 time, exclusive. */
export function parseUntil(value: string): number {
  return parseTime(value) + (DATE_ONLY.test(value) ? 86_400_000 : 0);
}

/** `--days` of cleanup: 0 or more (0 keeps only today). */
export function parseKeepDays(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('It must be a number of days, 0 or more.');
  return n;
}

export const CYCLES = ['monthly', 'daily', 'rolling'] as const;

/** A whole number in [min, max], for --reset-day and --rolling-days. */
export function intIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\s*\d+\s*$/.test(value) || n < min || n > max)
      throw new InvalidArgumentError(`It must be a whole number from ${min} to ${max}.`);
    return n;
  };
}

/** The CLI's names of the group-by dimensions, and the ledger's. */
export const BY: Record<string, Dimension> = {
  provider: 'provider',
  model: 'model',
  agent: 'agent',
  user: 'userId',
  thread: 'threadId',
  day: 'day',
  operation: 'operation',
  service_type: 'serviceType',
  key: 'apiKeyId',
};
