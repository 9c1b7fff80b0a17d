import { modelFamily } from '../providers/registry.ts';
/**
 * What the providers sell that the advice leans on, in one table: where prompt caching starts
 * (per provider and model), who sells batch or flex processing at what discount, and which models
 * are a provider's cheaper tiers of one family. Each figure names the page it comes from; when a
 * provider changes one, change it here and nowhere else. Prices themselves are never here: they
 * come from the price book (genai-prices, the config file, prices set in code).
 */

/** A provider's prompt caching: the smallest prompt it caches, per model, and where that is written. */
export interface CachingFact {
  /** Prompts shorter than this (tokens) are never cached. */
  minTokens: number;
  /** How caching is switched on: `automatic` (OpenAI, Gemini implicit) or `explicit` (Anthropic's cache_control). */
  mode: 'automatic' | 'explicit';
  source: string;
}

/** Model name prefixes and their caching minimum, most specific first; the last entry of a list is its default. */
type MinimumRule = readonly [prefix: string, minTokens: number];

// https://developers.openai.com/api/docs/guides/prompt-caching : "Caching is enabled automatically
// for prompts that are 1024 tokens or longer" (gpt-4o and newer; the same service on Azure OpenAI).
const OPENAI_SOURCE = 'https://developers.openai.com/api/docs/guides/prompt-caching';
// https://platform.claude.com/docs/en/build-with-claude/prompt-caching : minimum cacheable prompt
// length: 4096 tokens for Claude Opus 4.5 and later and Haiku 4.5, 1024 for Sonnet 4.x, Opus 4 and 4.1
// and Sonnet 3.7, 2048 for Haiku 3.5 and Haiku 3. The same minimums on Bedrock:
// https://docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html
const ANTHROPIC_SOURCE = 'https://platform.claude.com/docs/en/build-with-claude/prompt-caching';
const ANTHROPIC_RULES: readonly MinimumRule[] = [
  ['claude-opus-4-5', 4096],
  ['claude-opus-4-6', 4096],
  ['claude-opus-4-7', 4096],
  ['claude-haiku-4-5', 4096],
  ['claude-sonnet-4', 1024],
  ['claude-opus-4', 1024],
  ['claude-3-7-sonnet', 1024],
  ['claude-3-5-sonnet', 1024],
  ['claude-3-5-haiku', 2048],
  ['claude-3-haiku', 2048],
  // A Claude model not listed: the largest minimum, so that the advice never claims more than may be cached.
  ['', 4096],
];
// https://ai.google.dev/gemini-api/docs/caching : implicit caching is on by default for Gemini 2.5
// and newer; minimum input 2,048 for 2.5 Pro, 4,096 for Gemini 3 Pro. 2.5 Flash 1,024 and 2.5 Flash-Lite
// 2,048 as the API enforces them (https://discuss.ai.google.dev/t/178942, the docs' table lagging).
const GEMINI_SOURCE = 'https://ai.google.dev/gemini-api/docs/caching';
const GEMINI_RULES: readonly MinimumRule[] = [
  ['gemini-2.5-flash-lite', 2048],
  ['gemini-2.5-flash', 1024],
  ['gemini-2.5-pro', 2048],
  ['gemini-3', 4096],
  ['', 4096],
];

const CACHING: Readonly<Record<string, { mode: CachingFact['mode']; source: string; rules: readonly MinimumRule[] }>> = {
  openai: { mode: 'automatic', source: OPENAI_SOURCE, rules: [['', 1024]] },
  azure_openai: { mode: 'automatic', source: OPENAI_SOURCE, rules: [['', 1024]] },
  anthropic: { mode: 'explicit', source: ANTHROPIC_SOURCE, rules: ANTHROPIC_RULES },
  aws_bedrock: { mode: 'explicit', source: ANTHROPIC_SOURCE, rules: ANTHROPIC_RULES },
  gemini: { mode: 'automatic', source: GEMINI_SOURCE, rules: GEMINI_RULES },
  vertex_ai: { mode: 'automatic', source: GEMINI_SOURCE, rules: GEMINI_RULES },
};

/** The model's family name without a Bedrock region or vendor prefix: `us.anthropic.claude-sonnet-4-...` → `claude-sonnet-4-...`. */
function bareModel(model: string): string {
  const slash = model.lastIndexOf('/');
  const m = slash >= 0 ? model.slice(slash + 1) : model;
  const dot = m.indexOf('anthropic.');
  return dot >= 0 ? m.slice(dot + 'anthropic.'.length) : m;
}

/**
 * Where prompt caching starts for a model, or null when tokenmeter knows no caching minimum for
 * its provider (then no caching advice is given). Claude on Vertex AI follows Anthropic's table.
 */
export function cachingFact(provider: string, model: string): CachingFact | null {
  const bare = bareModel(model);
  const p = provider === 'vertex_ai' && bare.startsWith('claude') ? CACHING.anthropic : CACHING[provider];
  if (p === undefined) return null;
  const rule = p.rules.find(([prefix]) => bare.startsWith(prefix));
  return rule === undefined ? null : { minTokens: rule[1], mode: p.mode, source: p.source };
}

/** Processing a provider sells at a discount for work nobody waits on. */
export interface DiscountMode {
  mode: 'batch' | 'flex';
  /** Share of the standard price taken off (0.5: half price). */
  discount: number;
  /** How to use it, in a few words. */
  how: string;
  source: string;
}

/**
 * Batch and flex processing, per provider. Not listed: providers whose discount is not documented
 * on their own pages (Groq's flex tier is priced as on-demand, https://console.groq.com/docs/flex-processing,
 * so it saves nothing).
 */
export const DISCOUNT_MODES: Readonly<Record<string, readonly DiscountMode[]>> = {
  openai: [
    {
      mode: 'batch',
      discount: 0.5,
      how: 'the Batch API (results within 24 h)',
      source: 'https://developers.openai.com/api/docs/guides/batch',
    },
    // "Tokens are priced at Batch API rates", on the models the pricing page lists for flex.
    {
      mode: 'flex',
      discount: 0.5,
      how: 'service_tier: "flex" on the same request (slower, may be refused when busy)',
      source: 'https://developers.openai.com/api/docs/guides/flex-processing',
    },
  ],
  azure_openai: [
    {
      mode: 'batch',
      discount: 0.5,
      how: 'a Global Batch deployment (results within 24 h)',
      source: 'https://learn.microsoft.com/en-us/azure/ai-foundry/openai/how-to/batch',
    },
    {
      mode: 'flex',
      discount: 0.5,
      how: 'service_tier: "flex" on a Global Standard deployment',
      source: 'https://learn.microsoft.com/azure/foundry/openai/how-to/flex-processing',
    },
  ],
  anthropic: [
    {
      mode: 'batch',
      discount: 0.5,
      how: 'the Message Batches API (most batches end within an hour, at most 24 h)',
      source: 'https://platform.claude.com/docs/en/build-with-claude/batch-processing',
    },
  ],
  gemini: [
    {
      mode: 'batch',
      discount: 0.5,
      how: 'Batch Mode (results within 24 h)',
      source: 'https://developers.googleblog.com/scale-your-ai-workloads-batch-mode-gemini-api',
    },
    {
      mode: 'flex',
      discount: 0.5,
      how: 'service_tier: "flex" (preview: variable latency, best-effort)',
      source: 'https://ai.google.dev/gemini-api/docs/flex-inference',
    },
  ],
  vertex_ai: [
    {
      mode: 'batch',
      discount: 0.5,
      how: 'batch inference (results within 24 h; not on top of cache discounts)',
      source: 'https://cloud.google.com/vertex-ai/generative-ai/docs/multimodal/batch-prediction-gemini',
    },
  ],
  aws_bedrock: [
    {
      mode: 'batch',
      discount: 0.5,
      how: 'batch inference from S3 (24 h window, no tool calling)',
      source: 'https://docs.aws.amazon.com/bedrock/latest/userguide/capacity-limits-cost-optimization.html',
    },
  ],
};

/**
 * A provider's models of one family, most capable (and dearest) first: the cheaper tiers the
 * what-if prices the same tokens on. Only families whose tiers share a generation are listed, so
 * that the comparison is the step a team would consider first.
 */
export const MODEL_TIERS: Readonly<Record<string, readonly (readonly string[])[]>> = {
  openai: [
    ['gpt-5.2', 'gpt-5-mini', 'gpt-5-nano'],
    ['gpt-5.1', 'gpt-5-mini', 'gpt-5-nano'],
    ['gpt-5', 'gpt-5-mini', 'gpt-5-nano'],
    ['gpt-4.1', 'gpt-4.1-mini', 'gpt-4.1-nano'],
    ['gpt-4o', 'gpt-4o-mini'],
    ['o3', 'o4-mini'],
  ],
  anthropic: [
    ['claude-opus-4-6', 'claude-sonnet-4-6', 'claude-haiku-4-5'],
    ['claude-opus-4-5', 'claude-sonnet-4-5', 'claude-haiku-4-5'],
    ['claude-opus-4-1', 'claude-sonnet-4-5', 'claude-haiku-4-5'],
    ['claude-opus-4', 'claude-sonnet-4', 'claude-3-5-haiku'],
    ['claude-3-7-sonnet', 'claude-3-5-haiku'],
  ],
  gemini: [['gemini-2.5-pro', 'gemini-2.5-flash', 'gemini-2.5-flash-lite']],
};

/** A dated or versioned name of a model: `gpt-4o-2024-08-06`, `claude-sonnet-4-20250514`, `gemini-2.5-pro-latest`. */
const VERSION_SUFFIX = /^[-@](?:\d{4}-?\d{2}-?\d{2}|latest|v\d+(?::\d+)?|\d{3})$/;

function tiersOf(provider: string): readonly (readonly string[])[] {
  return MODEL_TIERS[modelFamily(provider)] ?? [];
}

/** The cheaper tiers of a model (next one first), or none when it is the cheapest of its family or in none. */
export function cheaperTiers(provider: string, model: string): readonly string[] {
  const bare = bareModel(model);
  for (const family of tiersOf(provider)) {
    const i = family.findIndex((m) => bare === m || (bare.startsWith(m) && VERSION_SUFFIX.test(bare.slice(m.length))));
    if (i >= 0) return family.slice(i + 1);
  }
  return [];
}
