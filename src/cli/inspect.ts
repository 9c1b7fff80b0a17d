import { readFileSync } from 'node:fs';
import { resolveDir } from '../config.ts';
import { ValidationError } from '../errors.ts';
import { picoToUsd } from '../pricing/money.ts';
import { costPico } from '../pricing/price-book.ts';
import { extractUsage, PROVIDERS } from '../providers/index.ts';
import type { Usage } from '../providers/types.ts';
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
          {
            inputTokens: usage.inputTokens ?? null,
            outputTokens: usage.outputTokens ?? null,
            cachedInputTokens: usage.cachedInputTokens ?? null,
            cacheWriteTokens: usage.cacheWriteTokens ?? null,
            cacheWrite1hTokens: usage.cacheWrite1hTokens ?? null,
            inputAudioTokens: usage.inputAudioTokens ?? null,
            cachedAudioTokens: usage.cachedAudioTokens ?? null,
            outputAudioTokens: usage.outputAudioTokens ?? null,
            outputImageTokens: usage.outputImageTokens ?? null,
            totalTokens: usage.totalTokens ?? null,
            searchUnits: usage.searchUnits ?? null,
            webSearches: usage.webSearches ?? null,
            error: false,
          },
          usage.serviceTier,
        );
  return { usage, costUsd: pico === null ? null : picoToUsd(pico), priceSource: price?.sourceDetail ?? null };
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
  const n = (v: number | undefined) => (v === undefined ? 'unknown' : v.toLocaleString('en-US'));
  const lines = [
    `provider        ${u.provider}`,
    `model           ${u.model ?? 'unknown'}${u.requestModel !== undefined && u.requestModel !== u.model ? ` (requested ${u.requestModel})` : ''}`,
    `kind            ${u.serviceType} / ${u.operation}`,
    `usage           ${u.usageSource}${u.partial ? ', partial (the stream ended early)' : ''}`,
    `input tokens    ${n(u.inputTokens)}`,
    `  cached        ${n(u.cachedInputTokens)}`,
    `  cache write   ${n(u.cacheWriteTokens)}${u.cacheWrite1hTokens ? ` (${n(u.cacheWrite1hTokens)} for 1 hour)` : ''}`,
  ];
  // Audio counts only for the calls that had audio (OpenAI reports 0 on every chat completion), which bill them apart.
  if (u.inputAudioTokens)
    lines.push(`  audio         ${n(u.inputAudioTokens)}${u.cachedAudioTokens ? ` (${n(u.cachedAudioTokens)} cached)` : ''}`);
  lines.push(`output tokens   ${n(u.outputTokens)}`, `  reasoning     ${n(u.reasoningTokens)}`);
  if (u.outputAudioTokens) lines.push(`  audio         ${n(u.outputAudioTokens)}`);
  if (u.outputImageTokens) lines.push(`  images        ${n(u.outputImageTokens)}`);
  lines.push(`total tokens    ${n(u.totalTokens)}`);
  if (u.searchUnits !== undefined) lines.push(`search units    ${n(u.searchUnits)}`);
  if (u.webSearches !== undefined) lines.push(`web searches    ${n(u.webSearches)}`);
  if (u.serviceTier !== undefined) lines.push(`service tier    ${u.serviceTier}`);
  lines.push(
    `cost            ${r.costUsd === null ? 'unknown (no price, or usage not reported)' : `$${r.costUsd.toFixed(8).replace(/0+$/, '').replace(/\.$/, '')}`}`,
  );
  if (r.priceSource !== null) lines.push(`price from      ${r.priceSource}`);
  if (u.unread !== undefined && u.unread.length > 0) lines.push(`could not read  ${u.unread.join(', ')}`);
  out(lines.join('\n'));
  return 0;
}
