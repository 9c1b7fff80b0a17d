import { resolve } from 'node:path';
import { configPrices, loadConfig, resolveDir } from '../config.ts';
import type { ConfigFile } from '../config-schema.ts';
import { isPricingError } from '../errors.ts';
import { picoToPerMillion, picoToUsd } from '../pricing/money.ts';
import { PriceBook } from '../pricing/price-book.ts';
import {
  DEFAULT_PRICE_DATA_URL,
  dataAgeDays,
  describeOrigin,
  loadPriceData,
  type RefreshResult,
  refreshPriceData,
} from '../pricing/price-data.ts';
import { resolveSource } from '../pricing/price-source.ts';
import type { PriceDataOrigin, Rate, ResolvedPrice } from '../pricing/types.ts';

export interface PricingArgs {
  /** The model to show; optional with `refresh`. */
  model?: string | undefined;
  provider?: string | undefined;
  dir?: string | undefined;
  json?: boolean | undefined;
  /** Fetch newer price data first. */
  refresh?: boolean | undefined;
  /** Where to fetch it from (a URL or a file); wins over config.json `price_data.source`. */
  source?: string | undefined;
}

/** A warning line on stderr, as a monitor's logger writes it. */
function warn(message: string): void {
  process.stderr.write(`tokenmeter warn: ${message}\n`);
}

/**
 * The prices the CLI applies, as a monitor on the same dir would: config.json's, then the
 * refreshed data in the dir when there, else the bundled data (with the same warnings).
 */
export function cliPriceBook(dir: string, config: ConfigFile = loadConfig(dir)): PriceBook {
  const source = config.price_data?.source;
  return new PriceBook({
    configPrices: configPrices(config),
    data: loadPriceData(dir, warn, source === undefined ? undefined : resolveSource(source, dir)),
    maxAgeDays: config.price_data?.max_age_days,
    warn,
  });
}

function perMillion(pico: number): string {
  return `$${picoToPerMillion(pico).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 6 })} / 1M tokens`;
}

function rateLines(label: string, r: Rate | undefined, fallback: string): string[] {
  if (r === undefined) return [`  ${label.padEnd(14)} ${fallback}`];
  const lines = [`  ${label.padEnd(14)} ${perMillion(r.base)}`];
  for (const t of r.tiers)
    lines.push(`  ${''.padEnd(14)} ${perMillion(t.pico)} when a call's input exceeds ${t.start.toLocaleString('en-US')} tokens`);
  return lines;
}

function rateJson(r: Rate | undefined): unknown {
  if (r === undefined) return null;
  return {
    usdPerMillion: picoToPerMillion(r.base),
    tiers: r.tiers.map((t) => ({ aboveInputTokens: t.start, usdPerMillion: picoToPerMillion(t.pico) })),
  };
}

function originJson(o: PriceDataOrigin | undefined, now: number): unknown {
  if (o === undefined) return null;
  const age = dataAgeDays(o, now);
  return {
    kind: o.kind,
    packageVersion: o.packageVersion,
    source: o.source ?? null,
    file: o.file ?? null,
    fetchedAt: o.fetchedAt ?? null,
    sourceDate: o.sourceDate ?? null,
    asOf: o.asOf,
    ageDays: age === undefined ? null : Math.floor(age),
  };
}

/** Text or JSON describing the price tokenmeter applies; null when no source knows the model. */
export function describePrice(p: ResolvedPrice, json: boolean, now: number = Date.now()): string {
  if (json) {
    return JSON.stringify(
      {
        provider: p.provider === 'auto' ? null : p.provider,
        model: p.model,
        matchedModel: p.matchedModel,
        source: p.source,
        sourceDetail: p.sourceDetail,
        // Which genai-prices data and of which date; null for prices from config, code or tables.
        data: originJson(p.data, now),
        input: rateJson(p.input),
        cachedInput: rateJson(p.cacheRead),
        cacheWrite: rateJson(p.cacheWrite),
        output: rateJson(p.output),
        audioInput: rateJson(p.inputAudio),
        cachedAudioInput: rateJson(p.cacheAudioRead),
        audioOutput: rateJson(p.outputAudio),
        imageOutput: rateJson(p.outputImage),
        usdPerSearchUnit: p.perSearchUnit === undefined ? null : picoToUsd(p.perSearchUnit),
      },
      null,
      2,
    );
  }
  const lines = [
    `${p.model}${p.provider === 'auto' ? '' : ` (${p.provider})`}`,
    `  matched as     ${p.matchedModel}`,
    `  source         ${p.sourceDetail}`,
  ];
  if (p.data !== undefined) lines.push(`  data           ${describeOrigin(p.data, now)}`);
  if (p.perSearchUnit !== undefined) lines.push(`  search unit    $${picoToUsd(p.perSearchUnit)} each`);
  if (p.input !== undefined || p.perSearchUnit === undefined) {
    lines.push(...rateLines('input', p.input, 'not priced'));
    if (p.input !== undefined) {
      lines.push(...rateLines('cached input', p.cacheRead, 'at the input rate'));
      lines.push(...rateLines('cache write', p.cacheWrite, 'at the input rate'));
    }
    lines.push(...rateLines('output', p.output, 'not priced'));
    // Audio rates only for the models that have them; the others bill audio tokens as text.
    if (p.inputAudio !== undefined) lines.push(...rateLines('audio input', p.inputAudio, ''));
    if (p.cacheAudioRead !== undefined) lines.push(...rateLines('cached audio', p.cacheAudioRead, ''));
    if (p.outputAudio !== undefined) lines.push(...rateLines('audio output', p.outputAudio, ''));
    if (p.outputImage !== undefined) lines.push(...rateLines('image output', p.outputImage, ''));
  }
  return lines.join('\n');
}

function describeRefresh(r: RefreshResult, json: boolean): string {
  if (json) {
    const { origin, ...counts } = r;
    return JSON.stringify({ data: originJson(origin, Date.now()), ...counts }, null, 2);
  }
  const list = (names: string[]) => (names.length === 0 ? '' : `: ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', ...' : ''}`);
  return [
    `Fetched price data from ${r.origin.source}: ${r.providers} providers, ${r.models} models; kept in ${r.origin.file}, used offline from now on.`,
    `Against the data in force before: ${r.changed.length} model${r.changed.length === 1 ? '' : 's'} with changed prices${list(r.changed)}; ${r.added.length} added${list(r.added)}; ${r.removed.length} removed${list(r.removed)}.`,
  ].join('\n');
}

/**
 * `tokenmeter pricing [<model>] [--refresh]`: exit code 0 when a price is known (and a refresh
 * asked for worked), 1 when not, 2 for bad arguments.
 */
export async function pricingCommand(args: PricingArgs, out: (s: string) => void): Promise<number> {
  if (args.model === undefined && !args.refresh) {
    process.stderr.write('tokenmeter pricing: name a model (tokenmeter pricing gpt-4o), or fetch current prices with --refresh\n');
    return 2;
  }
  const dir = resolveDir(args.dir);
  const config = loadConfig(dir);
  if (args.refresh) {
    const configured = config.price_data?.source;
    const source =
      args.source !== undefined
        ? resolveSource(args.source, resolve('.'))
        : configured !== undefined
          ? resolveSource(configured, dir)
          : DEFAULT_PRICE_DATA_URL;
    try {
      const result = await refreshPriceData({ dir, source });
      // With a model too, its price follows; JSON then prints that only, so the output stays one document.
      if (args.model === undefined || !args.json) out(describeRefresh(result, args.json === true));
    } catch (error) {
      if (!isPricingError(error)) throw error;
      process.stderr.write(`tokenmeter: ${error.message}\n`);
      return 1;
    }
    if (args.model === undefined) return 0;
  } else if (args.source !== undefined) {
    process.stderr.write('tokenmeter pricing: --source goes with --refresh\n');
    return 2;
  }
  const model = args.model as string;
  const book = cliPriceBook(dir, config);
  const price = book.resolve(args.provider ?? 'auto', model);
  if (price === null) {
    const where = args.provider === undefined ? '' : ` for provider "${args.provider}"`;
    if (args.json) out(JSON.stringify({ provider: args.provider ?? null, model, price: null }));
    else out(`No price known for "${model}"${where}: its calls would record costUsd null. Set one in config.json "pricing" or in code.`);
    return 1;
  }
  out(describePrice(price, args.json === true));
  return 0;
}
