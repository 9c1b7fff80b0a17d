import type { BreakdownRow, SessionStats } from './reports.ts';

/** Left blocks of 1/8 to 7/8 of a cell: https://en.wikipedia.org/wiki/Block_Elements */
const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'] as const;

/** A share (0..1) as a bar of `width` cells, to an eighth of a cell; past 1 it is full. Always `width` long. */
export function bar(share: number, width = 10): string {
  const s = Number.isNaN(share) ? 0 : Math.min(1, Math.max(0, share));
  const eighths = Math.round(s * width * 8);
  return `${'█'.repeat(Math.floor(eighths / 8))}${EIGHTHS[eighths % 8]}`.padEnd(width);
}

/** A share (0..1) as a percentage with one decimal: `42.1%`. */
export function percent(share: number): string {
  return Number.isFinite(share) ? `${(share * 100).toFixed(1)}%` : '∞%';
}

/** A share as a bar and its percentage: `████▎      42.1%`. */
export function shareBar(share: number, width = 10): string {
  return `${bar(share, width)} ${percent(share).padStart(6)}`;
}

/** USD to four decimals with thousands separators: `$1,234.5678`; a cost too small to show is `<$0.0001`, not `$0.0000`. */
export function usd(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (value > 0 && value < 0.00005) return '<$0.0001';
  const s = Math.abs(value).toLocaleString('en-US', { minimumFractionDigits: 4, maximumFractionDigits: 4 });
  return `${value < 0 ? '-' : ''}$${s}`;
}

/** A count with thousands separators, to at most `decimals` places: `12,345` or `1,028.5`. */
export function num(value: number, decimals = 0): string {
  return value.toLocaleString('en-US', { maximumFractionDigits: decimals });
}

/**
 * A summed count as text: `?` when none of the `requests` reported it, `≥1,234` when `unknown` of
 * them did not (the sum is of those that did), else the sum. An unknown count is never shown as 0.
 */
export function countText(sum: number, unknown: number, requests: number): string {
  if (unknown <= 0) return num(sum);
  return unknown >= requests ? '?' : `≥${num(sum)}`;
}

/** A duration: `450ms`, `12.3s`, `4m 05s`, `1h 02m 03s`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m ${two(s % 60)}s`;
  return `${Math.floor(s / 3600)}h ${two(Math.floor(s / 60) % 60)}m ${two(s % 60)}s`;
}

/** Rows of cells as aligned text columns; columns listed in `right` are right-aligned. */
export function columns(rows: readonly (readonly string[])[], right: readonly number[] = [], indent = '  '): string[] {
  const widths: number[] = [];
  for (const r of rows) {
    for (const [i, c] of r.entries()) widths[i] = Math.max(widths[i] ?? 0, c.length);
  }
  return rows.map((r) =>
    `${indent}${r.map((c, i) => (right.includes(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ')}`.trimEnd(),
  );
}

function shares(title: string, rows: readonly BreakdownRow[], byCost: boolean): string[] {
  const head = [title, 'calls', 'tokens', 'cost', `share of ${byCost ? 'cost' : 'tokens'}`];
  const body = rows.map((r) => [
    `  ${r.key ?? '(none)'}`,
    num(r.requests),
    countText(r.totalTokens, r.unknownCounts.totalTokens, r.requests),
    r.unpricedRequests === r.requests ? 'unpriced' : usd(r.costUsd),
    shareBar(r.share),
  ]);
  return ['', ...columns([head, ...body], [1, 2, 3])];
}

/**
 * The cost report of a session (the research-workflow seed's): calls, tokens, cost, averages per
 * call, each agent's and model's share, budget use when a budget was given, and duration.
 */
export function formatCostReport(stats: SessionStats): string {
  if (stats.calls === 0) return 'Cost report: no calls recorded.';
  const when = stats.startedAt === null ? '' : `, ${stats.startedAt} to ${stats.endedAt}`;
  const lines = [`Cost report${when}`];
  const u = stats.unknownCounts;
  const facts: string[][] = [
    ['Duration', duration(stats.durationMs)],
    ['Calls', `${num(stats.calls)}${stats.errors > 0 ? ` (${num(stats.errors)} failed)` : ''}`],
    [
      'Tokens',
      `${countText(stats.totalTokens, u.totalTokens, stats.calls)} (${countText(stats.inputTokens, u.inputTokens, stats.calls)} input, ${countText(stats.outputTokens, u.outputTokens, stats.calls)} output)`,
    ],
    ['Cost', usd(stats.costUsd)],
    ['Per call', `${num(stats.avgTokensPerCall, 1)} tokens, ${usd(stats.avgCostPerCall)}`],
  ];
  const b = stats.budget;
  if (b !== null) {
    facts.push([
      'Budget',
      `${shareBar(b.utilization)} of ${usd(b.limitUsd)}: ${usd(b.usedUsd)} used, ${usd(b.remainingUsd)} left${b.utilization >= 1 ? ' (exceeded)' : ''}`,
    ]);
  }
  lines.push(...columns(facts));
  if (u.inputTokens > 0 || u.outputTokens > 0 || u.totalTokens > 0) {
    lines.push('', '? : no call reported the count; ≥ : the sum of the calls that did (an unknown count is never taken for 0).');
  }
  const byCost = stats.costUsd > 0;
  lines.push(...shares('By agent', stats.byAgent, byCost), ...shares('By model', stats.byModel, byCost));
  return lines.join('\n');
}
