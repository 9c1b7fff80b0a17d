import { LIMIT_TYPES, type LimitType, unitOf } from '../budgets/limits.ts';
import { configPath, resolveDir, updateConfig } from '../config.ts';
import { ValidationError } from '../errors.ts';
import { num, usd } from '../reports/format.ts';
import type { CYCLES } from './args.ts';
import { toJson } from './output.ts';

export interface SetLimitArgs {
  provider: string;
  limitType: string;
  value: string;
  cycle?: (typeof CYCLES)[number] | undefined;
  resetDay?: number | undefined;
  rollingDays?: number | undefined;
  dir?: string | undefined;
  json?: boolean | undefined;
}

/** Every argument checked before anything is written, so that a bad one leaves config.json as it was. */
function check(args: SetLimitArgs): { type: LimitType; value: number; cycle: SetLimitArgs['cycle'] } {
  if (args.provider.trim() === '') throw new ValidationError('provider', args.provider, 'must not be empty');
  if (!(LIMIT_TYPES as readonly string[]).includes(args.limitType)) {
    throw new ValidationError('limit_type', args.limitType, `must be one of ${LIMIT_TYPES.join(', ')}`);
  }
  const value = Number(args.value);
  if (args.value.trim() === '' || !Number.isFinite(value) || value < 0) {
    throw new ValidationError('value', args.value, 'must be a non-negative number');
  }
  let cycle = args.cycle;
  if (args.resetDay !== undefined) {
    if (cycle !== undefined && cycle !== 'monthly')
      throw new ValidationError('--reset-day', args.resetDay, `applies to a monthly cycle, not ${cycle}`);
    cycle = 'monthly';
  }
  if (args.rollingDays !== undefined) {
    if (cycle !== undefined && cycle !== 'rolling')
      throw new ValidationError('--rolling-days', args.rollingDays, `applies to a rolling cycle, not ${cycle}`);
    cycle = 'rolling';
  }
  return { type: args.limitType as LimitType, value, cycle };
}

/** `tokenmeter set-limit <provider> <limit_type> <value>`: writes a subscription limit (and its cycle) to config.json. */
export function setLimitCommand(args: SetLimitArgs, out: (s: string) => void): number {
  const { type, value, cycle } = check(args);
  const dir = resolveDir(args.dir);
  const at = (key: string) => ['subscription_limits', args.provider, key];
  let config = updateConfig(dir, at(type), value);
  if (cycle !== undefined) config = updateConfig(dir, at('billing_cycle'), cycle);
  if (args.resetDay !== undefined) config = updateConfig(dir, at('reset_day'), args.resetDay);
  if (args.rollingDays !== undefined) config = updateConfig(dir, at('rolling_days'), args.rollingDays);
  const limits = config.subscription_limits?.[args.provider] ?? {};
  if (args.json) {
    out(toJson({ file: configPath(dir), provider: args.provider, limits }));
    return 0;
  }
  const c = limits.billing_cycle ?? 'monthly';
  const when =
    c === 'monthly'
      ? `monthly, from day ${limits.reset_day ?? 1}`
      : c === 'daily'
        ? 'daily, from 00:00 UTC'
        : `rolling, the last ${limits.rolling_days ?? 30} days`;
  out(`Set ${args.provider} ${type} to ${unitOf(type) === 'usd' ? usd(value) : `${num(value)} tokens`} (${when}) in ${configPath(dir)}.`);
  return 0;
}
