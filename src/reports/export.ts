import { once } from 'node:events';
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { ValidationError } from '../errors.ts';
import { RECORD_COLUMNS, toSnakeRecord } from '../ledger/columns.ts';
import { bigPicoToUsd } from '../ledger/rollup.ts';
import type { LedgerStore, Totals } from '../ledger/types.ts';
import type { UsageRecord } from '../usage.ts';
import { type ReportQuery, resolveQuery } from './query.ts';
import { type BreakdownRow, providerSummaries, summary } from './reports.ts';

export type ExportFormat = 'csv' | 'json';

export interface ExportOptions extends ReportQuery {
  /** @default from the file name's extension, else csv */
  format?: ExportFormat;
  /** Called every 1,000 records (and at the end) with how many are written and how many there are in all. */
  onProgress?: (done: number, total: number) => void;
}

export interface ExportResult {
  path: string;
  format: ExportFormat;
  records: number;
}

/**
 * A CSV cell: quoted when it holds a quote, comma or line break (RFC 4180). A text cell that a
 * spreadsheet would run as a formula (starting with = + - @, a tab or a carriage return) gets a
 * leading apostrophe, as OWASP advises for CSV injection; numbers are left alone.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  let s = typeof value === 'string' ? value : JSON.stringify(value);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function csvLine(r: UsageRecord): string {
  const o = toSnakeRecord(r);
  return `${RECORD_COLUMNS.map(([, name]) => csvCell(o[name])).join(',')}\r\n`;
}

export const CSV_HEADER = `${RECORD_COLUMNS.map(([, name]) => name).join(',')}\r\n`;

async function put(out: Writable, chunk: string): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain');
}

/** Keys to snake_case and exact picodollar sums to strings, for the JSON export's statistics. */
function snake(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(snake);
  if (typeof v !== 'object' || v === null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = snake(x);
  return out;
}

/** One group of the statistics, as the research tracker's `get_statistics()` gives it. */
interface GroupStats {
  calls: number;
  tokens: number;
  cost_usd: number;
  input_tokens: number;
  output_tokens: number;
  errors: number;
  unpriced_calls: number;
  /** The cost's input and output sides, of the calls whose split is known. */
  input_cost_usd: number;
  output_cost_usd: number;
  /** The cost of the calls whose split is unknown (kept before tokenmeter split costs, or given by the caller). */
  cost_not_split_usd: number;
  /** Per count, the calls that did not report it: the sums above are of the others, never counting those as 0. */
  calls_not_reporting: { input_tokens: number; output_tokens: number; total_tokens: number };
}

function groupStats(t: Totals): GroupStats {
  return {
    calls: t.requests,
    tokens: t.totalTokens,
    cost_usd: t.costUsd,
    input_tokens: t.inputTokens,
    output_tokens: t.outputTokens,
    errors: t.errors,
    unpriced_calls: t.unpricedRequests,
    input_cost_usd: t.inputCostUsd,
    output_cost_usd: t.outputCostUsd,
    cost_not_split_usd: bigPicoToUsd(t.costPicoUsd - t.inputCostPicoUsd - t.outputCostPicoUsd),
    calls_not_reporting: {
      input_tokens: t.unknownCounts.inputTokens,
      output_tokens: t.unknownCounts.outputTokens,
      total_tokens: t.unknownCounts.totalTokens,
    },
  };
}

/**
 * The JSON export's `statistics`: the totals and averages, by agent and by model in the shape of
 * the research workflow tracker's `export_to_json` (`total_calls`, `total_tokens`,
 * `total_cost_usd`, `average_*`, `by_agent`, `by_model`), and each provider split by service type
 * and model. Records without an agent are under `(none)`.
 */
async function statisticsOf(store: LedgerStore, options: ExportOptions, now: number): Promise<Record<string, unknown>> {
  const [byAgent, byModel, byProvider] = await Promise.all([
    summary(store, { ...options, by: 'agent' }, now),
    summary(store, { ...options, by: 'model' }, now),
    providerSummaries(store, options, now),
  ]);
  const t = byModel.total;
  const groups = (rows: BreakdownRow[]) => Object.fromEntries(rows.map((r) => [r.key ?? '(none)', groupStats(r)]));
  return {
    total_calls: t.requests,
    total_tokens: t.totalTokens,
    total_cost_usd: t.costUsd,
    total_input_cost_usd: t.inputCostUsd,
    total_output_cost_usd: t.outputCostUsd,
    cost_not_split_usd: bigPicoToUsd(t.costPicoUsd - t.inputCostPicoUsd - t.outputCostPicoUsd),
    average_tokens_per_call: t.requests === 0 ? 0 : t.totalTokens / t.requests,
    average_cost_per_call: t.requests === 0 ? 0 : bigPicoToUsd(t.costPicoUsd / BigInt(t.requests)),
    unpriced_calls: t.unpricedRequests,
    by_agent: groups(byAgent.rows),
    by_model: groups(byModel.rows),
    by_provider: snake(byProvider),
  };
}

/**
 * Writes the records of a range to a file, streaming (a page of records at a time, so exports
 * larger than memory work), into a temporary file renamed into place at the end: a cut-short
 * export leaves no half file behind. CSV has one row per record with snake_case headers; JSON is
 * `{ exported_at, period, statistics, records }`.
 */
export async function exportRecords(
  store: LedgerStore,
  path: string,
  options: ExportOptions = {},
  now = Date.now(),
): Promise<ExportResult> {
  const format = options.format ?? (path.toLowerCase().endsWith('.json') ? 'json' : 'csv');
  if (format !== 'csv' && format !== 'json') throw new ValidationError('format', format, 'must be csv or json');
  const filter = resolveQuery(options, now);
  const total = await store.count(filter);
  const tmp = `${path}.${process.pid}.partial`;
  const out = createWriteStream(tmp);
  let done = 0;
  try {
    if (format === 'csv') {
      await put(out, CSV_HEADER);
    } else {
      const head = {
        exported_at: new Date(now).toISOString(),
        period: {
          since: filter.since === undefined ? null : new Date(filter.since).toISOString(),
          until: new Date(filter.until).toISOString(),
        },
        statistics: await statisticsOf(store, options, now),
      };
      await put(out, `${JSON.stringify(head, null, 2).slice(0, -2)},\n  "records": [`);
    }
    for await (const r of store.iterate(filter)) {
      await put(out, format === 'csv' ? csvLine(r) : `${done === 0 ? '\n' : ',\n'}    ${JSON.stringify(toSnakeRecord(r))}`);
      done++;
      if (done % 1000 === 0) options.onProgress?.(done, total);
    }
    if (format === 'json') await put(out, `${done === 0 ? '' : '\n  '}]\n}\n`);
    out.end();
    await once(out, 'finish');
    renameSync(tmp, path);
  } catch (error) {
    out.destroy();
    rmSync(tmp, { force: true });
    throw error;
  }
  options.onProgress?.(done, total);
  return { path, format, records: done };
}
