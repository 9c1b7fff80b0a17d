import { configPrices, loadConfig, resolveDir } from '../config.ts';
import { picoToPerMillion, picoToUsd } from '../pricing/money.ts';
import { PriceBook } from '../pricing/price-book.ts';
import type { Rate, ResolvedPrice } from '../pricing/types.ts';

export interface PricingArgs {
  model: string;
  provider?: string | undefined;
  dir?: string | undefined;
  json?: boolean | undefined;
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

/** Text or JSON describing the price tokenmeter applies; null when no source knows the model. */
export function describePrice(p: ResolvedPrice, json: boolean): string {
  if (json) {
    return JSON.stringify(
      {
        provider: p.provider === 'auto' ? null : p.provider,
        model: p.model,
        matchedModel: p.matchedModel,
        source: p.source,
        sourceDetail: p.sourceDetail,
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

/** `tokenmeter pricing <model>`: exit code 0 when a price is known, 1 when not. */
export function pricingCommand(args: PricingArgs, out: (s: string) => void): number {
  const config = loadConfig(resolveDir(args.dir));
  const book = new PriceBook({ configPrices: configPrices(config) });
  const price = book.resolve(args.provider ?? 'auto', args.model);
  if (price === null) {
    const where = args.provider === undefined ? '' : ` for provider "${args.provider}"`;
    if (args.json) out(JSON.stringify({ provider: args.provider ?? null, model: args.model, price: null }));
    else
      out(`No price known for "${args.model}"${where}: its calls would record costUsd null. Set one in config.json "pricing" or in code.`);
    return 1;
  }
  out(describePrice(price, args.json === true));
  return 0;
}
