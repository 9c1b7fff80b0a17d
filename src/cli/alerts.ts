import { num, percent, usd } from '../reports/format.ts';
import { shortTime } from './ledger.ts';
import { toJson } from './output.ts';
import { type LimitStatus, statusOf, statusTable } from './status.ts';

/** Something that needs attention: a subscription limit or budget past its warning threshold. */
export interface CliAlert {
  level: 'warning' | 'critical' | 'exceeded';
  source: 'subscription_limit' | 'budget';
  provider: string | null;
  message: string;
  limit: LimitStatus;
}

const SEVERITY = { exceeded: 3, critical: 2, warning: 1, ok: 0 } as const;

/** The limits at warning, critical or exceeded level, most severe (then most used) first. */
export function collectAlerts(statuses: readonly LimitStatus[]): CliAlert[] {
  const amount = (s: LimitStatus, v: number) => (s.unit === 'usd' ? usd(v) : `${num(v)} tokens`);
  return statuses
    .filter((s) => s.level !== 'ok')
    .sort((a, b) => SEVERITY[b.level] - SEVERITY[a.level] || b.percentUsed - a.percentUsed)
    .map((s) => ({
      level: s.level as CliAlert['level'],
      source: s.limitType === null ? 'budget' : 'subscription_limit',
      provider: s.provider,
      message: `${s.provider ?? `${s.scope} ${s.scopeId}`} ${s.limitType ?? `${s.window} ${s.unit} budget`}: ${amount(s, s.used)} of ${amount(s, s.limit)} used (${percent(s.percentUsed / 100)})${
        s.resetsAt === null ? '' : `, resets ${shortTime(s.resetsAt)}`
      }`,
      limit: s,
    }));
}

export interface AlertsArgs {
  dir?: string | undefined;
  json?: boolean | undefined;
}

/** `tokenmeter alerts`: what needs attention, most severe first. */
export async function alertsCommand(args: AlertsArgs, out: (s: string) => void): Promise<number> {
  const alerts = collectAlerts((await statusOf(args.dir)).statuses);
  if (args.json) out(toJson(alerts));
  else if (alerts.length === 0) out('No alerts.');
  else out(statusTable(alerts.map((a) => a.limit)));
  return 0;
}
