import { picoToUsd } from '../pricing/money.ts';
import type { ResolvedPrice } from '../pricing/types.ts';
import { HOUR_MS } from '../time.ts';
import { cachingFact, cheaperTiers, DISCOUNT_MODES } from './facts.ts';
import { example, fmt, type Group, item, label, money, type Prices, pct, perM, type Rule, round, scanned, usdOf } from './rule-context.ts';
import { medianMad, outlierBound, percentileSorted } from './stats.ts';
import type { AdviceKind } from './types.ts';

const LOW_CACHED_SHARE = 0.1;
const DOMINANT_SHARE = 0.5;
const CEILING_PERCENTILE = 0.9;
const BULK_BUSY_SHARE = 0.8;
const BULK_MAX_HOUR_SHARE = 0.1;
const BULK_MIN_CALLS_PER_HOUR = 60;
const RETRY_GAP_MS = 60_000;

/** Caching-capable model, prompts above the provider's minimum, little of them cached. */
const promptCaching: Rule = (ctx) => {
  const { g, price } = ctx;
  const fact = cachingFact(g.provider, g.model);
  const input = price?.input?.base;
  const read = price?.cacheRead?.base;
  // A group that writes to the cache has caching on: whether it pays is the cache-writes rule's to say.
  if (fact === null || input === undefined || read === undefined || read >= input || g.input === 0 || g.written > 0) return [];
  const cachedShare = g.cached / g.input;
  if (cachedShare >= LOW_CACHED_SHARE) return [];
  const s = scanned(ctx);
  if (s === null) return [];
  let eligibleCalls = 0;
  let uncached = 0;
  for (const r of s.rows) {
    if ((r.inputTokens ?? 0) < fact.minTokens) continue;
    eligibleCalls++;
    uncached += Math.max(0, (r.inputTokens ?? 0) - (r.cachedInputTokens ?? 0) - (r.cacheWriteTokens ?? 0));
  }
  if (eligibleCalls === 0) return [];
  const tokens = uncached * s.scale;
  const pico = ctx.cacheableShare * tokens * (input - read);
  const share = pct(ctx.cacheableShare);
  return [
    item(ctx, 'prompt-caching', pico, {
      title: 'Prompt caching unused',
      evidence: {
        calls: g.requests,
        callsAtOrAboveMinimum: Math.round(eligibleCalls * s.scale),
        meanInputTokens: Math.round(g.input / g.requests),
        cachedShare: round(cachedShare),
        cachingMinimumTokens: fact.minTokens,
        uncachedInputTokensAboveMinimum: Math.round(tokens),
        assumedCacheableShare: ctx.cacheableShare,
        inputUsdPerMillion: perM(input),
        cachedUsdPerMillion: perM(read),
      },
      estimate: true,
      summary: `${fmt(eligibleCalls * s.scale)} of ${fmt(g.requests)} calls of ${label(g)} send at least ${fmt(fact.minTokens)} input tokens (the provider's caching minimum) but only ${pct(cachedShare)} of their input was read from the cache; if ${share} of it were cached, it would cost $${perM(read)} instead of $${perM(input)} per 1M tokens.`,
      action:
        fact.mode === 'explicit'
          ? 'Mark the stable start of the prompt (system prompt, tools, documents) with cache_control and keep what changes after it. Cache writes cost extra (1.25x input for 5 minutes), so the saving holds when the prefix is reused within the cache lifetime.'
          : 'Caching is automatic above the minimum: put the stable part (system prompt, tools, examples) first and what changes per call last, keep it byte-identical between calls, and send calls that share it close together (OpenAI: a prompt_cache_key).',
      source: fact.source,
    }),
  ];
};

/** Cache writes that cost more (their premium over input) than their reads saved. */
const cacheWritesUnread: Rule = (ctx) => {
  const { g, price } = ctx;
  const input = price?.input?.base;
  const write = price?.cacheWrite?.base;
  if (input === undefined || write === undefined || write <= input || g.written === 0) return [];
  const read = price?.cacheRead?.base ?? input;
  const premium = g.written * (write - input);
  const saved = g.cached * (input - read);
  if (premium <= saved) return [];
  return [
    item(ctx, 'cache-writes-unread', premium - saved, {
      title: 'Cache writes rarely read back',
      evidence: {
        calls: g.requests,
        cacheWriteTokens: g.written,
        cacheReadTokens: g.cached,
        readsPerWrite: round(g.cached / g.written, 3),
        writePremiumUsd: usdOf(premium),
        readSavingsUsd: usdOf(saved),
      },
      estimate: false,
      summary: `${label(g)} wrote ${fmt(g.written)} tokens to the cache and read back ${fmt(g.cached)}: the writes' premium (${money(picoToUsd(premium))}) is more than the reads saved (${money(picoToUsd(saved))}).`,
      action:
        'The cached prefix is rarely reused within its lifetime: stop marking it (or mark a shorter, stabler prefix), move what changes per call after the breakpoint, or send the calls that share it closer together.',
    }),
  ];
};

/** The price of a group's tokens on another model, from the aggregate counts (base rates). */
function repriced(g: Group, p: ResolvedPrice | null): number | null {
  if (p?.input === undefined || (g.output > 0 && p.output === undefined)) return null;
  const fresh = Math.max(0, g.input - g.cached - g.written);
  const read = p.cacheRead ?? p.input;
  const write = p.cacheWrite ?? p.input;
  return fresh * p.input.base + g.cached * read.base + g.written * write.base + g.output * (p.output?.base ?? 0);
}

/** What the same tokens would have cost on the provider's cheaper tiers of the model's family. */
const cheaperModel =
  (prices: Prices): Rule =>
  (ctx) => {
    const { g } = ctx;
    if (g.unpriced > 0 || g.costPico <= 0n) return [];
    const current = Number(g.costPico);
    const alternatives: { model: string; usd: number; pico: number }[] = [];
    for (const m of cheaperTiers(g.provider, g.model)) {
      const pico = repriced(g, prices(g.provider, m));
      if (pico !== null && pico < current) alternatives.push({ model: m, usd: usdOf(pico), pico });
    }
    const next = alternatives[0];
    if (next === undefined) return [];
    return [
      item(ctx, 'cheaper-model', current - next.pico, {
        title: `What-if: ${next.model} instead of ${g.model}`,
        evidence: {
          calls: g.requests,
          inputTokens: g.input,
          outputTokens: g.output,
          currentUsd: usdOf(current),
          alternatives: alternatives.map(({ model, usd }) => ({ model, usd })),
        },
        estimate: true,
        summary: `The same tokens of ${label(g)} would have cost ${money(next.usd)} on ${next.model} instead of ${money(picoToUsd(current))} (an estimate from the same price data that ignores quality; nothing is switched).`,
        action: `Try ${next.model} on a sample of this operation's calls and compare the answers before moving it; the what-if says what it would cost, not whether it would do.`,
      }),
    ];
  };

/** Calls whose input is far above their operation's usual size. */
const promptOutliers: Rule = (ctx) => {
  const { g, price } = ctx;
  const rate = price?.input?.base;
  const s = scanned(ctx);
  if (rate === undefined || s === null) return [];
  const sized = s.rows.filter((r) => r.inputTokens !== null);
  if (sized.length < ctx.minGroupCalls) return [];
  const { median, mad } = medianMad(sized.map((r) => r.inputTokens as number));
  const bound = outlierBound(median, mad);
  const out = sized.filter((r) => (r.inputTokens as number) >= bound);
  if (out.length === 0) return [];
  let excess = 0;
  let cost = 0;
  for (const r of out) {
    const extra = ((r.inputTokens as number) - median) * rate;
    excess += r.costPicoUsd === null ? extra : Math.min(extra, r.costPicoUsd);
    cost += r.costPicoUsd ?? 0;
  }
  const examples = [...out]
    .sort((a, b) => (b.costPicoUsd ?? 0) - (a.costPicoUsd ?? 0) || (b.inputTokens as number) - (a.inputTokens as number))
    .slice(0, 5)
    .map(example);
  return [
    item(ctx, 'prompt-size-outliers', excess * s.scale, {
      title: 'Prompt-size outliers',
      evidence: {
        calls: g.requests,
        scannedCalls: sized.length,
        outlierCalls: Math.round(out.length * s.scale),
        medianInputTokens: median,
        madInputTokens: mad,
        outlierFromInputTokens: Math.ceil(bound),
        outlierCostUsd: usdOf(cost * s.scale),
        inputUsdPerMillion: perM(rate),
      },
      estimate: false,
      summary: `${fmt(out.length * s.scale)} calls of ${label(g)} sent at least ${fmt(Math.ceil(bound))} input tokens against a median of ${fmt(median)} (MAD ${fmt(mad)}); they cost ${money(picoToUsd(cost * s.scale))}, of which the input above the median is the figure here.`,
      action:
        'Look at the example calls: an unbounded history, a whole document or a retrieval without a top-k limit usually explains them. Trim or summarise the context, cap what is retrieved, and set a size check before the call.',
      examples,
    }),
  ];
};

/** Failed calls that were billed, and bursts of retries. */
const failures: Rule = (ctx) => {
  const { g } = ctx;
  const s = scanned(ctx);
  if (g.errors === 0 || s === null) return [];
  const failed = s.rows.filter((r) => r.error);
  if (failed.length === 0) return [];
  const billed = failed.filter((r) => (r.costPicoUsd ?? 0) > 0);
  const cost = billed.reduce((a, r) => a + (r.costPicoUsd ?? 0), 0);
  const scale = g.errors / failed.length;
  // Retry bursts: two or more failures of one caller (agent, user, thread, key) less than a minute apart.
  const last = new Map<string, { at: number; run: number }>();
  let bursts = 0;
  let largest = 0;
  for (const r of s.rows) {
    const who = `${r.agent}\u0000${r.userId}\u0000${r.threadId}\u0000${r.apiKeyId}`;
    const prev = last.get(who);
    if (!r.error) {
      last.delete(who);
      continue;
    }
    const run = prev !== undefined && r.timestamp - prev.at <= RETRY_GAP_MS ? prev.run + 1 : 1;
    if (run === 2) bursts++;
    largest = Math.max(largest, run);
    last.set(who, { at: r.timestamp, run });
  }
  const types = new Map<string, number>();
  for (const r of failed) types.set(r.errorType ?? 'unknown', (types.get(r.errorType ?? 'unknown') ?? 0) + 1);
  const top = [...types.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3);
  return [
    item(ctx, 'failures', cost * scale, {
      title: 'Failed calls that were billed',
      evidence: {
        calls: g.requests,
        failedCalls: g.errors,
        failedShare: round(g.errors / g.requests),
        billedFailedCalls: Math.round(billed.length * scale),
        retryBursts: bursts,
        largestBurst: largest,
        errorTypes: top.map(([t, n]) => `${t} (${n})`).join(', '),
      },
      estimate: false,
      summary: `${fmt(g.errors)} of ${fmt(g.requests)} calls of ${label(g)} failed (${pct(g.errors / g.requests)}), ${fmt(billed.length * scale)} of them billed; ${bursts} retry burst${bursts === 1 ? '' : 's'} (failures of one caller under a minute apart${scannedNote(s.scale)}).`,
      action: `Fix the main cause (${top[0]?.[0] ?? 'unknown'}), retry with exponential backoff and a cap, and stop a call early (timeouts, max tokens) rather than pay for an answer that is thrown away.`,
      examples: billed
        .sort((a, b) => (b.costPicoUsd ?? 0) - (a.costPicoUsd ?? 0))
        .slice(0, 5)
        .map(example),
    }),
  ];
};

function scannedNote(scale: number): string {
  return scale > 1 ? ', in the calls scanned' : '';
}

/** Reasoning (or output) tokens that dominate an operation's cost, and what a ceiling at the 90th percentile would cut. */
const ceilings: Rule = (ctx) => {
  const { g, price } = ctx;
  const rate = price?.output?.base;
  if (rate === undefined || g.costPico <= 0n) return [];
  const cost = Number(g.costPico);
  const reasoningShare = (g.reasoning * rate) / cost;
  const outputShare = (g.output * rate) / cost;
  const kind: AdviceKind | null =
    reasoningShare >= DOMINANT_SHARE ? 'reasoning-ceiling' : outputShare >= DOMINANT_SHARE ? 'output-ceiling' : null;
  if (kind === null) return [];
  const s = scanned(ctx);
  if (s === null) return [];
  const field = kind === 'reasoning-ceiling' ? 'reasoningTokens' : 'outputTokens';
  const values = s.rows.map((r) => r[field]).filter((v): v is number => v !== null);
  if (values.length < ctx.minGroupCalls) return [];
  values.sort((a, b) => a - b);
  const p50 = percentileSorted(values, 0.5);
  const p90 = percentileSorted(values, CEILING_PERCENTILE);
  let excess = 0;
  let above = 0;
  for (const v of values) {
    if (v <= p90) continue;
    excess += v - p90;
    above++;
  }
  if (above === 0) return [];
  const what = kind === 'reasoning-ceiling' ? 'reasoning' : 'output';
  const share = kind === 'reasoning-ceiling' ? reasoningShare : outputShare;
  return [
    item(ctx, kind, excess * rate * s.scale, {
      title: kind === 'reasoning-ceiling' ? 'Reasoning tokens dominate the cost' : 'Output tokens dominate the cost',
      evidence: {
        calls: g.requests,
        shareOfCost: round(share),
        [`p50${what === 'reasoning' ? 'Reasoning' : 'Output'}Tokens`]: p50,
        ceilingTokens: p90,
        maxTokens: values[values.length - 1] as number,
        callsAboveCeiling: Math.round(above * s.scale),
        outputUsdPerMillion: perM(rate),
      },
      estimate: false,
      summary: `${what[0]?.toUpperCase()}${what.slice(1)} tokens are ${pct(share)} of the cost of ${label(g)}; the median call uses ${fmt(p50)}, the 90th percentile ${fmt(p90)}, the largest ${fmt(values[values.length - 1] as number)}: a ceiling at the 90th percentile would have cut ${fmt(excess * s.scale)} tokens.`,
      action:
        kind === 'reasoning-ceiling'
          ? `Set a thinking budget or a lower reasoning effort for this operation (a ceiling near ${fmt(p90)} tokens cuts only the long tail); check the answers of the calls it would cap.`
          : `Set max_tokens near ${fmt(p90)} for this operation and ask for shorter answers (a format, a length) so that few calls are cut.`,
    }),
  ];
};

/** Work that comes in bursts (a job, not a person waiting) on a provider that sells batch or flex processing. */
const batch: Rule = (ctx) => {
  const { g } = ctx;
  const modes = DISCOUNT_MODES[g.provider];
  if (modes === undefined || modes.length === 0 || g.costPico <= 0n || g.hours.size === 0) return [];
  const counts = [...g.hours.values()].sort((a, b) => b - a);
  let busy = 0;
  let acc = 0;
  for (const c of counts) {
    busy++;
    acc += c;
    if (acc >= BULK_BUSY_SHARE * g.requests) break;
  }
  const hours = [...g.hours.keys()].map((h) => Date.parse(`${h}:00:00Z`)).filter(Number.isFinite);
  const spanned = Math.max(24, Math.round((Math.max(...hours) - Math.min(...hours)) / HOUR_MS) + 1);
  const perBusyHour = acc / busy;
  if (busy / spanned > BULK_MAX_HOUR_SHARE || perBusyHour < BULK_MIN_CALLS_PER_HOUR) return [];
  // Calls already served at a discount (metadata.service_tier flex or batch) are left out.
  const s = g.sample;
  const discounted = s.filter((r) => r.metadata?.service_tier === 'flex' || r.metadata?.service_tier === 'batch');
  const discountedShare = s.length === 0 ? 0 : discounted.length / s.length;
  const best = modes.reduce((a, b) => (b.discount > a.discount ? b : a));
  const eligible = Number(g.costPico) * (1 - discountedShare);
  const pico = eligible * best.discount;
  if (pico <= 0) return [];
  const withThread = s.length === 0 ? null : round(s.filter((r) => r.threadId !== null).length / s.length);
  return [
    item(ctx, 'batch', pico, {
      title: `Batch${modes.some((m) => m.mode === 'flex') ? ' or flex' : ''} processing for bulk work`,
      evidence: {
        calls: g.requests,
        busyHours: busy,
        hoursSpanned: spanned,
        shareOfCallsInBusyHours: round(acc / g.requests),
        callsPerBusyHour: Math.round(perBusyHour),
        callsInThreadsShare: withThread,
        alreadyDiscountedShare: round(discountedShare),
        currentUsd: usdOf(g.costPico),
        ...Object.fromEntries(modes.map((m) => [`${m.mode}Usd`, usdOf(Number(g.costPico) - eligible * m.discount)])),
      },
      estimate: false,
      summary: `${pct(acc / g.requests)} of the ${fmt(g.requests)} calls of ${label(g)} came in ${busy} of the ${spanned} hours it spans (${fmt(perBusyHour)} calls an hour): work that runs in bulk, not a person waiting. At ${g.provider}'s ${modes.map((m) => m.mode).join(' or ')} price (${pct(best.discount)} off) it would have cost ${money(picoToUsd(Number(g.costPico) - pico))} instead of ${money(usdOf(g.costPico))}.`,
      action: `If nobody waits on these answers, send them through ${modes.map((m) => m.how).join(', or ')}.`,
      source: best.source,
    }),
  ];
};

/** Every rule, with the price book the what-if prices other models with. */
export function rules(prices: Prices): Rule[] {
  return [promptCaching, cacheWritesUnread, cheaperModel(prices), promptOutliers, failures, ceilings, batch];
}
