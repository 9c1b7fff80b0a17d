import { calcPrice } from '@pydantic/genai-prices';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.ts';
import { GENAI_PRICES_PROVIDER } from './genai-prices.ts';
import { type BillableUsage, type CostSplit, costPico, PriceBook } from './price-book.ts';

/** An exact decimal USD string → picodollars. */
function pico(usd: string): number {
  const [whole, frac = ''] = usd.split('.');
  return Number(BigInt(whole as string) * 10n ** 12n + BigInt(frac.padEnd(12, '0')));
}

function usage(u: Partial<BillableUsage>): BillableUsage {
  return {
    inputTokens: null,
    outputTokens: null,
    cachedInputTokens: null,
    cacheWriteTokens: null,
    totalTokens: null,
    searchUnits: null,
    error: false,
    ...u,
  };
}

// Each expected cost is worked by hand from the provider's published price (USD per 1M tokens):
// fresh input + cached at the cache-read rate + cache writes at the write rate + output.
const cases: { name: string; provider: string; model: string; u: Partial<BillableUsage>; usd: string; link: string }[] = [
  // $2.50 in, $1.25 cached, $10 out: 800×2.5 + 200×1.25 + 500×10 = 7,250 µ$
  {
    name: 'gpt-4o with cached input',
    provider: 'openai',
    model: 'gpt-4o',
    u: { inputTokens: 1000, cachedInputTokens: 200, outputTokens: 500 },
    usd: '0.00725',
    link: 'https://openai.com/api/pricing/',
  },
  // A dated snapshot resolves to the same price.
  {
    name: 'gpt-4o dated',
    provider: 'openai',
    model: 'gpt-4o-2024-08-06',
    u: { inputTokens: 1000, cachedInputTokens: 200, outputTokens: 500 },
    usd: '0.00725',
    link: 'https://openai.com/api/pricing/',
  },
  // $0.15 in, $0.075 cached, $0.60 out: 6000×0.15 + 4000×0.075 + 1000×0.6 = 1,800 µ$
  {
    name: 'gpt-4o-mini',
    provider: 'openai',
    model: 'gpt-4o-mini',
    u: { inputTokens: 10000, cachedInputTokens: 4000, outputTokens: 1000 },
    usd: '0.0018',
    link: 'https://openai.com/api/pricing/',
  },
  // $2 in, $0.50 cached, $8 out; reasoning is billed as output: 1000×2 + 1000×0.5 + 3000×8 = 26,500 µ$
  {
    name: 'o3 with reasoning',
    provider: 'openai',
    model: 'o3',
    u: { inputTokens: 2000, cachedInputTokens: 1000, outputTokens: 3000 },
    usd: '0.0265',
    link: 'https://openai.com/api/pricing/',
  },
  // $0.02 per 1M
  {
    name: 'text-embedding-3-small',
    provider: 'openai',
    model: 'text-embedding-3-small',
    u: { inputTokens: 1_000_000 },
    usd: '0.02',
    link: 'https://openai.com/api/pricing/',
  },
  // $0.13 per 1M: 50,000 × 0.13 = 6,500 µ$
  {
    name: 'text-embedding-3-large',
    provider: 'openai',
    model: 'text-embedding-3-large',
    u: { inputTokens: 50000 },
    usd: '0.0065',
    link: 'https://openai.com/api/pricing/',
  },
  // Azure global deployment, as OpenAI: 1000×0.15 + 1000×0.6 = 750 µ$
  {
    name: 'azure gpt-4o-mini',
    provider: 'azure_openai',
    model: 'gpt-4o-mini',
    u: { inputTokens: 1000, outputTokens: 1000 },
    usd: '0.00075',
    link: 'https://azure.microsoft.com/en-us/pricing/details/cognitive-services/openai-service/',
  },
  // $3 in, $3.75 5-minute cache write, $0.30 cache read, $15 out: 2000×3 + 8000×0.3 + 2000×3.75 + 1000×15 = 30,900 µ$
  {
    name: 'claude-sonnet-4-5 cache read and write',
    provider: 'anthropic',
    model: 'claude-sonnet-4-5-20250929',
    u: { inputTokens: 12000, cachedInputTokens: 8000, cacheWriteTokens: 2000, outputTokens: 1000 },
    usd: '0.0309',
    link: 'https://www.anthropic.com/pricing#api',
  },
  // The same with 1,500 of the writes cached for 1 hour, at $6: 2000×3 + 8000×0.3 + 500×3.75 + 1500×6 + 1000×15 = 34,275 µ$
  {
    name: 'claude-sonnet-4-5 one-hour cache writes',
    provider: 'anthropic',
    model: 'claude-sonnet-4-5-20250929',
    u: { inputTokens: 12000, cachedInputTokens: 8000, cacheWriteTokens: 2000, cacheWrite1hTokens: 1500, outputTokens: 1000 },
    usd: '0.034275',
    link: 'https://www.anthropic.com/pricing#api',
  },
  // Web searches at $10 per 1,000 beside the tokens: 6039×3 + 931×15 = 32,082 µ$, plus 2 × $0.01
  {
    name: 'claude-sonnet-4-5 with web searches',
    provider: 'anthropic',
    model: 'claude-sonnet-4-5-20250929',
    u: { inputTokens: 6039, outputTokens: 931, webSearches: 2 },
    usd: '0.052082',
    link: 'https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/web-search-tool',
  },
  // Audio at its own rates: $2.50 text in, $32 audio in, $10 text out, $64 audio out.
  // 20×2.5 + 44×32 + 9×10 + 47×64 = 50 + 1,408 + 90 + 3,008 = 4,556 µ$ (as text only it would be 720 µ$)
  {
    name: 'gpt-audio with audio in and out',
    provider: 'openai',
    model: 'gpt-audio-2025-08-28',
    u: { inputTokens: 64, inputAudioTokens: 44, outputTokens: 56, outputAudioTokens: 47 },
    usd: '0.004556',
    link: 'https://platform.openai.com/docs/models/gpt-audio',
  },
  // The Realtime API reference's response.done usage: $4 text in, $0.40 cached, $32 audio in, $16 text out, $64 audio out.
  // 55 fresh text×4 + 64 cached text×0.4 + 13 audio×32 + 30 text out×16 + 91 audio out×64 = 220 + 25.6 + 416 + 480 + 5,824 = 6,965.6 µ$
  {
    name: 'gpt-realtime response.done',
    provider: 'openai',
    model: 'gpt-realtime',
    u: { inputTokens: 132, cachedInputTokens: 64, inputAudioTokens: 13, cachedAudioTokens: 0, outputTokens: 121, outputAudioTokens: 91 },
    usd: '0.0069656',
    link: 'https://platform.openai.com/docs/models/gpt-realtime',
  },
  // Cached audio at its own rate ($0.40): 3000 cached audio×0.4 + 1000 fresh audio×32 + 2000 cached text×0.4 + 1000 text×4
  // + 200 text out×16 + 800 audio out×64 = 1,200 + 32,000 + 800 + 4,000 + 3,200 + 51,200 = 92,400 µ$
  {
    name: 'gpt-realtime with cached audio',
    provider: 'openai',
    model: 'gpt-realtime',
    u: {
      inputTokens: 7000,
      cachedInputTokens: 5000,
      inputAudioTokens: 4000,
      cachedAudioTokens: 3000,
      outputTokens: 1000,
      outputAudioTokens: 800,
    },
    usd: '0.0924',
    link: 'https://platform.openai.com/docs/models/gpt-realtime',
  },
  // gpt-4o-realtime-preview: $5 in, $2.50 cached (text and audio), $40 audio in, $20 out, $80 audio out.
  // 500 cached audio×2.5 + 1500 audio×40 + 500 cached text×2.5 + 500 text×5 + 100×20 + 400×80 = 1,250 + 60,000 + 1,250 + 2,500 + 2,000 + 32,000 = 99,000 µ$
  {
    name: 'gpt-4o-realtime-preview with cached audio',
    provider: 'openai',
    model: 'gpt-4o-realtime-preview',
    u: {
      inputTokens: 3000,
      cachedInputTokens: 1000,
      inputAudioTokens: 2000,
      cachedAudioTokens: 500,
      outputTokens: 500,
      outputAudioTokens: 400,
    },
    usd: '0.099',
    link: 'https://platform.openai.com/docs/models/gpt-4o-realtime-preview',
  },
  // A minute of audio (32 tokens a second) and a 7-token question, as test/fixtures/gemini-audio.json: $1 audio in,
  // $0.30 text in, $2.50 out (150 text + 380 thoughts). 1920×1 + 7×0.3 + 530×2.5 = 1,920 + 2.1 + 1,325 = 3,247.1 µ$
  {
    name: 'gemini-2.5-flash audio input',
    provider: 'gemini',
    model: 'gemini-2.5-flash',
    u: { inputTokens: 1927, inputAudioTokens: 1920, outputTokens: 530 },
    usd: '0.0032471',
    link: 'https://ai.google.dev/gemini-api/docs/pricing#gemini-2.5-flash',
  },
  // Cached audio at $0.10, cached text at $0.03: 15000×0.1 + 4000×1 + 1000×0.03 + 1000×0.3 + 500×2.5 = 1,500 + 4,000 + 30 + 300 + 1,250 = 7,080 µ$
  {
    name: 'gemini-2.5-flash cached audio, some audio not cached',
    provider: 'vertex_ai',
    model: 'gemini-2.5-flash',
    u: { inputTokens: 21000, cachedInputTokens: 16000, inputAudioTokens: 19000, cachedAudioTokens: 15000, outputTokens: 500 },
    usd: '0.00708',
    link: 'https://cloud.google.com/vertex-ai/generative-ai/pricing',
  },
  // All the audio cached, as test/fixtures/gemini-audio-cached.json: 19200×0.1 + 300×0.03 + 12×0.3 + 200×2.5 = 1,920 + 9 + 3.6 + 500 = 2,432.6 µ$
  {
    name: 'gemini-2.5-flash cached audio',
    provider: 'vertex_ai',
    model: 'gemini-2.5-flash',
    u: { inputTokens: 19512, cachedInputTokens: 19500, inputAudioTokens: 19200, cachedAudioTokens: 19200, outputTokens: 200 },
    usd: '0.0024326',
    link: 'https://cloud.google.com/vertex-ai/generative-ai/pricing',
  },
  // No audio price in the data (gpt-4o-audio-preview): audio costs the text rates, 64×2.5 + 56×10 = 720 µ$.
  {
    name: 'gpt-4o-audio-preview, no audio price',
    provider: 'openai',
    model: 'gpt-4o-audio-preview-2024-12-17',
    u: { inputTokens: 64, inputAudioTokens: 44, outputTokens: 56, outputAudioTokens: 47 },
    usd: '0.00072',
    link: 'https://platform.openai.com/docs/models/gpt-4o-audio-preview',
  },
  // $0.80 in, $1 cache write, $4 out: 4000×0.8 + 1000×1 + 500×4 = 6,200 µ$
  {
    name: 'claude-3-5-haiku cache write',
    provider: 'anthropic',
    model: 'claude-3-5-haiku-20241022',
    u: { inputTokens: 5000, cacheWriteTokens: 1000, outputTokens: 500 },
    usd: '0.0062',
    link: 'https://www.anthropic.com/pricing#api',
  },
  // $15 in, $1.50 cache read, $75 out: 500×15 + 500×1.5 + 200×75 = 23,250 µ$
  {
    name: 'claude-opus-4-1',
    provider: 'anthropic',
    model: 'claude-opus-4-1',
    u: { inputTokens: 1000, cachedInputTokens: 500, outputTokens: 200 },
    usd: '0.02325',
    link: 'https://www.anthropic.com/pricing#api',
  },
  // ≤200k prompt: $1.25 in, $10 out (thinking included): 100000×1.25 + 10000×10 = 225,000 µ$
  {
    name: 'gemini-2.5-pro below its tier',
    provider: 'gemini',
    model: 'gemini-2.5-pro',
    u: { inputTokens: 100000, outputTokens: 10000 },
    usd: '0.225',
    link: 'https://ai.google.dev/gemini-api/docs/pricing#gemini-2.5-pro',
  },
  // >200k prompt: the whole call at $2.50 in, $0.25 cached, $15 out: 200000×2.5 + 100000×0.25 + 10000×15 = 675,000 µ$
  {
    name: 'gemini-2.5-pro long context tier',
    provider: 'gemini',
    model: 'gemini-2.5-pro',
    u: { inputTokens: 300000, cachedInputTokens: 100000, outputTokens: 10000 },
    usd: '0.675',
    link: 'https://ai.google.dev/gemini-api/docs/pricing#gemini-2.5-pro',
  },
  // $0.30 in, $2.50 out: 10000×0.3 + 2000×2.5 = 8,000 µ$
  {
    name: 'gemini-2.5-flash',
    provider: 'gemini',
    model: 'gemini-2.5-flash',
    u: { inputTokens: 10000, outputTokens: 2000 },
    usd: '0.008',
    link: 'https://ai.google.dev/gemini-api/docs/pricing#gemini-2.5-flash',
  },
  // Vertex AI, versioned name; $0.10 in, $0.40 out: 20000×0.1 + 1000×0.4 = 2,400 µ$
  {
    name: 'vertex gemini-2.0-flash-001',
    provider: 'vertex_ai',
    model: 'gemini-2.0-flash-001',
    u: { inputTokens: 20000, outputTokens: 1000 },
    usd: '0.0024',
    link: 'https://cloud.google.com/vertex-ai/generative-ai/pricing',
  },
  // $0.59 in, $0.79 out: 10000×0.59 + 2000×0.79 = 7,480 µ$
  {
    name: 'groq llama-3.3-70b-versatile',
    provider: 'groq',
    model: 'llama-3.3-70b-versatile',
    u: { inputTokens: 10000, outputTokens: 2000 },
    usd: '0.00748',
    link: 'https://groq.com/pricing',
  },
  // $2 in, $6 out: 10000×2 + 1000×6 = 26,000 µ$
  {
    name: 'mistral-large-latest',
    provider: 'mistral',
    model: 'mistral-large-latest',
    u: { inputTokens: 10000, outputTokens: 1000 },
    usd: '0.026',
    link: 'https://mistral.ai/pricing#api-pricing',
  },
  // $2.50 in, $10 out: 4000×2.5 + 1000×10 = 20,000 µ$
  {
    name: 'cohere command-r-plus',
    provider: 'cohere',
    model: 'command-r-plus',
    u: { inputTokens: 4000, outputTokens: 1000 },
    usd: '0.02',
    link: 'https://cohere.com/pricing',
  },
  // $0.06 per 1M: 20000×0.06 = 1,200 µ$
  {
    name: 'voyage-3 embedding',
    provider: 'voyage',
    model: 'voyage-3',
    u: { inputTokens: 20000 },
    usd: '0.0012',
    link: 'https://docs.voyageai.com/docs/pricing',
  },
  // $3 in, $15 out: 2000×3 + 500×15 = 13,500 µ$
  {
    name: 'bedrock claude-3-5-sonnet model id',
    provider: 'aws_bedrock',
    model: 'anthropic.claude-3-5-sonnet-20240620-v1:0',
    u: { inputTokens: 2000, outputTokens: 500 },
    usd: '0.0135',
    link: 'https://aws.amazon.com/bedrock/pricing/',
  },
  // Inference-profile ARN; Nova Pro $0.80 in, $3.20 out: 10000×0.8 + 1000×3.2 = 11,200 µ$
  {
    name: 'bedrock nova-pro profile ARN',
    provider: 'aws_bedrock',
    model: 'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-pro-v1:0',
    u: { inputTokens: 10000, outputTokens: 1000 },
    usd: '0.0112',
    link: 'https://aws.amazon.com/bedrock/pricing/',
  },
  // Gemini's image model: 14 in at $0.30, 18 text out at $2.50, one 1024x1024 image (1,290 tokens) at $30 per 1M:
  // 4.2 + 45 + 38,700 = 38,749.2 µ$
  {
    name: 'gemini-2.5-flash-image with a generated image',
    provider: 'gemini',
    model: 'gemini-2.5-flash-image',
    u: { inputTokens: 14, outputTokens: 1308, outputImageTokens: 1290 },
    usd: '0.0387492',
    link: 'https://ai.google.dev/gemini-api/docs/pricing',
  },
  // A global cross-region profile of Claude Haiku 4.5: $1 in, $5 out (a us. or eu. one costs 10% more)
  {
    name: 'bedrock claude-haiku-4-5 global profile',
    provider: 'aws_bedrock',
    model: 'global.anthropic.claude-haiku-4-5-20251001-v1:0',
    u: { inputTokens: 10000, outputTokens: 1000 },
    usd: '0.015',
    link: 'https://aws.amazon.com/bedrock/pricing/',
  },
  // The same model through a geographic (us.) profile: $1.10 in, $5.50 out: 10000×1.1 + 1000×5.5 = 16,500 µ$
  {
    name: 'bedrock claude-haiku-4-5 us profile ARN',
    provider: 'aws_bedrock',
    model: 'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-haiku-4-5-20251001-v1:0',
    u: { inputTokens: 10000, outputTokens: 1000 },
    usd: '0.0165',
    link: 'https://aws.amazon.com/bedrock/pricing/',
  },
  // $2.00 per 1,000 searches: 3 search units = $0.006
  {
    name: 'cohere rerank-v3.5 per search unit',
    provider: 'cohere',
    model: 'rerank-v3.5',
    u: { searchUnits: 3, inputTokens: 5000 },
    usd: '0.006',
    link: 'https://cohere.com/pricing',
  },
  // $0.05 per 1M tokens, usage reported as a total: 12000×0.05 = 600 µ$
  {
    name: 'voyage rerank-2.5 per token',
    provider: 'voyage',
    model: 'rerank-2.5',
    u: { totalTokens: 12000 },
    usd: '0.0006',
    link: 'https://docs.voyageai.com/docs/pricing',
  },
  // Local models cost nothing per token.
  {
    name: 'ollama local model',
    provider: 'ollama',
    model: 'llama3.1',
    u: { inputTokens: 900, outputTokens: 300 },
    usd: '0',
    link: 'https://ollama.com',
  },
];

describe('costPico against hand-checked prices', () => {
  const book = new PriceBook();
  it.each(cases)('$name', ({ provider, model, u, usd }) => {
    const price = book.resolve(provider, model);
    expect(price, `${provider}/${model} has a price`).not.toBeNull();
    expect(costPico(price!, usage(u))).toBe(pico(usd));
  });

  it('agrees with genai-prices’ own calcPrice on every model it prices', () => {
    for (const c of cases) {
      const price = book.resolve(c.provider, c.model)!;
      if (price.source !== 'genai-prices') continue;
      // genai-prices takes a Bedrock profile id as it is, not the ARN around it.
      const model = c.provider === 'aws_bedrock' ? c.model.slice(c.model.lastIndexOf('/') + 1) : c.model;
      const ref = calcPrice(
        {
          input_tokens: c.u.inputTokens ?? c.u.totalTokens ?? 0,
          output_tokens: c.u.outputTokens ?? 0,
          cache_read_tokens: c.u.cachedInputTokens ?? 0,
          cache_write_tokens: c.u.cacheWriteTokens ?? 0,
          ...(c.u.webSearches ? { web_searches: c.u.webSearches } : {}),
          // genai-prices' usage keys for audio: input_audio_tokens includes cache_audio_read_tokens, as ours does.
          input_audio_tokens: c.u.inputAudioTokens ?? 0,
          cache_audio_read_tokens: c.u.cachedAudioTokens ?? 0,
          output_audio_tokens: c.u.outputAudioTokens ?? 0,
          output_image_tokens: c.u.outputImageTokens ?? 0,
          ...(c.u.cacheWrite1hTokens
            ? { cache_write_1h_tokens: c.u.cacheWrite1hTokens, cache_write_5m_tokens: (c.u.cacheWriteTokens ?? 0) - c.u.cacheWrite1hTokens }
            : {}),
        },
        model,
        { providerId: GENAI_PRICES_PROVIDER[c.provider] ?? c.provider },
      );
      expect(ref, c.name).not.toBeNull();
      expect(costPico(price, usage(c.u))! / 1e12).toBeCloseTo(ref!.total_price, 12);
    }
  });
});

describe('costPico of audio tokens', () => {
  const book = new PriceBook();

  it('costs a model without audio prices exactly what the same counts cost without the audio split', () => {
    const calls: [string, string, Partial<BillableUsage>][] = [
      ['openai', 'gpt-4o', { inputTokens: 1000, cachedInputTokens: 200, outputTokens: 500 }],
      ['openai', 'gpt-4o-mini-audio-preview', { inputTokens: 5000, cachedInputTokens: 3000, outputTokens: 900 }],
      ['gemini', 'gemini-2.5-pro', { inputTokens: 300000, cachedInputTokens: 100000, outputTokens: 10000 }],
      ['anthropic', 'claude-sonnet-4-5', { inputTokens: 12000, cachedInputTokens: 8000, cacheWriteTokens: 2000, outputTokens: 1000 }],
    ];
    for (const [provider, model, u] of calls) {
      const price = book.resolve(provider, model)!;
      expect(price.inputAudio, model).toBeUndefined();
      const text = costPico(price, usage(u));
      expect(text).toBeGreaterThan(0);
      const input = u.inputTokens ?? 0;
      const cached = u.cachedInputTokens ?? 0;
      for (const [audio, cachedAudio, spoken] of [
        [input, cached, u.outputTokens ?? 0],
        [Math.floor(input / 2), Math.floor(cached / 3), 1],
        [input - cached, 0, 0],
      ] as const) {
        const withAudio = usage({ ...u, inputAudioTokens: audio, cachedAudioTokens: cachedAudio, outputAudioTokens: spoken });
        expect(costPico(price, withAudio), `${model} ${audio}/${cachedAudio}/${spoken}`).toBe(text);
      }
    }
  });

  it('takes a cached-audio count the provider did not send as the least the other counts allow', () => {
    const realtime = book.resolve('openai', 'gpt-realtime')!;
    // 700 audio in a 1,000-token input of which 600 were cached: at least 300 of the audio came from the cache.
    // 300 cached audio×0.40 + 400 audio×32 + 300 cached text×0.40 = 120 + 12,800 + 120 = 13,040 µ$
    const u = usage({ inputTokens: 1000, cachedInputTokens: 600, inputAudioTokens: 700 });
    expect(costPico(realtime, u)).toBe(pico('0.01304'));
    const ref = calcPrice(
      { input_tokens: 1000, cache_read_tokens: 600, input_audio_tokens: 700, cache_audio_read_tokens: 300 },
      'gpt-realtime',
      {
        providerId: 'openai',
      },
    );
    expect(ref?.total_price).toBeCloseTo(0.01304, 12);
    // Audio that fits in the uncached input is taken as uncached: 200 cached text×0.40 + 500 audio×32 + 300 text×4 = 17,280 µ$
    expect(costPico(realtime, usage({ inputTokens: 1000, cachedInputTokens: 200, inputAudioTokens: 500 }))).toBe(pico('0.01728'));
  });

  it('prices cached audio without a rate of its own at the cache-read rate, else at the audio rate', () => {
    const book = new PriceBook({
      prices: {
        'both-no-cached-audio': { input: 4, output: 16, cachedInput: 0.4, inputAudio: 32 },
        'audio-no-cache': { input: 2.5, output: 10, inputAudio: 32, outputAudio: 64 },
        'all-audio': { input: 4, output: 16, cachedInput: 0.4, inputAudio: 32, cachedAudio: 0.1, outputAudio: 64 },
      },
    });
    const u = usage({ inputTokens: 1000, cachedInputTokens: 500, inputAudioTokens: 500, cachedAudioTokens: 500, outputTokens: 0 });
    // 500 cached audio at $0.40 (the cache discount) + 500 text at $4 = 2,200 µ$
    expect(costPico(book.resolve('acme', 'both-no-cached-audio')!, u)).toBe(pico('0.0022'));
    // No cache price: cached audio is audio, 500×32 + 500×2.5 = 17,250 µ$
    expect(costPico(book.resolve('acme', 'audio-no-cache')!, u)).toBe(pico('0.01725'));
    // Its own price: 500×0.1 + 500×4 = 2,050 µ$
    expect(costPico(book.resolve('acme', 'all-audio')!, u)).toBe(pico('0.00205'));
    expect(book.resolve('acme', 'all-audio')).toMatchObject({
      inputAudio: { base: 32_000_000 },
      cacheAudioRead: { base: 100_000 },
      outputAudio: { base: 64_000_000 },
    });
  });
});

describe('costPico of a processing tier', () => {
  const book = new PriceBook();
  // gpt-4o: 86 fresh at $2.50, 1,920 cached at $1.25, 300 output at $10 per 1M = $0.005615 standard.
  const u = usage({ inputTokens: 2006, cachedInputTokens: 1920, outputTokens: 300 });

  it('halves an OpenAI or Azure OpenAI flex call, cached tokens included, but not its web searches', () => {
    expect(costPico(book.resolve('openai', 'gpt-4o')!, u)).toBe(pico('0.005615'));
    expect(costPico(book.resolve('openai', 'gpt-4o')!, u, 'flex')).toBe(pico('0.0028075'));
    expect(costPico(book.resolve('azure_openai', 'gpt-4o')!, u, 'flex')).toBe(pico('0.0028075'));
    // One web search at $10 per 1,000 keeps its price.
    const searched = usage({ ...u, webSearches: 1 });
    expect(costPico(book.resolve('openai', 'gpt-4o')!, searched, 'flex')).toBe(pico('0.0128075'));
  });

  it('leaves other tiers and other providers at the standard rates', () => {
    expect(costPico(book.resolve('openai', 'gpt-4o')!, u, 'priority')).toBe(pico('0.005615'));
    // Groq's flex tier costs what its on-demand one does.
    const groq = book.resolve('groq', 'llama-3.3-70b-versatile')!;
    expect(costPico(groq, u, 'flex')).toBe(costPico(groq, u));
  });
});

describe('costPico split into input and output cost', () => {
  const book = new PriceBook();
  const split = (): CostSplit => ({ inputPico: -1, outputPico: -1 });

  it('puts every input-side count on the input side and every generated one on the output side', () => {
    // gpt-4o: 800 fresh × $2.50 + 200 cached × $1.25 = 2,250 µ$ in; 500 out × $10 = 5,000 µ$ out.
    const s = split();
    const total = costPico(
      book.resolve('openai', 'gpt-4o')!,
      usage({ inputTokens: 1000, cachedInputTokens: 200, outputTokens: 500 }),
      undefined,
      s,
    );
    expect(s).toEqual({ inputPico: pico('0.00225'), outputPico: pico('0.005') });
    expect(total).toBe(s.inputPico + s.outputPico);
    // Audio at its own rates on each side: 20×2.5 + 44×32 = 1,458 µ$ in, 9×10 + 47×64 = 3,098 µ$ out.
    const audio = split();
    costPico(
      book.resolve('openai', 'gpt-audio-2025-08-28')!,
      usage({ inputTokens: 64, inputAudioTokens: 44, outputTokens: 56, outputAudioTokens: 47 }),
      undefined,
      audio,
    );
    expect(audio).toEqual({ inputPico: pico('0.001458'), outputPico: pico('0.003098') });
  });

  it('puts per-search fees on the input side: web searches, and a rerank’s search units', () => {
    // claude-sonnet-4-5: 6039 in × $3 + 2 searches × $0.01 = 38,117 µ$; 931 out × $15 = 13,965 µ$.
    const s = split();
    costPico(
      book.resolve('anthropic', 'claude-sonnet-4-5-20250929')!,
      usage({ inputTokens: 6039, outputTokens: 931, webSearches: 2 }),
      undefined,
      s,
    );
    expect(s).toEqual({ inputPico: pico('0.038117'), outputPico: pico('0.013965') });
    const rerank = split();
    const total = costPico(book.resolve('cohere', 'rerank-v3.5')!, usage({ searchUnits: 3 }), undefined, rerank);
    expect(rerank).toEqual({ inputPico: total, outputPico: 0 });
    expect(total).toBeGreaterThan(0);
  });

  it('halves both sides of a flex call and still adds up to its cost, to the picodollar', () => {
    // 86 fresh × $2.50 + 1,920 cached × $1.25 = 2,615 µ$ in, 301 out × $10 = 3,010 µ$ out; halved.
    const u = usage({ inputTokens: 2006, cachedInputTokens: 1920, outputTokens: 301 });
    const s = split();
    const total = costPico(book.resolve('openai', 'gpt-4o')!, u, 'flex', s) as number;
    expect(s.outputPico).toBe(pico('0.00301') / 2);
    expect(s.inputPico + s.outputPico).toBe(total);
    expect(total).toBe(pico('0.005625') / 2);
  });

  it('leaves the split as it was when the cost is unknown', () => {
    const s = split();
    expect(costPico(book.resolve('openai', 'gpt-4o')!, usage({ outputTokens: 5 }), undefined, s)).toBeNull();
    expect(s).toEqual({ inputPico: -1, outputPico: -1 });
  });
});

describe('costPico when cost cannot be known', () => {
  const book = new PriceBook();
  it('is null when the usage is unknown, but 0 for a failed call that reports none', () => {
    const p = book.resolve('openai', 'gpt-4o')!;
    expect(costPico(p, usage({}))).toBeNull();
    expect(costPico(p, usage({ error: true }))).toBe(0);
  });
  it('is null when the model bills usage it has no price for', () => {
    const embed = book.resolve('openai', 'text-embedding-3-small')!;
    expect(costPico(embed, usage({ inputTokens: 10, outputTokens: 5 }))).toBeNull();
    const rerank = book.resolve('cohere', 'rerank-v3.5')!;
    expect(costPico(rerank, usage({ inputTokens: 100 }))).toBeNull();
  });
  it('has no price for a model nobody knows', () => {
    expect(book.resolve('acme', 'acme-llm-9000')).toBeNull();
  });
});

describe('PriceBook', () => {
  it('resolves a model once and keeps it', () => {
    const book = new PriceBook();
    const first = book.resolve('openai', 'gpt-4o');
    expect(book.resolve('openai', 'gpt-4o')).toBe(first);
  });

  it('gives each provider and model its own price when calls alternate between them', () => {
    const book = new PriceBook({ prices: { 'azure_openai/gpt-4o': { input: 3, output: 4 } } });
    for (let i = 0; i < 3; i++) {
      expect(book.resolve('openai', 'gpt-4o')?.source).toBe('genai-prices');
      expect(book.resolve('azure_openai', 'gpt-4o')).toMatchObject({ source: 'override', input: { base: 3_000_000 } });
      expect(book.resolve('openai', 'gpt-4o-mini')?.matchedModel).toBe('gpt-4o-mini');
      expect(book.resolve('openai', 'unknown-model-x')).toBeNull();
    }
  });

  it('lets code override the bundled price, by model or by provider/model, and config after code', () => {
    const book = new PriceBook({
      prices: { 'gpt-4o': { input: 1, output: 2 }, 'azure_openai/gpt-4o': { input: 3, output: 4, cachedInput: 0.5 } },
      configPrices: { 'gpt-4o': { input: 100, output: 100 }, 'my-ft': { input: 7, output: 8, cacheWrite: 9, searchUnit: 0.01 } },
    });
    expect(book.resolve('openai', 'gpt-4o')).toMatchObject({ source: 'override', input: { base: 1_000_000 }, output: { base: 2_000_000 } });
    expect(book.resolve('azure_openai', 'gpt-4o')).toMatchObject({ source: 'override', cacheRead: { base: 500_000 } });
    expect(book.resolve('acme', 'my-ft')).toMatchObject({
      source: 'config',
      cacheWrite: { base: 9_000_000 },
      perSearchUnit: 10_000_000_000,
    });
  });

  it('sees a price set later and stops using the cached one', () => {
    const book = new PriceBook();
    expect(book.resolve('acme', 'private-model')).toBeNull();
    const v = book.version;
    book.setPrice('private-model', { input: 0.5, output: 1.5 });
    expect(book.version).toBe(v + 1);
    expect(costPico(book.resolve('acme', 'private-model')!, usage({ inputTokens: 2_000_000, outputTokens: 1_000_000 }))).toBe(pico('2.5'));
  });

  it('rejects a bad price, naming it', () => {
    expect(() => new PriceBook({ prices: { x: { input: -1 } } })).toThrow(ValidationError);
    expect(() => new PriceBook({ prices: { x: { input: -1 } } })).toThrow('Invalid prices["x"].input: -1');
    expect(() => new PriceBook({ prices: { x: { inptu: 1 } as never } })).toThrow('Invalid prices["x"].inptu');
    expect(() => new PriceBook().setPrice('y', {})).toThrow('names no price');
  });

  it('follows dated price changes: o3 before and after its June 2025 price cut', () => {
    const book = new PriceBook();
    const before = book.resolve('openai', 'o3', Date.UTC(2025, 5, 1))!;
    // https://openai.com/api/pricing/ : o3 was $10 in / $40 out until 10 June 2025, then $2 / $8.
    expect(before.input?.base).toBe(10_000_000);
    expect(before.expiresAt).toBe(Date.parse('2025-06-10'));
    const after = book.resolve('openai', 'o3', Date.UTC(2025, 5, 11))!;
    expect(after.input?.base).toBe(2_000_000);
    expect(after.output?.base).toBe(8_000_000);
  });
});
