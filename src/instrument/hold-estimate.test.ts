import { Tiktoken } from 'js-tiktoken/lite';
import o200k_base from 'js-tiktoken/ranks/o200k_base';
import { describe, expect, it } from 'vitest';
import { loadTiktoken } from './estimate.ts';
import { holdCountsSettled, holdTokenizerLoaded, preloadHoldTokenizer } from './exact-counts.ts';
import { estimateInputTokens } from './hold-estimate.ts';
import { imageRuleFor } from './image-tokens.ts';
import { scriptTokens } from './script-tokens.ts';

const o200k = new Tiktoken(o200k_base);
const count = (s: string) => o200k.encode(s, [], []).length;

/** The header of a PNG of `width` x `height`, padded to a real file's length, base64. */
function png(width: number, height: number): string {
  const b = Buffer.alloc(20_000);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]).copy(b, 0);
  b.write('IHDR', 12, 'latin1');
  b.writeUInt32BE(width, 16);
  b.writeUInt32BE(height, 20);
  return b.toString('base64');
}

const ZH =
  '本季度公司营业收入同比增长百分之十二，主要来自华东地区的新合同和线上渠道的扩张。成本方面，原材料价格基本持平，但物流费用上升了百分之七。';
const JA = '今四半期の売上高は前年同期比で一二パーセント増加しました。主な要因は関東地域での新規契約とオンライン販売の拡大です。';
const KO = '이번 분기 매출은 전년 동기 대비 12% 증가했습니다. 주요 원인은 수도권 지역의 신규 계약과 온라인 판매 확대입니다.';
const EN = 'Revenue grew 12% on the year, driven by new contracts in the east and growth in online sales; logistics costs rose 7%.';

describe('scriptTokens', () => {
  it.each([
    ['Chinese', ZH],
    ['Japanese', JA],
    ['Korean', KO],
    ['English', EN],
    ['code', 'export function f(a: number): string { return String(a).padStart(8, "0"); } // 0x1f2e3d4c5b6a'],
    ['an id', 'sk-proj-3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a'],
    ['emoji', '🎉🚀✨🙂👍🏽 done'],
  ])('is at least o200k_base count of %s text, and within 2.5x of it', (_, text) => {
    const t = count(text);
    expect(scriptTokens(text)).toBeGreaterThanOrEqual(t);
    expect(scriptTokens(text)).toBeLessThanOrEqual(2.5 * t);
  });

  it('estimates a long text from windows spread over it, still at least its count', () => {
    // Paragraphs of English, Chinese, Japanese and Korean in turn, about 12,000 characters (a
    // newline ends each paragraph's tokens, so the whole counts as the sum of its paragraphs).
    const paragraphs = [EN, ZH, JA, KO].map((p) => `${p}\n`);
    const text = paragraphs.join('').repeat(40);
    expect(text.length).toBeGreaterThan(8192);
    const tokens = 40 * paragraphs.reduce((n, p) => n + count(p), 0);
    expect(scriptTokens(text)).toBeGreaterThanOrEqual(tokens);
    expect(scriptTokens(text)).toBeLessThanOrEqual(2 * tokens);
  });
});

describe('estimateInputTokens', () => {
  const png1024 = png(1024, 1024);
  const png1000 = png(1000, 1000);
  // Each shape once with its image and once without: the difference is the image's tokens by its
  // rule, and the part's own framing (3) where the image is a part of its own.
  it.each([
    [
      'OpenAI chat image_url, detail low',
      'openai',
      'gpt-4o',
      (img: boolean) => ({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is this?' },
              ...(img ? [{ type: 'image_url', image_url: { url: `data:image/png;base64,${png1024}`, detail: 'low' } }] : []),
            ],
          },
        ],
      }),
      85 + 3,
    ],
    [
      'OpenAI chat image_url by URL (size unknown)',
      'openai',
      'gpt-4o',
      (img: boolean) => ({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is this?' },
              ...(img ? [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] : []),
            ],
          },
        ],
      }),
      85 + 170 * 8 + 3,
    ],
    [
      'Responses input_image',
      'openai',
      'gpt-4.1',
      (img: boolean) => ({
        input: [
          {
            role: 'user',
            content: [
              { type: 'input_text', text: 'What is this?' },
              ...(img ? [{ type: 'input_image', image_url: `data:image/png;base64,${png1024}`, detail: 'high' }] : []),
            ],
          },
        ],
      }),
      765 + 3,
    ],
    [
      'Anthropic base64 image block',
      'anthropic',
      'claude-sonnet-4-5',
      (img: boolean) => ({
        messages: [
          {
            role: 'user',
            content: [
              ...(img ? [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: png1000 } }] : []),
              { type: 'text', text: 'What is this?' },
            ],
          },
        ],
      }),
      1334 + 3,
    ],
    [
      'Anthropic URL image block',
      'anthropic',
      'claude-sonnet-4-5',
      (img: boolean) => ({
        messages: [
          {
            role: 'user',
            content: [
              ...(img ? [{ type: 'image', source: { type: 'url', url: 'https://example.com/a.jpg' } }] : []),
              { type: 'text', text: 'What is this?' },
            ],
          },
        ],
      }),
      1600 + 3,
    ],
    [
      'Gemini inlineData',
      'gemini',
      'gemini-2.5-flash',
      (img: boolean) => ({
        contents: [
          { role: 'user', parts: [{ text: 'What is this?' }, ...(img ? [{ inlineData: { mimeType: 'image/png', data: png1024 } }] : [])] },
        ],
      }),
      258 * 4 + 3,
    ],
    [
      'Gemini fileData (size unknown)',
      'gemini',
      'gemini-2.5-flash',
      (img: boolean) => ({
        contents: [
          {
            role: 'user',
            parts: [{ text: 'What is this?' }, ...(img ? [{ fileData: { mimeType: 'image/jpeg', fileUri: 'gs://b/a.jpg' } }] : [])],
          },
        ],
      }),
      258 * 24 + 3,
    ],
    [
      'Bedrock Converse image bytes',
      'aws_bedrock',
      'anthropic.claude-3-5-sonnet-20241022-v2:0',
      (img: boolean) => ({
        messages: [
          {
            role: 'user',
            content: [
              { text: 'What is this?' },
              ...(img ? [{ image: { format: 'png', source: { bytes: Buffer.from(png1000, 'base64') } } }] : []),
            ],
          },
        ],
      }),
      1334 + 3,
    ],
    [
      'Ollama images',
      'ollama',
      'llava',
      (img: boolean) => ({ messages: [{ role: 'user', content: 'What is this?', ...(img ? { images: [png1024] } : {}) }] }),
      imageRuleFor('ollama', 'llava')({ width: 1024, height: 1024 }, undefined),
    ],
    [
      'Mistral imageUrl',
      'mistral',
      'pixtral-12b-2409',
      (img: boolean) => ({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is this?' },
              ...(img ? [{ type: 'image_url', imageUrl: `data:image/png;base64,${png1024}` }] : []),
            ],
          },
        ],
      }),
      64 * 64 + 64 + 3,
    ],
  ])('%s', (_, provider, model, body, tokens) => {
    const withImage = estimateInputTokens(provider, model, body(true));
    const without = estimateInputTokens(provider, model, body(false));
    expect(withImage - without).toBe(tokens);
  });

  it('counts long CJK text without spaces as text, not as base64', () => {
    const text = ZH.repeat(80);
    expect(text.length).toBeGreaterThan(4096);
    expect(estimateInputTokens('openai', 'gpt-4o', { messages: [{ role: 'user', content: text }] })).toBeGreaterThanOrEqual(count(text));
  });

  it("reads a Bedrock InvokeModel body's JSON", () => {
    const body = new TextEncoder().encode(JSON.stringify({ messages: [{ role: 'user', content: ZH.repeat(10) }], max_tokens: 10 }));
    expect(
      estimateInputTokens('aws_bedrock', 'anthropic.claude-3-haiku', { modelId: 'anthropic.claude-3-haiku', body }),
    ).toBeGreaterThanOrEqual(count(ZH.repeat(10)));
  });

  it('counts a text seen before exactly once js-tiktoken is loaded, for OpenAI models only', async () => {
    const system = `${EN} ${ZH}`.repeat(4);
    const body = { messages: [{ role: 'system', content: system }] };
    const before = estimateInputTokens('openai', 'gpt-4o', body);
    await preloadHoldTokenizer(loadTiktoken);
    expect(holdTokenizerLoaded()).toBe(true);
    // First sighting: the script estimate, and the text is queued for counting off the caller's path.
    expect(estimateInputTokens('openai', 'gpt-4o', body)).toBe(before);
    await holdCountsSettled();
    const after = estimateInputTokens('openai', 'gpt-4o', body);
    expect(after).toBeLessThan(before);
    // The exact count (pieces of 2,048 characters add at most a few tokens) with the same framing.
    const framing = before - Math.ceil(scriptTokens(system) + scriptTokens('system'));
    expect(after - framing - Math.ceil(scriptTokens('system'))).toBeGreaterThanOrEqual(count(system) - 1);
    expect(after - framing - Math.ceil(scriptTokens('system'))).toBeLessThanOrEqual(count(system) + 4);
    // Claude's tokenizer is not o200k_base: its hold stays the script estimate.
    expect(estimateInputTokens('anthropic', 'claude-sonnet-4-5', body)).toBe(before);
  }, 30_000);
});
