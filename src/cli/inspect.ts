import { readFileSync } from 'node:fs';
import { resolveDir } from '../config.ts';
import { ValidationError } from '../errors.ts';
import { picoToUsd } from '../pricing/money.ts';
import { costPico } from '../pricing/price-book.ts';
import { extractUsage, PROVIDERS } from '../providers/index.ts';
import type { Usage } from '../providers/types.ts';
import { COUNT_FIELDS, type CountField, fieldSpec, type InspectLine } from '../usage-fields.ts';
import { cliPriceBook } from './pricing.ts';

export interface InspectArgs {
  file: string;
  provider: string;
  request?: string | undefined;
  dir?: string | undefined;
  json?: boolean | undefined;
}

function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ValidationError(what, path, `cannot be read: ${(cause as Error).message}`, { cause });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new ValidationError(what, path, `is not JSON: ${(cause as Error).message}`, { cause });
  }
}

/** Reads a saved response (JSON) or stream (SSE or NDJSON text) the way tokenmeter would. */
export function inspectFile(args: InspectArgs): { usage: Usage; costUsd: number | null; priceSource: string | null } {
  let text: string;
  try {
    text = readFileSync(args.file, 'utf8');
  } catch (cause) {
    throw new ValidationError('file', args.file, `cannot be read: ${(cause as Error).message}`, { cause });
  }
  const request = args.request === undefined ? undefined : readJsonFile(args.request, 'request');
  let response: unknown;
  let stream: string | undefined;
  try {
    response = JSON.parse(text);
  } catch {
    // Not one JSON document: a stream (SSE, or NDJSON with one document per line).
    stream = text;
  }
  const usage = extractUsage({ provider: args.provider, request, ...(stream === undefined ? { response } : { stream }) });
  const model = usage.model ?? usage.requestModel;
  const book = cliPriceBook(resolveDir(args.dir));
  const price = model === undefined ? null : book.resolve(args.provider, model);
  const pico =
    price === null
      ? null
      : costPico(
          price,
          // Every count of the table of record fields, unknown ones null.
          {
            ...(Object.fromEntries(COUNT_FIELDS.map((f) => [f, (usage as Partial<Record<CountField, number>>)[f] ?? null])) as Record<
              CountField,
              number | null
            >),
            error: false,
          },
          usage.serviceTier,
        );
  return { usage, costUsd: pico === null ? null : picoToUsd(pico), priceSource: price?.sourceDetail ?? null };
}

/** A count's line is shown: always, when the provider sent it, or when above 0 (audio: OpenAI reports 0 on every chat completion). */
function shown(line: InspectLine, v: number | undefined): boolean {
  const show = line.show ?? 'always';
  return show === 'always' || (show === 'known' ? v !== undefined : v !== undefined && v > 0);
}

/**
 * The counts' lines, from the table of record fields: each count under the one that includes it
 * (those always shown first), and those marked `inside` in brackets after it: `300 (100 for 1 hour)`.
 */
export function countLines(u: Usage): string[] {
  const counts = u as unknown as Partial<Record<CountField, number>>;
  const n = (v: number | undefined) => (v === undefined ? 'unknown' : v.toLocaleString('en-US'));
  const lines: string[] = [];
  const add = (field: CountField, depth: number) => {
    const line = fieldSpec(field).inspect as InspectLine;
    const v = counts[field];
    const inside = COUNT_FIELDS.filter((f) => fieldSpec(f).inspect?.under === field && fieldSpec(f).inspect?.inside === true)
      .filter((f) => shown(fieldSpec(f).inspect as InspectLine, counts[f]))
      .map((f) => ` (${n(counts[f])} ${fieldSpec(f).inspect?.label})`);
    lines.push(`${`${'  '.repeat(depth)}${line.label}`.padEnd(16)}${n(v)}${inside.join('')}`);
    const children = COUNT_FIELDS.filter((f) => fieldSpec(f).inspect?.under === field && fieldSpec(f).inspect?.inside !== true);
    // Those always shown first: `cached`, `cache write`, then `audio` when there is some.
    children.sort((a, b) => +(fieldSpec(a).inspect?.show !== undefined) - +(fieldSpec(b).inspect?.show !== undefined));
    for (const c of children) if (shown(fieldSpec(c).inspect as InspectLine, counts[c])) add(c, depth + 1);
  };
  for (const f of COUNT_FIELDS) {
    const line = fieldSpec(f).inspect;
    if (line !== undefined && line.under === undefined && shown(line, counts[f])) add(f, 0);
  }
  return lines;
}

/** `tokenmeter inspect <file> --provider <id>`. */
export function inspectCommand(args: InspectArgs, out: (s: string) => void): number {
  if (!PROVIDERS.includes(args.provider)) {
    out(`note: "${args.provider}" has no converter of its own; reading it as OpenAI-compatible (providers: ${PROVIDERS.join(', ')})`);
  }
  const r = inspectFile(args);
  if (args.json) {
    out(JSON.stringify({ ...r.usage, costUsd: r.costUsd, priceSource: r.priceSource }, null, 2));
    return 0;
  }
  const u = r.usage;
  const lines = [
    `provider        ${u.provider}`,
    `model           ${u.model ?? 'unknown'}${u.requestModel !== undefined && u.requestModel !== u.model ? ` (requested ${u.requestModel})` : ''}`,
    `kind            ${u.serviceType} / ${u.operation}`,
    `usage           ${u.usageSource}${u.partial ? ', partial (the stream ended early)' : ''}`,
    ...countLines(u),
  ];
  if (u.serviceTier !== undefined) lines.push(`service tier    ${u.serviceTier}`);
  lines.push(
    `cost            ${r.costUsd === null ? 'unknown (no price, or usage not reported)' : `$${r.costUsd.toFixed(8).replace(/0+$/, '').replace(/\.$/, '')}`}`,
  );
  if (r.priceSource !== null) lines.push(`price from      ${r.priceSource}`);
  if (u.unread !== undefined && u.unread.length > 0) lines.push(`could not read  ${u.unread.join(', ')}`);
  out(lines.join('\n'));
  return 0;
}
