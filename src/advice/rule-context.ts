import { picoToUsd } from '../pricing/money.ts';
import type { ResolvedPrice } from '../pricing/types.ts';
import type { UsageRecord } from '../usage.ts';
import type { AdviceExample, AdviceItem, AdviceKind } from './types.ts';

/** The price book the ledger was priced with, for the rates of what-ifs. */
export type Prices = (provider: string, model: string) => ResolvedPrice | null;

/** The calls of one provider, model and operation in the range: the rollups' totals and the scanned sample. */
export interface Group {
  provider: string;
  model: string;
  operation: string;
  agents: Map<string | null, bigint>;
  requests: number;
  errors: number;
  input: number;
  output: number;
  cached: number;
  written: number;
  reasoning: number;
  costPico: bigint;
  unpriced: number;
  recentPico: bigint;
  recentRequests: number;
  hours: Map<string, number>;
  sample: UsageRecord[];
}

export const perM = (pico: number) => pico / 1e6;
export const round = (v: number, d = 4) => Math.round(v * 10 ** d) / 10 ** d;

/** What a rule is given: one group, its price, and the query's settings. */
export interface Ctx {
  g: Group;
  price: ResolvedPrice | null;
  cacheableShare: number;
  minGroupCalls: number;
  monthly: number;
}

function where(g: Group): AdviceItem['where'] {
  const agents = [...g.agents.entries()].sort((a, b) => (b[1] > a[1] ? 1 : b[1] < a[1] ? -1 : 0)).map(([a]) => a);
  return { provider: g.provider, model: g.model, operation: g.operation, agents };
}

/** An item of `kind` worth `pico` over the range for the context's group. */
export function item(
  ctx: Ctx,
  kind: AdviceKind,
  pico: number,
  fields: Omit<AdviceItem, 'kind' | 'where' | 'usd' | 'usdPerMonth'>,
): AdviceItem {
  const usd = picoToUsd(pico);
  return { kind, where: where(ctx.g), usd: round(usd, 6), usdPerMonth: round(usd * ctx.monthly, 6), ...fields };
}

/** The scanned calls of a group, and the factor from them to all of its calls in the range. */
export function scanned(ctx: Ctx): { rows: UsageRecord[]; scale: number } | null {
  const rows = ctx.g.sample;
  if (rows.length < ctx.minGroupCalls) return null;
  return { rows, scale: ctx.g.requests / rows.length };
}

export const usdOf = (pico: number | bigint) => round(picoToUsd(Number(pico)), 6);
export const label = (g: Group) => `${g.model} / ${g.operation}`;
export const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
export const pct = (s: number) => `${(s * 100).toFixed(1)}%`;
export const money = (usd: number) => `$${usd.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

/** A call shown as an example of what a rule found. */
export function example(r: UsageRecord): AdviceExample {
  const id = (r as { id?: unknown }).id;
  return {
    id: typeof id === 'number' ? id : null,
    timestamp: new Date(r.timestamp).toISOString(),
    inputTokens: r.inputTokens,
    costUsd: r.costUsd,
  };
}

/** One way the ledger shows money could be saved: the items it finds for a group. */
export type Rule = (ctx: Ctx) => AdviceItem[];
